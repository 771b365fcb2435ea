"""The DIP method: fit f_theta(z) so that objective(f, A f, y) is small.

`build_fit(config, problem)` turns the config and the problem into a
`driver.Fit` (the canvas padding, the net, the input z, the keys, the
restart groups); `solve` runs it through the driver and returns the answer
with the fit's own numbers (`dip_summary.py`). The compiled step itself is
`dip_jax/fit/step.py`. `solve_batch` fits many problems of one task in
one program (`dip_jax/fit/batch.py`).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import methods
from dip_jax import nets
from dip_jax import objectives
from dip_jax.errors import InputError
from dip_jax.fit import batch
from dip_jax.fit import budget
from dip_jax.fit import driver
from dip_jax.fit import optim
from dip_jax.fit import readout
from dip_jax.fit import restarts as restarts_lib
from dip_jax.fit import sharding
from dip_jax.fit import step as fit_core
from dip_jax.fit.watchers import ema as ema_lib
from dip_jax.fit.watchers import guard as guard_lib
from dip_jax.fit.watchers import stopping
from dip_jax.nets import canvas
from dip_jax.io import workdir as workdir_lib
from dip_jax.methods import dip_summary
from dip_jax.methods import settings as settings_lib
from dip_jax.solvers import noise_level


def _positive_int(config, key: str) -> int:
  value = config[key]
  if value < 1:
    raise InputError(f"{key} must be >= 1, got {value}")
  return int(value)


def build_fit(config, problem, compile_chunk: bool = True, watchers=(),
              optim_changes=None) -> driver.Fit:
  """The fit of `problem` that `config` describes (validated first). A
  method built on the DIP fit adds its `watchers` after DIP's own (the
  output average, the guard, the stop) and changes the optimizer settings
  by `optim_changes` (OptimSettings fields, e.g. SGLD's kernel_noise).

  With compile_chunk (the default) the chunk program is compiled here, from
  shapes, and the fit refused in one line if it will not fit in memory;
  without, nothing is compiled or checked until the driver runs it (for
  callers that only inspect the spec or run single steps of their own)."""
  _positive_int(config, "num_steps")
  _positive_int(config, "log_every")
  dispatch = _positive_int(config, "steps_per_dispatch")
  restarts = _positive_int(config, "num_restarts")
  h, w, c = problem.out_shape
  depth = nets.net_depth(config.net)
  # Reflect-pad the working canvas to a multiple of 2**depth (and at least
  # 2**(depth+1), so the deepest maps are 2x2) instead of cropping the image.
  pad = canvas.canvas_padding(h, w, 2 ** depth, 2 ** (depth + 1))
  canvas_h, canvas_w = h + pad[0] + pad[1], w + pad[2] + pad[3]
  # Validates early; with a mesh every restart stays vmapped (it shards
  # that axis), so no grouping.
  split = sharding.restart_mesh(restarts, config.num_devices) is not None
  try:
    net = nets.build_net(config.net, out_channels=c)
    es = config.get("early_stopping")
    stop_spec = (stopping.from_config(es, float(config.ema_decay))
                 if es is not None else None)
  except ValueError as e:
    raise InputError(str(e)) from None
  _check_numbers(config)
  precision = _precision(config)
  settings = optim.OptimSettings.from_config(config.optim,
                                             int(config.num_steps))
  if optim_changes:
    settings = dataclasses.replace(settings, **optim_changes)
  spec = fit_core.FitSpec(
      net=net,
      operator=problem.operator.apply,
      objective=regularized_objective(problem, config),
      optim=settings,
      reg_noise_std=float(config.input.reg_noise_std),
      crop=(pad[0], pad[2], h, w),
      # Not tied to log_every or num_steps: the driver runs fewer steps of
      # the same program where a log line, snapshot or checkpoint is due.
      chunk=dispatch,
      num_restarts=restarts,
      restart_group=(restarts if split else
                     _restart_group(config, restarts, canvas_h * canvas_w)),
      image_measurement=problem.image_measurement,
      precision=precision,
      watchers=(*_own_watchers(config, stop_spec), *watchers))
  init_key, input_key, loop_key = (
      fit_core.restart_keys(spec, k)
      for k in jax.random.split(jax.random.key(config.seed), 3))
  make_z = lambda k: fit_core.make_input(k, config.input.kind, config.input.channels,
                                    canvas_h, canvas_w, config.input.scale)
  if problem.net_input is not None:
    # A fixed image as input (the flash photo), on the padded canvas, the
    # same for every restart.
    image = jnp.asarray(canvas.pad_canvas(problem.net_input, pad))[None]
    make_inputs = lambda: jnp.broadcast_to(image, (restarts, *image.shape))
  else:
    make_inputs = lambda: jax.vmap(make_z)(input_key)
  try:
    z_shape = jax.eval_shape(make_inputs)
  except ValueError as e:
    raise InputError(str(e)) from None
  # numpy views first (no copies): the budget check needs shapes only.
  data = _fit_data(problem, stop_spec, config)
  executable = estimate = None
  if compile_chunk and not split:
    # Compiled from shapes, so a fit too large for the machine is refused
    # before z or any state is allocated; the driver runs this executable.
    init_fn, chunk_fn, _ = fit_core.compile_fit(spec)
    executable, estimate = budget.compile_chunk(
        chunk_fn, init_fn, init_key, loop_key, z_shape, data)
    budget.check(estimate, float(config.memory_limit_gb),
                 f"{h}x{w} px on a {canvas_h}x{canvas_w} canvas, "
                 f"{restarts} restart(s)")
  data = jax.tree.map(jnp.asarray, data)
  data["z"] = make_inputs()
  return driver.Fit(spec=spec, data=data, init_key=init_key,
                    loop_key=loop_key, num_devices=int(config.num_devices),
                    executable=executable, estimate=estimate)


# Kept here too: methods and callers outside the package used it as
# dip_method.check_number before methods/settings.py held it.
check_number = settings_lib.check_number


@dataclasses.dataclass(frozen=True)
class Regularizer:
  """`config.regularizer`: weights on x added to the objective of a fit
  (tv > 0 with method=dip is DIP-TV); a missing block or key is 0."""
  tv: float = 0.0
  l2: float = 0.0

  @classmethod
  def from_config(cls, block) -> "Regularizer":
    v = settings_lib.values(cls, block, "regularizer")
    for key in ("tv", "l2"):
      check_number(f"regularizer.{key}", v[key], lambda x: x >= 0,
                   "a number >= 0")
    return cls(tv=float(v["tv"]), l2=float(v["l2"]))


def regularized_objective(problem, config):
  """The problem's objective plus `config.regularizer`'s weights on x (the
  objective itself when they are 0: the same compiled program)."""
  reg = Regularizer.from_config(config.get("regularizer"))
  return objectives.regularized(problem.objective, l2=reg.l2, tv=reg.tv)


def _check_numbers(config) -> None:
  """One line for a numeric setting that would run to a meaningless "done"
  (a NaN loss, an EMA that diverges) or to a traceback."""
  check_number("ema_decay", config.ema_decay, lambda v: 0 <= v < 1,
               "in [0, 1) (0 = off)")
  check_number("input.reg_noise_std", config.input.reg_noise_std,
               lambda v: v >= 0, "a number >= 0")
  check_number("input.scale", config.input.scale, lambda v: v > 0,
               "a positive number")
  if config.guard.enabled:
    check_number("guard.every", config.guard.every,
                 lambda v: v >= 1 and v == int(v), "an integer >= 1")
    check_number("guard.psnr_drop", config.guard.psnr_drop, lambda v: v > 0,
                 "a positive number of dB")
  for key in ("snapshot_every", "checkpoint_every"):
    check_number(key, config[key], lambda v: v >= 0 and v == int(v),
                 "an integer >= 0 (0 = off)")
  if config.input.kind not in ("image", "meshgrid"):
    check_number("input.channels", config.input.channels, lambda v: v >= 1,
                 "an integer >= 1")


def _fit_data(problem, stop_spec, config) -> dict:
  """The arrays the step reads besides z, as numpy views (no copies)."""
  data = {}
  if problem.observed is not None:
    data["observed"] = jax.tree.map(lambda a: np.asarray(a)[None],
                                    problem.observed)
  if problem.mask is not None:
    data["mask"] = np.asarray(problem.mask)[None]
  if problem.clean is not None:
    data["clean"] = np.asarray(problem.clean)[None]
  if problem.operator.params is not None:
    data["operator_params"] = problem.operator.params
  if stop_spec is not None and stop_spec.fit_gate > 0:
    if not problem.image_measurement or problem.observed is None:
      raise InputError("early_stopping.fit_gate needs an image measurement "
                       "to estimate its noise level from; set it to 0")
    if problem.mask is not None:
      # The wavelet estimate reads the mask's edges as noise.
      raise InputError("early_stopping.fit_gate cannot estimate the noise "
                       "level of a masked observation; set it to 0")
    model = str(config.early_stopping.get("noise_model", "gaussian"))
    if model not in noise_level.MODELS:
      raise InputError(f"early_stopping.noise_model must be one of "
                       f"{list(noise_level.MODELS)}, got {model!r}")
    data["noise_var"] = np.float32(
        noise_level.noise_variance(problem.observed, model))
  return data


def _own_watchers(config, stop_spec) -> list:
  """DIP's own watchers: the output average, the guard, the stop."""
  own = [ema_lib.Ema(float(config.ema_decay))]
  if config.guard.enabled:
    own.append(guard_lib.Guard(psnr_drop=float(config.guard.psnr_drop),
                               every=int(config.guard.every)))
  if stop_spec is not None:
    own.append(stop_spec)
  return own


def _precision(config) -> str:
  precision = config.get("precision", "float32")
  if precision not in fit_core.PRECISIONS:
    raise InputError(f"precision must be one of {sorted(fit_core.PRECISIONS)}, "
                     f"got {precision!r}")
  return precision


def _restart_group(config, restarts: int, pixels: int) -> int:
  """config.restart_group, resolved: 0 = auto (fit/restarts.py)."""
  group = int(config.get("restart_group", 0))
  if group < 0 or (group and restarts % group):
    raise InputError(f"restart_group={group} must be 0 (auto) or a divisor "
                     f"of num_restarts={restarts}")
  if group:
    return group
  net = config.net
  channels = max([*net.channels_down, *net.channels_up, net.channels,
                  config.input.channels])
  return restarts_lib.auto_restart_group(restarts, pixels, channels,
                                jax.default_backend())


# The methods that are one DIP fit: name -> (build, finish). Each solves one
# problem, or many in one program (`solve_batch`), the same way.
FIT_METHODS = {}


def _unchanged(problem, config, fit, result):
  del problem, config, fit
  return result


def register_fit_method(name: str, build, finish=None):
  """Registers method `name` as a DIP fit with something of its own.

  `build(problem, config, **kw) -> driver.Fit` makes its fit (`kw` for
  `build_fit`: solve_batch compiles one program for all, not one per fit) (its watchers, its
  optimizer changes; validating its settings, so it also serves as the
  method's `prepare`), and `finish(problem, config, fit, result) -> Result`
  turns the fit's Result into the method's (SGLD's uncertainty map, a
  label); the default keeps it. Such a method batches: `solve_batch` fits
  many problems with it in one program.
  """
  finish = finish or _unchanged
  FIT_METHODS[name] = (build, finish)

  def solve(problem, config, hooks=None, fit=None) -> methods.Result:
    fit = fit or build(problem, config)
    state, history, timing = driver.run_fit(fit, int(config.num_steps),
                                            hooks)
    return finish(problem, config, fit,
                  fit_result(problem, config, fit, state, history, timing))

  solve.__doc__ = (f"The {name} fit of `problem` (dip_jax/methods): "
                   f"build, run, finish.")
  return methods.register(
      name, prepare=lambda problem, config: {"fit": build(problem, config)},
      batches=True)(solve)


# Plain DIP: the answer is the restarts' average of each one's EMA (or
# f(z)), or the detected iterate.
solve = register_fit_method(
    "dip", lambda problem, config, **kw: build_fit(config, problem, **kw))


def solve_batch(problems, configs, say=None, max_batch: int = 0,
                hooks=None, method: str = "dip") -> list:
  """Fits every problem of `problems` with `method` (one registered with
  `register_fit_method`; one task, one canvas size; `configs`
  one config for all or one each, differing in image and seed only) in
  programs of B fits (dip_jax/fit/batch.py) run by the driver's one loop,
  B = max_batch (0: all), halved while the batched program's memory
  estimate exceeds what is available (config.memory_limit_gb, else the
  device's free memory). Each Result is the one its own `solve` gives; its
  info says the batch size (its time is its share).

  `hooks`: one driver.Hooks per problem (a CLI batch's workdirs: metrics,
  snapshots, checkpoints every config.checkpoint_every steps); fits whose
  checkpoints reached the same step resume together. `say`: where the
  batch's progress lines go (None: nowhere)."""
  if not isinstance(configs, (list, tuple)):
    configs = [configs] * len(problems)
  steps = sorted({int(c.num_steps) for c in configs})
  if len(steps) > 1:
    raise InputError(f"a batch needs one num_steps, got {steps}")
  if method not in FIT_METHODS:
    raise InputError(f"method {method!r} does not batch; the ones that do: "
                     f"{sorted(FIT_METHODS)}")
  build, finish = FIT_METHODS[method]
  fits = [build(p, c, compile_chunk=False)
          for c, p in zip(configs, problems)]
  if hooks is None:
    hooks = [driver.Hooks(progress=False, log_every=int(c.log_every))
             for c in configs]
  hooks = [dataclasses.replace(h, progress=say is not None, say=say)
           for h in hooks]
  limit = (float(configs[0].memory_limit_gb) or budget.available_gib()
           or 0.0)
  runs = {}

  def run(part):
    if len(part) == 1:
      # One fit is a single run: its own program, refused as a run would
      # be when it will not fit.
      i = part[0]
      fit = build(problems[i], configs[i])
      state, history, timing = driver.run_fits([fit], steps[0], [hooks[i]])[0]
      runs[i] = state, history, {**timing, "batch_size": 1}
      fits[i] = fit
      return
    # Compiled once, from shapes; a batch whose program needs more memory
    # than there is is halved.
    compiled = batch.compile_for([fits[i] for i in part])
    if limit and compiled[1].gib > limit:
      half = (len(part) + 1) // 2
      run(part[:half])
      run(part[half:])
      return
    out = driver.run_fits([fits[i] for i in part], steps[0],
                          [hooks[i] for i in part], compiled=compiled)
    runs.update(zip(part, out))

  # Fits are batched with others whose checkpoints reached the same step
  # (all at 0 on a first run), so every lane of a batch resumes together.
  by_step = {}
  for i, h in enumerate(hooks):
    done = (workdir_lib.latest_checkpoint_step(h.checkpoint_dir)
            if h.checkpoint_every else 0)
    by_step.setdefault(done, []).append(i)
  size = max_batch or len(fits)
  for group in by_step.values():
    for j in range(0, len(group), size):
      run(group[j:j + size])
  return [finish(p, c, f, fit_result(p, c, f, *runs[i]))
          for i, (p, c, f) in enumerate(zip(problems, configs, fits))]


def fit_result(problem, config, fit, state, history, timing):
  """The Result of a finished fit: the answer (restarts averaged, or the
  detected iterate), the per-restart images and the summary numbers."""
  spec = fit.spec
  answers = driver.outputs(fit, state)
  outputs = dip_summary.detected(spec, state, answers)
  recon = driver.ensemble(outputs)
  if not np.all(np.isfinite(recon)):
    # Written as a result it would be a black image with a NaN score.
    raise FloatingPointError("the reconstruction is not finite (the fit "
                             "diverged); lower optim.learning_rate")
  per_restart = outputs[:, 0]
  info = dip_summary.summarize_fit(problem, spec, per_restart, history,
                                   state, config, timing)
  if problem.clean is not None:
    info["variants"] = dip_summary.score_variants(problem, fit, state,
                                                  answers)
  if readout.stop_of(spec) is not None:
    info.update(dip_summary.summarize_detection(problem, recon, history,
                                                state, spec, info))
  # Each restart's own image beside their average (one run: the answer).
  restart_images = ({f"restart_{r}": img for r, img in enumerate(per_restart)}
                    if spec.num_restarts > 1 else {})
  return methods.Result(reconstruction=np.asarray(recon), history=history,
                        state=state, info=info, images=restart_images)
