"""The DIP fit's one step: theta* = argmin_theta d(y, A f_theta(z)).

One pure step closes over the net, the operator A, the data term d, the
optimizer (`fit/optim.py`) and the watchers (`fit/watchers/`); `lax.scan`
runs a chunk of steps per dispatch so Python costs nothing per step, and
the jitted chunk donates the fit state. Everything the fit carries is in
`FitState` (a pytree), so restarts can vmap it, meshes can shard it and
checkpoints can save it. The step knows no method and no watcher by name:
a method is a set of watchers, objective terms and optimizer settings.

Keys: the config seed is split once into (init, input, loop) keys; the step
derives its input perturbation from fold_in(loop_key, step) and the
optimizer's `noise_key` from fold_in(fold_in(loop_key, step), 1), so a run
resumed from a saved state replays the same steps.
"""

import dataclasses
import functools
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax

from dip_jax import config_lib
from dip_jax import metrics
from dip_jax import objectives
from dip_jax import operators
from dip_jax.fit import optim
from dip_jax.fit import restarts
from dip_jax.fit import watchers as watchers_lib


@flax.struct.dataclass
class FitState:
  params: Any
  opt_state: Any
  step: jax.Array            # int32: steps taken so far
  out: jax.Array             # last output f(z + noise), image-sized
  watch: dict                # watcher name -> its state


@dataclasses.dataclass(frozen=True)
class FitSpec:
  """Everything static about a fit (hashable parts of the program)."""
  net: Any                    # flax module
  operator: Callable          # A: N x H x W x C image -> measurement
  objective: Callable         # (x, A x, y, weights) -> scalar to minimise
  optim: optim.OptimSettings  # the optimizer (`optim.make`)
  reg_noise_std: float
  crop: tuple                 # (top, left, H, W) of the image in the canvas
  chunk: int                  # steps per dispatch
  num_restarts: int = 1       # R fits vmapped in one program (R >= 1)
  restart_group: int = 0      # restarts vmapped together (0 = all R); the
                              # groups run one after another (lax.map)
  image_measurement: bool = True  # y is one image like A x: PSNR to y is
                              # reported and reviewed by a guard
  precision: str = "float32"  # the net's compute dtype (PRECISIONS)
  watchers: tuple = ()        # run after each step, in this order

  def optimizer(self) -> optax.GradientTransformationExtraArgs:
    return optim.make(self.optim)

  def with_part(self, part: str) -> tuple:
    """The watchers that define the optional `part` (see fit/watchers)."""
    return tuple(w for w in self.watchers if watchers_lib.has(w, part))


def make_input(key, kind: str, channels: int, height: int, width: int,
               scale: float = 0.1) -> jax.Array:
  """The fixed net input z, 1 x H x W x C (canvas size)."""
  if kind == "uniform":
    return scale * jax.random.uniform(key, (1, height, width, channels))
  if kind == "gaussian":
    return scale * jax.random.normal(key, (1, height, width, channels))
  if kind == "meshgrid":
    ys = jnp.linspace(0.0, 1.0, height)
    xs = jnp.linspace(0.0, 1.0, width)
    yy, xx = jnp.meshgrid(ys, xs, indexing="ij")
    return jnp.stack([xx, yy], -1)[None]
  raise ValueError(f"input.kind must be uniform, gaussian or meshgrid, "
                   f"got {kind!r}")


def crop_output(spec: FitSpec, y):
  t, l, h, w = spec.crop
  return y[:, t:t + h, l:l + w, :]


# config.precision -> the dtype the net computes in. Parameters, Adam's
# moments, gradients, BatchNorm's statistics and the output stay float32:
# only the convolutions' operands and the activations between them change.
# (On GPU, float32 convolutions already use TF32 by JAX's default.)
PRECISIONS = {name: jnp.dtype(name) for name in config_lib.PRECISIONS}


def apply_net(spec: FitSpec, params, z):
  """f_params(z) in the spec's compute dtype, cropped, as float32."""
  dtype = PRECISIONS[spec.precision]
  if dtype != jnp.float32:
    params = jax.tree.map(lambda p: p.astype(dtype), params)
    z = z.astype(dtype)
  out = spec.net.apply({"params": params}, z)
  return crop_output(spec, out.astype(jnp.float32))


def init_params(net, key, z):
  """The net's initial parameters for input z (flax's initializers)."""
  return net.init(key, z)["params"]


def init_state(spec: FitSpec, key, z, params=None) -> FitState:
  """The state before step 1; `params` (default: drawn from `key`) lets
  the parameters come from a program of their own (`compile_fit`). Each
  watcher starts from the first output (and params, optimizer state, z)."""
  if params is None:
    params = init_params(spec.net, key, z)
  opt_state = spec.optimizer().init(params)
  out = apply_net(spec, params, z)
  first = watchers_lib.StepView(step=jnp.zeros((), jnp.int32), out=out,
                                params=params, opt_state=opt_state,
                                data={"z": z}, crop=spec.crop)
  return FitState(params=params, opt_state=opt_state,
                  step=jnp.zeros((), jnp.int32), out=out,
                  watch={w.name: w.init(first) for w in spec.watchers})


def _net_input(spec: FitSpec, watch: dict, z, step, loop_key):
  """z as the net sees it this step: a watcher's input (a method that
  moves z) in place of the fixed one, then the fresh input noise."""
  for w in spec.with_part("net_input"):
    z = w.net_input(watch[w.name], z)
  if spec.reg_noise_std > 0:
    noise_key = jax.random.fold_in(loop_key, step)
    z = z + spec.reg_noise_std * jax.random.normal(noise_key, z.shape, z.dtype)
  return z


def fit_step(spec: FitSpec, state: FitState, data: dict, loop_key):
  """One optimizer step, then the watchers that run per restart. `data`
  holds z and optional observed / mask / clean / operator_params."""
  z = _net_input(spec, state.watch, data["z"], state.step, loop_key)
  observed = data.get("observed")
  mask = data.get("mask")
  # An operator's own arrays (a classifier's weights) come in as data, not
  # as constants of the program.
  op_params = data.get("operator_params")

  def loss_fn(params):
    out = apply_net(spec, params, z)
    pred = operators.forward(spec.operator, out, op_params)
    value = spec.objective(out, pred, observed, mask)
    for w in spec.with_part("loss"):  # terms that read a watcher's state
      value = value + w.loss(state.watch[w.name], out)
    return value, (out, pred)

  (loss, (out, pred)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  # A key of its own for any noisy transformation (the input noise's
  # stream stays that of plain DIP).
  noise_key = jax.random.fold_in(jax.random.fold_in(loop_key, state.step), 1)
  updates, opt_state = spec.optimizer().update(
      grads, state.opt_state, state.params, noise_key=noise_key)
  params = optax.apply_updates(state.params, updates)
  if spec.image_measurement:
    fit_db = -10.0 * jnp.log10(jnp.maximum(
        objectives.observed_mse(pred, observed, mask), 1e-20))
  else:
    # No image to compare A x with: a guard watches the loss alone.
    fit_db = jnp.array(jnp.inf, jnp.float32)
  view = watchers_lib.StepView(step=state.step, out=out, loss=loss,
                               fit_db=fit_db, params=params, data=data,
                               crop=spec.crop)
  watch = dict(state.watch)
  bad = jnp.zeros((), bool)
  reviewers = spec.with_part("review")
  for w in reviewers:
    (params, opt_state), watch[w.name], undone = w.review(
        watch[w.name], view, (state.params, state.opt_state),
        (params, opt_state))
    bad = bad | undone
  if reviewers:
    # An undone step leaves no trace in the output or the other watchers.
    out = jnp.where(bad, state.out, out)
    view = view.replace(out=out, params=params)
  for w in spec.watchers:
    if w.across_restarts or watchers_lib.has(w, "review"):
      continue
    updated = w.update(watch[w.name], view)
    if reviewers:
      updated = jax.tree.map(lambda old, new: jnp.where(bad, old, new),
                             watch[w.name], updated)
    watch[w.name] = updated
  new_state = FitState(params=params, opt_state=opt_state,
                       step=state.step + 1, out=out, watch=watch)
  step_metrics = {"loss": loss, "restored": bad}
  if spec.image_measurement:
    step_metrics["psnr_observed"] = fit_db
  clean = data.get("clean")
  if clean is not None:
    step_metrics["psnr"] = metrics.psnr_jax(out, clean)
  step_metrics.update(_watcher_metrics(spec, watch, clean, across=False))
  if clean is not None and any(w.own_answer for w in spec.watchers):
    step_metrics["psnr_answer"] = metrics.psnr_jax(answer(spec, new_state),
                                                   clean)
  return new_state, step_metrics


def _watcher_metrics(spec: FitSpec, watch: dict, clean, across: bool):
  found = {}
  for w in spec.with_part("metrics"):
    if w.across_restarts == across:
      found.update(w.metrics(watch[w.name], clean))
  return found


def _per_restart(spec: FitSpec, fn):
  return restarts.over_restarts(spec.num_restarts, spec.restart_group, fn)


def restart_keys(spec: FitSpec, key):
  """R keys: restart r uses fold_in(key, r), so restart 0 of R is the R = 1
  run."""
  return jax.vmap(lambda r: jax.random.fold_in(key, r))(
      jnp.arange(spec.num_restarts))


def init_states(spec: FitSpec, keys, z, params=None) -> FitState:
  """Per restart, the state before step 1 (parameters drawn from `keys`,
  or the given per-restart `params`)."""
  if params is None:
    return _per_restart(spec, lambda k, z: init_state(spec, k, z))(keys, z)
  return _per_restart(spec, lambda p, z: init_state(spec, None, z, p))(
      params, z)


def answer(spec: FitSpec, state: FitState, current=None):
  """The image the fit stands for now: `current` (default: the last
  output) passed through every watcher that has an answer, in order (the
  EMA replaces the output; a method's own answer, a sample mean or an
  auxiliary image, replaces that). Works per restart and on the whole
  restart batch."""
  image = state.out if current is None else current
  for w in spec.with_part("answer"):
    image = w.answer(state.watch[w.name], image)
  return image


def step_restarts(spec: FitSpec, state: FitState, data: dict, loop_keys):
  """One step of every restart, then the watchers that run across the
  restarts; with R > 1 also the ensemble's PSNR."""
  shared = {k: v for k, v in data.items() if k != "z"}
  one = lambda st, z, key: fit_step(spec, st, {**shared, "z": z}, key)
  state, step_metrics = _per_restart(spec, one)(state, data["z"], loop_keys)
  across = [w for w in spec.watchers if w.across_restarts]
  if across:
    # Outside the per-restart vmap, so a detector's periodic exact refresh
    # can branch on the step every restart shares.
    t = jnp.ravel(state.step)[0]
    view = watchers_lib.StepView(
        step=t - 1, out=state.out, fit_db=step_metrics.get("psnr_observed"),
        answer=answer(spec, state), data=data,
        per_restart=functools.partial(_per_restart, spec), crop=spec.crop)
    watch = dict(state.watch)
    for w in across:
      watch[w.name] = w.update(watch[w.name], view)
    state = state.replace(watch=watch)
    step_metrics.update(_watcher_metrics(spec, watch, data.get("clean"),
                                         across=True))
  if spec.num_restarts > 1 and "clean" in data:
    # (With one restart the ensemble is that restart: no second metric.)
    mean = jnp.mean(answer(spec, state), axis=0)
    step_metrics["psnr_ensemble"] = metrics.psnr_jax(mean, data["clean"])
  return state, step_metrics


def halted(spec: FitSpec, state: FitState):
  """True once a halting watcher has stopped every restart (a bool array;
  False without one)."""
  done = jnp.zeros((), bool)
  for w in spec.with_part("stopped"):
    if w.halting():
      done = done | jnp.all(w.stopped(state.watch[w.name]))
  return done


def halts(spec: FitSpec) -> bool:
  """Whether a watcher of `spec` may halt the fit before num_steps."""
  return any(w.halting() for w in spec.with_part("stopped"))


def run_chunk(spec: FitSpec, state: FitState, data: dict, loop_keys,
              num_active):
  """`spec.chunk` steps in one scan; steps past `num_active` are skipped.

  A fixed scan length keeps one compiled program for every chunk, the last
  partial one included; skipped steps report NaN metrics. A halting
  detector also skips every step once all restarts have stopped, so a chunk
  that ends past the detection leaves the detected state as it was.
  """
  halt = halts(spec)
  # The skip branch needs the shapes of the step's metrics. `lax.cond`
  # traces its true branch first, so they are recorded there rather than
  # traced again with eval_shape (tracing the step is most of what building
  # a chunk program costs once XLA's result is in the persistent cache);
  # eval_shape stays as the fallback should a JAX trace the branches in the
  # other order.
  traced = {}

  def step(s):
    out = step_restarts(spec, s, data, loop_keys)
    traced["metrics"] = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), out[1])
    return out

  def body(st, i):
    def skip(s):
      m = traced.get("metrics") or jax.eval_shape(step, s)[1]
      return s, jax.tree.map(lambda a: jnp.full(a.shape, jnp.nan, a.dtype)
                             if a.dtype != bool else jnp.zeros(a.shape, bool), m)
    active = i < num_active
    if halt:
      active = active & ~halted(spec, st)
    return jax.lax.cond(active, step, skip, st)

  return jax.lax.scan(body, state, jnp.arange(spec.chunk))


def net_outputs(spec: FitSpec, state: FitState, data: dict):
  """Per restart, f(z) now, without input noise: a single run's own answer
  (the paper's "single run" numbers), whatever the EMA holds."""
  f = lambda p, z: apply_net(spec, p, z)
  return _per_restart(spec, f)(state.params, data["z"])


def reconstruct_output(spec: FitSpec, state: FitState, data: dict):
  """The answer per restart: `answer` of f(z) without input noise (the
  watchers' answer where they have one: the EMA, a method's own, ...)."""
  if any(w.own_answer for w in spec.watchers):
    # A method's own answer falls back on the last output (its first
    # sample not yet taken), as during the fit.
    return answer(spec, state)
  # (Under jit, f(z) is not computed where an average replaces it.)
  return answer(spec, state, net_outputs(spec, state, data))


@functools.lru_cache(maxsize=16)
def compile_fit(spec: FitSpec):
  """Jitted (init, chunk, output) functions for a spec; the chunk donates
  its state so parameters and Adam moments are updated in place. Cached per
  spec: fits that differ only in seed or data reuse the compiled programs.
  init is two programs, the parameters' draw (shared by every spec with the
  same net and restart layout) and the rest of the starting state."""
  draw = restarts.params_program(spec.net, spec.num_restarts,
                                 spec.restart_group)
  start = jax.jit(lambda params, z: init_states(spec, None, z, params))
  init = lambda keys, z: start(draw(keys, z), z)
  chunk = jax.jit(lambda s, d, k, n: run_chunk(spec, s, d, k, n),
                  donate_argnums=0)
  output = jax.jit(lambda s, d: reconstruct_output(spec, s, d))
  return init, chunk, output


@functools.lru_cache(maxsize=16)
def compile_net_outputs(spec: FitSpec):
  """Jitted `net_outputs` for a spec (compiled on first use only)."""
  return jax.jit(lambda s, d: net_outputs(spec, s, d))
