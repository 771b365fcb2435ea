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
from dip_jax import driver
from dip_jax import evaluate
from dip_jax import methods
from dip_jax import operators
from dip_jax import problem as problem_lib
from dip_jax.errors import InputError
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
      raise InputError(f"unknown config key {key!r}") from None
    except TypeError as e:
      raise InputError(f"config key {key!r}: {e}") from None
  return cfg


def _as_measurement(y):
  """y as float32 (or complex64) numpy leaves; an H x W image gets a channel
  axis. Non-finite values are refused."""
  if y is None:
    return None

  def leaf(a):
    a = np.asarray(a)
    a = a.astype(np.complex64 if np.iscomplexobj(a) else np.float32)
    if not np.all(np.isfinite(a)):
      raise InputError("the observation has non-finite values")
    return a
  y = jax.tree.map(leaf, y)
  if isinstance(y, np.ndarray) and y.ndim == 2:
    y = y[..., None]
  return y


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
                **overrides) -> methods.Result:
  """Reconstructs x from y = A(x) (+ noise) with a method of the registry.

  Args:
    y: the observation: an H' x W' (x C) image, any pytree of arrays the
      operator produces (complex allowed), or None for an objective alone.
    operator: an `operators.Operator` (default: identity).
    method: "dip", "tv", "bicubic", or any registered method.
    objective: a name of `objectives.OBJECTIVES` ("mse", "l1", "poisson",
      "amplitude") or a function (x, ax, y, weights) -> scalar to minimise.
    weights: per-measurement weights for the objective (an inpainting mask,
      1 = observed); default the operator's own.
    clean: the ground truth, if known: scores go into `result.info`.
    in_shape: (H, W, C) of x when neither the operator nor y tells it.
    config: a base ConfigDict (e.g. a task config); `overrides` apply on top.
    progress: print progress lines (to `stream`, default stdout).
    **overrides: config keys, e.g. num_steps=500, seed=1,
      `**{"net.width": 16}`.

  Returns:
    methods.Result: reconstruction (H x W x C numpy), history, state, info.
  """
  cfg = make_config(config, **overrides)
  cfg.prior = method
  problem = _problem(y, operator, objective, weights, clean, in_shape)
  prepared = methods.prepare(method, problem, cfg)
  hooks = driver.Hooks(stream=stream, progress=progress,
                       log_every=int(cfg.log_every),
                       eta_warning_minutes=float(cfg.eta_warning_minutes),
                       quick_hint=cfg.quick_hint)
  result = methods.get(method)(problem, cfg, hooks, **prepared)
  result.info.update(evaluate.score(problem, result.reconstruction))
  return result


def reconstruct_batch(ys, operator=None, *, objective="mse", weights=None,
                      clean=None, config=None, progress: bool = False,
                      stream=None, **overrides) -> list:
  """DIP on many observations of one task at once: B fits in one compiled
  program (dip_jax/batch.py), each exactly its own `reconstruct(y, ...,
  method="dip")` (same seed, same keys), which is what fills an
  accelerator with small images.

  Args:
    ys: a list of B observations of one shape.
    operator, objective: shared by every image (default: identity, "mse").
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
  cfg = make_config(config, **overrides)
  if cfg.prior != "dip":
    raise InputError(f"reconstruct_batch fits DIP only, but the config's "
                     f"prior is {cfg.prior!r}")
  problems = [_problem(y, operator, objective, w, c, None)
              for y, w, c in zip(ys, weights, clean)]
  say = (lambda text: print(text, file=stream, flush=True)) if progress else None
  results = dip_method.solve_batch(problems, cfg, say)
  for problem, result in zip(problems, results):
    result.info.update(evaluate.score(problem, result.reconstruction))
  return results


def _problem(y, operator, objective, weights, clean, in_shape):
  """The Problem of one observation, refused in one line when y, clean or
  the operator do not fit together."""
  op = operators.identity() if operator is None else operator
  if not isinstance(op, operators.Operator):
    raise InputError(f"operator must be a dip_jax.operators.Operator, got "
                     f"{type(op).__name__} (wrap a function with "
                     f"operators.Operator(apply=fn, in_shape=...))")
  y = _as_measurement(y)
  shape = tuple(in_shape) if in_shape is not None else op.input_shape(y)
  if y is not None:
    y = _check_measurement(y, op, shape)
  if clean is not None:
    clean = np.asarray(clean, np.float32)
    clean = clean[..., None] if clean.ndim == 2 else clean
    if clean.shape != shape:
      raise InputError(f"clean image is {clean.shape} but x is {shape}")
  return problem_lib.Problem(
      observed=y, clean=clean,
      mask=None if weights is None else np.asarray(weights, np.float32),
      out_shape=shape, operator=op, objective=objective)
