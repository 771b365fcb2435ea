"""The Deep Image Prior fit: theta* = argmin_theta d(x0, A f_theta(z)).

One pure step closes over the net, the operator A, the data term d and an
optax Adam; `lax.scan` runs a chunk of steps per dispatch so Python costs
nothing per step, and the jitted chunk donates the fit state. Everything the
fit carries is in `FitState` (a pytree), so restarts can vmap it, meshes can
shard it and checkpoints can save it.

Keys: the config seed is split once into (init, input, loop) keys; the step
derives its input perturbation from fold_in(loop_key, step), so a run
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
from dip_jax import red as red_lib
from dip_jax import stopping
from dip_jax import watchers


@flax.struct.dataclass
class FitState:
  params: Any
  opt_state: Any
  step: jax.Array            # int32: steps taken so far
  out: jax.Array             # last output f(z + noise), image-sized
  ema: jax.Array             # exponential moving average of `out`
  restores: jax.Array        # int32: how often the guard restored
  guard: Any = None          # watchers.GuardState; None without the guard
  stop: Any = None           # stopping.StopState; None without a detector
  posterior: Any = None      # watchers.PosteriorState; None without SGLD
  red: Any = None            # red.RedState; None without DeepRED


@dataclasses.dataclass(frozen=True)
class FitSpec:
  """Everything static about a fit (hashable parts of the program)."""
  net: Any                    # flax module
  operator: Callable          # A: N x H x W x C image -> measurement
  objective: Callable         # (x, A x, y, weights) -> scalar to minimise
  learning_rate: float
  reg_noise_std: float
  ema_decay: float            # 0 = no averaging
  guard: bool                 # divergence guard on/off
  guard_psnr_drop: float      # dB drop in PSNR-to-x0 that counts as a jump
  guard_every: int            # steps between guard snapshots
  crop: tuple                 # (top, left, H, W) of the image in the canvas
  chunk: int                  # steps per dispatch
  num_restarts: int = 1       # R fits vmapped in one program (R >= 1)
  restart_group: int = 0      # restarts vmapped together (0 = all R); the
                              # groups run one after another (lax.map)
  stopping: Any = None        # stopping.StopSpec, or None (no detector)
  image_measurement: bool = True  # y is one image like A x: PSNR to y is
                              # reported and watched by the guard
  optimizer_name: str = "adam"  # an optax optimizer taking learning_rate
  sgld: Any = None            # watchers.SgldSpec: parameter noise and the
                              # posterior mean as the answer (None = off)
  red: Any = None             # red.RedSpec: DeepRED's ADMM (None = off)
  precision: str = "float32"  # the net's compute dtype (PRECISIONS)

  def optimizer(self) -> optax.GradientTransformation:
    return OPTIMIZERS[self.optimizer_name](self.learning_rate)


# config.optim.name -> optax transformation of the learning rate.
OPTIMIZERS = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd,
              "rmsprop": optax.rmsprop, "lion": optax.lion}


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
  the parameters come from a program of their own (`compile_fit`)."""
  if params is None:
    params = init_params(spec.net, key, z)
  opt_state = spec.optimizer().init(params)
  out = apply_net(spec, params, z)
  return FitState(
      params=params, opt_state=opt_state, step=jnp.zeros((), jnp.int32),
      out=out, ema=out,
      restores=jnp.zeros((), jnp.int32),
      # Without the guard there is nothing to go back to: keep no copy.
      guard=watchers.guard_init(params, opt_state) if spec.guard else None,
      # No detector, no window memory: the field stays an empty subtree.
      stop=(stopping.init(spec.stopping, out) if spec.stopping is not None
            else None),
      posterior=(watchers.posterior_init(out) if spec.sgld is not None
                 else None),
      red=red_lib.init(out) if spec.red is not None else None)


def fit_step(spec: FitSpec, state: FitState, data: dict, loop_key):
  """One optimizer step, then the watchers (EMA, guard). `data` holds z and
  optional observed / mask / clean / operator_params."""
  z = data["z"]
  observed = data.get("observed")
  if spec.reg_noise_std > 0:
    noise_key = jax.random.fold_in(loop_key, state.step)
    z = z + spec.reg_noise_std * jax.random.normal(noise_key, z.shape, z.dtype)
  mask = data.get("mask")
  # An operator's own arrays (a classifier's weights) come in as data, not
  # as constants of the program.
  op_params = data.get("operator_params")

  def loss_fn(params):
    out = apply_net(spec, params, z)
    pred = operators.forward(spec.operator, out, op_params)
    value = spec.objective(out, pred, observed, mask)
    if spec.red is not None:
      value = value + red_lib.coupling(spec.red, state.red, out)
    return value, (out, pred)

  (loss, (out, pred)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  updates, opt_state = spec.optimizer().update(grads, state.opt_state,
                                               state.params)
  params = optax.apply_updates(state.params, updates)
  if spec.sgld is not None:
    # The Langevin noise, from a key of its own (the input noise's stream
    # stays that of plain DIP).
    params = watchers.perturb_kernels(
        params, jax.random.fold_in(jax.random.fold_in(loop_key, state.step),
                                   1), spec.sgld.noise_std)
  if spec.image_measurement:
    psnr_obs = -10.0 * jnp.log10(jnp.maximum(
        objectives.observed_mse(pred, observed, mask), 1e-20))
  else:
    # No image to compare A x with: the guard watches the loss alone.
    psnr_obs = jnp.array(jnp.inf, jnp.float32)

  ema = watchers.ema_update(spec.ema_decay, state.ema, out, state.step)
  guard = state.guard
  if spec.guard:
    (params, opt_state), guard, bad = watchers.guard_update(
        watchers.GuardSpec(spec.guard_psnr_drop, spec.guard_every), guard,
        state.step, loss, psnr_obs, (state.params, state.opt_state),
        (params, opt_state))
    # An undone step leaves no trace in the outputs either.
    out = jnp.where(bad, state.out, out)
    ema = jnp.where(bad, state.ema, ema)
  else:
    bad = jnp.zeros((), bool)

  posterior = state.posterior
  if spec.sgld is not None:
    posterior = watchers.posterior_update(spec.sgld, posterior, out,
                                          state.step)
  red = state.red
  if spec.red is not None:
    red = red_lib.update(spec.red, red, out, state.step)
  new_state = FitState(
      params=params, opt_state=opt_state, step=state.step + 1, out=out,
      ema=ema, restores=state.restores + bad.astype(jnp.int32), guard=guard,
      stop=state.stop, posterior=posterior, red=red)
  step_metrics = {"loss": loss, "restored": bad}
  if spec.image_measurement:
    step_metrics["psnr_observed"] = psnr_obs
  clean = data.get("clean")
  if clean is not None:
    step_metrics["psnr"] = metrics.psnr_jax(out, clean)
    step_metrics["psnr_ema"] = metrics.psnr_jax(ema, clean)
    own = _own_answer(spec, new_state)
    if own is not None:
      step_metrics["psnr_answer"] = metrics.psnr_jax(own, clean)
  return new_state, step_metrics


def _own_answer(spec: FitSpec, state: FitState):
  """The image a method watcher stands for, or None: SGLD's posterior
  mean (the EMA, or the output, until the first sample), DeepRED's x."""
  fallback = state.ema if spec.ema_decay > 0 else state.out
  if spec.sgld is not None:
    return watchers.posterior_mean(state.posterior, fallback)
  if spec.red is not None:
    return state.red.x
  return None


def _per_restart(spec: FitSpec, fn):
  return _per_restart_rg(spec.num_restarts, spec.restart_group, fn)


def _per_restart_rg(r: int, g: int | None, fn):
  """`fn` over the restart axis (the leading axis of every argument; it is
  there for R = 1 too, so one program shape serves every R).

  The R restarts run in groups of `spec.restart_group`: vmapped within a
  group, the groups one after another in a `lax.map`, all in one program.
  One group of R is the plain vmap (GPU/TPU). On CPU a vmapped
  step's activations grow R-fold and fall out of the caches: measured at
  128 px, 8 vmapped restarts cost 1.8x as much per restart as one alone,
  while groups of 1-2 cost what one alone does.
  """
  g = g or r
  if r == 1:
    # The axis stays (every consumer sees R x ...), but one restart runs
    # the unbatched program on its slice: a vmap over one restart reorders
    # float sums (measured: 3e-4 dB off after 40 steps), and the wave-1
    # numbers are those of the unbatched program.
    def one(*args):
      out = fn(*jax.tree.map(lambda a: a[0], args))
      return jax.tree.map(lambda a: a[None], out)
    return one
  if g >= r:
    return jax.vmap(fn)
  if r % g:
    raise ValueError(f"restart_group={g} does not divide num_restarts={r}")

  def grouped(*args):
    if g == 1:
      return jax.lax.map(lambda a: fn(*a), args)
    split = jax.tree.map(lambda a: a.reshape(r // g, g, *a.shape[1:]), args)
    out = jax.lax.map(lambda a: jax.vmap(fn)(*a), split)
    return jax.tree.map(lambda a: a.reshape(r, *a.shape[2:]), out)

  return grouped


def auto_restart_group(num_restarts: int, pixels: int, channels: int,
                       backend: str) -> int:
  """How many restarts to vmap together: all on GPU/TPU; on CPU the largest
  divisor of R whose batched activations (group x pixels x channels floats
  per layer) stay near the size that measured no slower than one restart
  alone (8 x 64 x 64 px x 32 channels, 4 MiB)."""
  if backend != "cpu":
    return num_restarts
  limit = max(1, (8 * 64 * 64 * 32) // max(1, pixels * channels))
  return max(g for g in range(1, num_restarts + 1)
             if num_restarts % g == 0 and g <= limit)


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


@functools.lru_cache(maxsize=16)
def _params_program(net, num_restarts: int, restart_group):
  """The jitted (keys, z) -> per-restart initial parameters. Drawing them is
  most of what compiling a fit's init costs on XLA:CPU (a PRNG kernel per
  parameter array: ~5 s for the tiny test net, whose forward pass compiles
  in ~1 s), and it depends only on the net and the restart layout: fits
  that differ in operator, objective or watchers share this program.

  On XLA:CPU it is compiled at LLVM optimization level 1 (of 3): it runs
  once, and that level compiles it 1.5-3x faster (jpeg's quick net: 8.8 s
  -> 3.2 s) while drawing bit-identical parameters, measured on every net
  preset and every task's config (threefry is integer arithmetic; the
  float transforms after it are elementwise). The start-state program
  after it is not: its forward pass rounds differently at level 1."""
  draw = jax.jit(_per_restart_rg(num_restarts, restart_group,
                                 lambda k, z: init_params(net, k, z)))
  if jax.default_backend() != "cpu":
    return draw
  compiled = {}

  def draw_cpu(keys, z):
    if isinstance(keys, jax.core.Tracer) or isinstance(z, jax.core.Tracer):
      return draw(keys, z)  # inside another trace (eval_shape): shapes only
    shapes = (keys.shape, keys.dtype, z.shape, z.dtype)
    if shapes not in compiled:
      compiled[shapes] = draw.lower(keys, z).compile(
          compiler_options={"xla_backend_optimization_level": 1})
    return compiled[shapes](keys, z)

  return draw_cpu


def answer(spec: FitSpec, state: FitState):
  """Per restart, the image the fit currently stands for: SGLD's posterior
  mean, DeepRED's x, else the EMA or the output."""
  own = _own_answer(spec, state)
  if own is not None:
    return own
  return state.ema if spec.ema_decay > 0 else state.out


def step_restarts(spec: FitSpec, state: FitState, data: dict, loop_keys):
  """One step of every restart; with R > 1 also the ensemble's PSNR."""
  shared = {k: v for k, v in data.items() if k != "z"}
  one = lambda st, z, key: fit_step(spec, st, {**shared, "z": z}, key)
  state, step_metrics = _per_restart(spec, one)(state, data["z"], loop_keys)
  if spec.stopping is not None:
    # The detector runs here, outside the per-restart vmap, so its periodic
    # exact refresh can branch on the step every restart shares.
    t = jnp.ravel(state.step)[0]
    gate = {}
    if spec.stopping.fit_gate > 0:
      # The data fit of this step, from the metric the step already has.
      gate = dict(fit_mse=10.0 ** (-step_metrics["psnr_observed"] / 10.0),
                  noise_var=data["noise_var"])
    stop = stopping.update(spec.stopping, state.stop, state.out,
                           answer(spec, state), t,
                           functools.partial(_per_restart, spec), **gate)
    state = state.replace(stop=stop)
    step_metrics["es_value"] = stop.value
  if spec.num_restarts > 1 and "clean" in data:
    # (With one restart the ensemble is that restart: no second metric.)
    mean = jnp.mean(answer(spec, state), axis=0)
    step_metrics["psnr_ensemble"] = metrics.psnr_jax(mean, data["clean"])
  return state, step_metrics


def run_chunk(spec: FitSpec, state: FitState, data: dict, loop_keys,
              num_active):
  """`spec.chunk` steps in one scan; steps past `num_active` are skipped.

  A fixed scan length keeps one compiled program for every chunk, the last
  partial one included; skipped steps report NaN metrics. A halting
  detector also skips every step once all restarts have stopped, so a chunk
  that ends past the detection leaves the detected state as it was.
  """
  halt = spec.stopping is not None and spec.stopping.halt
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
      active = active & ~jnp.all(st.stop.stopped)
    return jax.lax.cond(active, step, skip, st)

  return jax.lax.scan(body, state, jnp.arange(spec.chunk))


def net_outputs(spec: FitSpec, state: FitState, data: dict):
  """Per restart, f(z) now, without input noise: a single run's own answer
  (the paper's "single run" numbers), whatever the EMA holds."""
  f = lambda p, z: apply_net(spec, p, z)
  return _per_restart(spec, f)(state.params, data["z"])


def reconstruct_output(spec: FitSpec, state: FitState, data: dict):
  """The answer per restart: SGLD's posterior mean or DeepRED's x; else
  the EMA image when averaging, else f(z) without input noise."""
  own = _own_answer(spec, state)
  if own is not None:
    return own
  if spec.ema_decay > 0:
    return state.ema
  return net_outputs(spec, state, data)


@functools.lru_cache(maxsize=16)
def compile_fit(spec: FitSpec):
  """Jitted (init, chunk, output) functions for a spec; the chunk donates
  its state so parameters and Adam moments are updated in place. Cached per
  spec: fits that differ only in seed or data reuse the compiled programs.
  init is two programs, the parameters' draw (shared by every spec with the
  same net and restart layout) and the rest of the starting state."""
  draw = _params_program(spec.net, spec.num_restarts, spec.restart_group)
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
