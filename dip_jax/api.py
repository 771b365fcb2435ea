"""The Python API: arrays in, arrays out, no workdir.

  import dip_jax
  from dip_jax import operators
  result = dip_jax.reconstruct(y, operators.downsample(4), method="dip",
                               num_steps=2000, **{"net.width": 32})
  result.reconstruction  # H x W x C float32 numpy array

Every keyword is a config key of `config_lib.base_config()` (dotted keys in a
`**{...}` dict, or `net__width=32`), so what the CLI's config files set can be
set here, and unknown keys are refused. The CLI (`run.reconstruct`) is a
layer over the same problem -> method -> result path that adds a workdir.
"""

import jax
import ml_collections
import numpy as np

from dip_jax import config_lib
from dip_jax import methods
from dip_jax import metrics
from dip_jax import operators
from dip_jax import problem as problem_lib
from dip_jax.errors import InputError, numeric_array
from dip_jax.fit import driver
from dip_jax.methods import dip as dip_method


def make_config(config=None, **overrides) -> ml_collections.ConfigDict:
  """`config` (default: base_config()) with `overrides` applied; a key that
  is not in the config is refused with one line."""
  cfg = config_lib.base_config() if config is None else config.copy_and_resolve_references()
  cfg.lock()
  flat = {k.replace("__", "."): v for k, v in overrides.items()}
  for key, value in flat.items():
    try:
      cfg.update_from_flattened_dict({key: value})
    except (AttributeError, KeyError):
      raise InputError(config_lib.unknown_key_line(key)) from None
    except TypeError as e:
      raise InputError(f"config key {key!r}: {e}") from None
  return cfg


# Objectives whose y is counts or intensities, not an image: integer y is
# taken as the numbers it holds, not scaled to [0, 1].
_COUNT_OBJECTIVES = ("poisson", "amplitude")


def _as_float(a, what: str, scale_integers: bool = True) -> np.ndarray:
  """An image as float32 (complex64 kept), as scikit-image's img_as_float
  gives it: unsigned integers scaled to [0, 1] by their type's maximum
  (uint8 / 255, uint16 / 65535), bool as 0 / 1. Signed integers are
  refused (they have no such scale); with scale_integers=False (counts)
  integers are taken as they are. Non-finite values are refused."""
  a = numeric_array(a, what)
  if np.issubdtype(a.dtype, np.integer) and scale_integers:
    if not np.issubdtype(a.dtype, np.unsignedinteger):
      raise InputError(f"{what} has dtype {a.dtype}; give floats in "
                       f"[0, 1] or uint8 / uint16 (scaled to [0, 1])")
    a = a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max)
  a = a.astype(np.complex64 if np.iscomplexobj(a) else np.float32)
  if not np.all(np.isfinite(a)):
    raise InputError(f"{what} has non-finite values")
  return a


def _as_measurement(y, objective="mse"):
  """y as float32 (or complex64) numpy leaves (`_as_float`: integer images
  scaled to [0, 1], integer counts of the poisson and amplitude objectives
  kept); an H x W image gets a channel axis. Non-finite values are
  refused."""
  if y is None:
    return None
  counts = isinstance(objective, str) and objective in _COUNT_OBJECTIVES
  y = jax.tree.map(
      lambda a: _as_float(a, "the observation", scale_integers=not counts), y)
  if isinstance(y, np.ndarray) and y.ndim == 2:
    y = y[..., None]
  return y


def _check_weights(weights, op, shape, y, what: str):
  """`weights` as float32, checked against the measurement A gives for an x
  of `shape` (the one y was checked against): each must broadcast to its
  measurement without growing it (an H x W mask gets a channel axis).
  One line naming both shapes when it does not."""
  spec = op.out_spec(shape)
  measured = "y" if y is not None else "A x"
  if hasattr(spec, "shape"):
    w = operators.as_weights(weights, what)
    checked = _fit_weights(w, tuple(spec.shape[1:]))
    if checked is None:
      raise InputError(f"{what} of shape {w.shape} cannot weight the "
                       f"measurement ({measured}) of shape "
                       f"{tuple(spec.shape[1:])}")
    return checked
  leaves, tree = jax.tree.flatten(weights)
  spec_leaves, spec_tree = jax.tree.flatten(spec)
  if tree == spec_tree:
    checked = [_fit_weights(operators.as_weights(w, what),
                            tuple(s.shape[1:]))
               for w, s in zip(leaves, spec_leaves)]
    if all(c is not None for c in checked):
      return jax.tree.unflatten(tree, checked)
  raise InputError(
      f"{what} of shape {jax.tree.map(np.shape, weights)} cannot weight "
      f"the measurement ({measured}) of shape "
      f"{jax.tree.map(lambda s: tuple(s.shape[1:]), spec)}")


def _fit_weights(w, expected):
  """w as it multiplies a measurement of shape `expected`, or None."""
  if w.ndim == len(expected) - 1 and w.shape == expected[:-1]:
    w = w[..., None]
  try:
    return w if np.broadcast_shapes(w.shape, expected) == expected else None
  except ValueError:
    return None


def _method_config(method, config, overrides: dict):
  """The config of a call: `config` with `overrides`, its method `method`
  (checked first). `method` is a keyword of its own, so no override can
  name it; the old key `prior` gets make_config's one line."""
  _check_method(method)
  cfg = make_config(config, **overrides)
  cfg.method = method
  return cfg


def _check_method(method) -> None:
  """One line for a method the registry does not hold."""
  try:
    methods.get(str(method))
  except InputError:
    pass
  else:
    if isinstance(method, str):
      return
  raise InputError(f"unknown method {method!r}; known: "
                   f"{sorted(methods.METHODS)}")


def _check_measurement(y, op, shape):
  """y as A gives it for an x of `shape`, or one line when it is not (a
  stack of the wrong size, a tuple where an array is due). An H x W image
  given a channel axis above, where A gives H x W, gets it removed."""
  expected = jax.tree.map(lambda s: tuple(s.shape[1:]), op.out_spec(shape))
  if (isinstance(y, np.ndarray) and isinstance(expected, tuple)
      and y.shape == (*expected, 1)):
    y = y[..., 0]
  got = jax.tree.map(np.shape, y)
  if (jax.tree.structure(expected) != jax.tree.structure(got)
      or jax.tree.leaves(expected) != jax.tree.leaves(got)):
    raise InputError(f"the observation has shape {got} but operator "
                     f"{op.name!r} gives {expected} for x of shape {shape}")
  return y


def reconstruct(y=None, operator=None, method: str = "dip", *,
                objective="mse", weights=None, clean=None, in_shape=None,
                config=None, progress: bool = False, stream=None,
                metrics_path: str | None = None,
                **overrides) -> methods.Result:
  """Reconstructs x from y = A(x) (+ noise) with a method of the registry.

  Everything given is checked before anything is compiled, each problem
  in one line (InputError): y against the operator, weights (and an
  operator's own mask) against y's shape, clean against x's shape.

  Args:
    y: the observation: an H' x W' (x C) image, any pytree of arrays the
      operator produces (complex allowed), or None for an objective alone.
      Floats are taken as they are (an image in [0, 1]); integer images
      are converted as scikit-image's `img_as_float` does: uint8 / 255,
      uint16 / 65535 (what `np.asarray(Image.open(...))` and
      `skimage.data` give), bool as 0 / 1; signed integers are refused.
      For the "poisson" and "amplitude" objectives y is counts or
      intensities, and integers are taken as the numbers they are.
    operator: an `operators.Operator` (default: identity).
    method: "dip", "tv", "bicubic", or any registered method.
    objective: a name of `objectives.OBJECTIVES` ("mse", "l1", "poisson",
      "amplitude") or a function (x, ax, y, weights) -> scalar to minimise.
    weights: per-measurement weights for the objective (an inpainting mask,
      1 = observed); default the operator's own. Each must broadcast to its
      measurement's shape (an H x W mask to H x W x C); bool and 0 / 1
      integer masks are taken as 0 / 1, a uint8 mask image (0 / 255) is
      scaled to [0, 1].
    clean: the ground truth, if known: scores go into `result.info`.
      Converted as y is; its shape must be x's.
    in_shape: (H, W, C) of x when neither the operator nor y tells it.
    config: a base ConfigDict (e.g. a task config); `overrides` apply on top.
    progress: print progress lines (to `stream`, default stdout).
    metrics_path: a file to write one JSON line to every `log_every` steps
      (the step, its metrics, the seconds since the fit began), as a CLI
      run's metrics.jsonl: the PSNR against time, e.g. for
      benchmarks/time_to_quality.py.
    **overrides: config keys, e.g. num_steps=500, seed=1,
      `**{"net.width": 16}`.

  Returns:
    methods.Result: reconstruction (H x W x C numpy), history, state, info.
  """
  cfg = _method_config(method, config, overrides)
  problem = _problem(y, operator, objective, weights, clean, in_shape)
  prepared = methods.prepare(method, problem, cfg)
  hooks = driver.Hooks(stream=stream, progress=progress,
                       metrics_path=metrics_path, log_every=int(cfg.log_every),
                       eta_warning_minutes=float(cfg.eta_warning_minutes),
                       quick_hint=cfg.quick_hint)
  result = methods.get(method)(problem, cfg, hooks, **prepared)
  result.info.update(metrics.score(problem, result.reconstruction))
  return result


def reconstruct_batch(ys, operator=None, *, method: str = "dip",
                      objective="mse", weights=None,
                      clean=None, config=None, progress: bool = False,
                      stream=None, **overrides) -> list:
  """A DIP-based method on many observations of one task at once: B fits in
  one compiled program (dip_jax/fit/batch.py), each exactly its own
  `reconstruct(y, ..., method=method)` (same seed, same keys), which is
  what fills an accelerator with small images.

  Args:
    ys: a list of B observations of one shape.
    operator, objective: shared by every image (default: identity, "mse").
    method: a method that is one DIP fit ("dip", "sgld", "deepred",
      "aseqdip"; `methods.batches(name)` says).
    weights, clean: None or a list of B (per-image masks, ground truths).
    config: as `reconstruct`.
    **overrides: as `reconstruct`.
    progress: one line per dispatched chunk (to `stream`).

  Returns:
    a list of B methods.Result, in the order of `ys`.
  """
  ys = list(ys)
  if not ys:
    raise InputError("reconstruct_batch needs at least one observation")
  per_image = lambda v: [None] * len(ys) if v is None else list(v)
  weights, clean = per_image(weights), per_image(clean)
  for name, v in (("weights", weights), ("clean", clean)):
    if len(v) != len(ys):
      raise InputError(f"{name} has {len(v)} entries for {len(ys)} "
                       f"observations")
  cfg = _method_config(method, config, overrides)
  if not methods.batches(cfg.method):
    known = ", ".join(sorted(methods.BATCHED))
    raise InputError(f"reconstruct_batch fits {known} only, but the "
                     f"config's method is {cfg.method!r}")
  problems = [_problem(y, operator, objective, w, c, None)
              for y, w, c in zip(ys, weights, clean)]
  say = (lambda text: print(text, file=stream, flush=True)) if progress else None
  results = dip_method.solve_batch(problems, cfg, say, method=cfg.method)
  for problem, result in zip(problems, results):
    result.info.update(metrics.score(problem, result.reconstruction))
  return results


def _problem(y, operator, objective, weights, clean, in_shape):
  """The Problem of one observation, refused in one line when y, clean or
  the operator do not fit together."""
  op = operators.identity() if operator is None else operator
  if not isinstance(op, operators.Operator):
    raise InputError(f"operator must be a dip_jax.operators.Operator, got "
                     f"{type(op).__name__} (wrap a function with "
                     f"operators.Operator(apply=fn, in_shape=...))")
  y = _as_measurement(y, objective)
  shape = tuple(in_shape) if in_shape is not None else op.input_shape(y)
  if y is not None:
    y = _check_measurement(y, op, shape)
  if weights is not None:
    weights = _check_weights(weights, op, shape, y, "weights")
  elif op.weights is not None:
    # The operator's own (operators.inpainting(mask)): checked as well, so
    # a mask of another size is named here, not by a failed broadcast.
    weights = _check_weights(op.weights, op, shape, y,
                             f"the mask (weights) of operator {op.name!r}")
  if clean is not None:
    clean = _as_float(clean, "the clean image")
    clean = clean[..., None] if clean.ndim == 2 else clean
    if np.iscomplexobj(clean):
      raise InputError("the clean image is complex; x is a real image")
    if clean.shape != shape:
      raise InputError(f"the clean image has shape {clean.shape} but x has "
                       f"shape {shape}")
  return problem_lib.Problem(
      observed=y, clean=clean, mask=weights, out_shape=shape, operator=op,
      objective=objective)
