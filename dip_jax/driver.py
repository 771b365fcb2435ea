"""The one fit loop: compile, place on the mesh, resume, run chunks, log.

Every user of a compiled DIP fit (the CLI, the Python API, the sweep, the
experiments, the benchmarks and the tests) runs it through `run_fit`, so what
they measure is what a user runs. What happens between chunks is in `Hooks`:
progress lines, metrics.jsonl, PNG snapshots, orbax checkpoints; a hook left
at its default does nothing, so a notebook call needs no workdir.
"""

import dataclasses
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import budget
from dip_jax import checkpoint
from dip_jax import report
from dip_jax import sharding
from dip_jax import signals
from dip_jax.fit import step as fit_core
from dip_jax.fit import watchers as watchers_lib
from dip_jax.fit.watchers import ema as ema_lib
from dip_jax.fit.watchers import guard as guard_lib
from dip_jax.fit.watchers import stopping


@dataclasses.dataclass
class Hooks:
  """What the loop does between chunks (all optional)."""
  stream: Any = None              # progress lines go here (None = stdout)
  progress: bool = True           # print progress lines at all
  log_every: int = 0              # steps between log lines (0 = each dispatch)
  metrics_path: str | None = None  # append one JSON line per chunk
  checkpoint_dir: str | None = None  # orbax checkpoints to resume from
  checkpoint_every: int = 0
  keep_checkpoints: int = 2
  snapshot: Callable[[int, np.ndarray], None] | None = None  # (step, image)
  snapshot_every: int = 0
  eta_warning_minutes: float = 10.0
  quick_hint: str = ""


@dataclasses.dataclass
class Fit:
  """A fit ready to run: the static spec, its data, the restart keys."""
  spec: fit_core.FitSpec
  data: dict
  init_key: Any
  loop_key: Any
  num_devices: int = 0
  executable: Any = None   # the chunk program compiled from shapes (budget)
  estimate: Any = None     # its budget.Estimate


def ensemble(outputs):
  """H x W x C answer from the output batch (R x 1 x H x W x C): the average
  of the restarts, which the paper finds better than any single run (for
  R = 1 that one run, exactly)."""
  return outputs[:, 0].mean(axis=0)


def stop_of(spec):
  """The fit's early-stopping watcher (a stopping.StopSpec), or None."""
  return watchers_lib.find(spec.watchers, stopping.StopSpec)


def ema_decay(spec) -> float:
  """The output average's decay (0: the answer is the output itself)."""
  ema = watchers_lib.find(spec.watchers, ema_lib.Ema)
  return ema.decay if ema is not None else 0.0


def guarded(spec) -> bool:
  return watchers_lib.find(spec.watchers, guard_lib.Guard) is not None


def all_stopped(spec, state) -> bool:
  """Whether a halting watcher has stopped every restart."""
  return bool(jax.device_get(fit_core.halted(spec, state)))


def detected_steps(spec, state) -> list:
  """The detected step of each restart."""
  stop = state.watch[stop_of(spec).name]
  return [int(s) for s in np.asarray(jax.device_get(stop.best_step))]


def answer_steps(spec, state) -> list:
  """The step whose answer each restart kept: `lag` steps after its
  detection, or the detected step itself where the fit ended before that
  (or 0: no detection)."""
  lag = stop_of(spec).lag
  ran = int(np.max(jax.device_get(state.step)))
  return [t + lag if t and t + lag <= ran else t
          for t in detected_steps(spec, state)]


def _crossed(step, n, every, total):
  """True when the chunk that ended at `step` passed a multiple of `every`
  (or finished the run)."""
  return bool(every) and (step % every < n or step == total)


def _due(step, every):
  """Steps from `step` to the next multiple of `every` (None when off)."""
  return every - step % every if every else None


def _progress_psnr(spec, last):
  return last.get("psnr_ensemble", last.get("psnr_answer", last.get(
      "psnr_ema" if ema_decay(spec) > 0 else "psnr")))


# The guard undoing half the steps of this many in a row means it cannot
# recover: each restored state diverges again at the next step.
DIVERGENCE_WINDOW = 100


def _check_divergence(spec, recent, step):
  if len(recent) < DIVERGENCE_WINDOW:
    return
  undone = int(recent.sum(axis=0).max())
  if 2 * undone >= len(recent):
    raise FloatingPointError(
        f"the fit diverges: the guard undid {undone} of the last "
        f"{len(recent)} steps (by step {step}) at optim.learning_rate="
        f"{spec.optim.learning_rate:g}; lower the learning rate")


def _announce_long_fit(estimate, steps, hooks, say):
  """Before a fit the estimate says will outlast eta_warning_minutes, one
  line with its memory and time (the progress line corrects the time once
  steps are measured)."""
  backend = jax.default_backend()
  if (estimate is None or not estimate.flops_per_step or
      estimate.seconds_per_step(backend) * steps
      <= 60 * hooks.eta_warning_minutes):
    return
  hint = (f"; for a quick look use --config={hooks.quick_hint}"
          if hooks.quick_hint else "")
  say(budget.describe(estimate, steps, backend) + hint)


class Runner:
  """A compiled fit on its devices: `chunk(n)` runs n steps (one dispatch)
  and returns their metrics on the host. The benchmarks drive this directly;
  `run_fit` adds resuming, logging, snapshots and checkpoints."""

  def __init__(self, fit: Fit):
    spec = fit.spec
    init_fn, chunk_fn, self.output_fn = fit_core.compile_fit(spec)
    state = init_fn(fit.init_key, fit.data["z"])
    mesh = sharding.restart_mesh(spec.num_restarts, fit.num_devices)
    self.state, self.data = sharding.place(mesh, state, fit.data)
    self.loop_key = sharding.place_keys(mesh, fit.loop_key)
    if fit.executable is not None and mesh is None:
      # Compiled from the shapes by the budget check: the same program.
      self.exe = fit.executable
      self.compile_seconds = fit.estimate.compile_seconds
    else:
      t_compile = time.perf_counter()
      # Compiled ahead of time: no timed chunk includes compilation.
      self.exe = chunk_fn.lower(self.state, self.data, self.loop_key,
                                jnp.int32(1)).compile()
      self.compile_seconds = time.perf_counter() - t_compile

  def chunk(self, n: int) -> dict:
    """Runs min(n, spec.chunk) steps; the state is donated and replaced."""
    self.state, m = self.exe(self.state, self.data, self.loop_key,
                             jnp.int32(n))
    return jax.device_get(m)

def run_fit(fit: Fit, num_steps: int, hooks: Hooks | None = None):
  """Runs `fit` to `num_steps` (or to a halting detection).

  Returns (state, history: per-step numpy arrays, timing dict).
  """
  hooks = hooks or Hooks()
  runner = Runner(fit)
  spec, data, state = fit.spec, runner.data, runner.state
  output_fn = runner.output_fn

  ckpt = None
  step, history, previous_seconds = 0, {}, 0.0
  say = (lambda text: print(text, file=hooks.stream, flush=True))
  if hooks.checkpoint_dir and hooks.checkpoint_every:
    ckpt = checkpoint.Checkpointer(hooks.checkpoint_dir,
                                   keep=hooks.keep_checkpoints)
    restored = ckpt.restore_latest(state)
    if restored is not None:
      step, state, saved_history, meta = restored
      history = {k: [np.asarray(v)] for k, v in saved_history.items()}
      previous_seconds = float(meta.get("seconds", 0.0))
      runner.state = state
      say(f"resuming from the checkpoint at step {step}")
  log = (report.MetricsLog(hooks.metrics_path, keep_until_step=step)
         if hooks.metrics_path else None)
  progress = (report.Progress(num_steps, hooks.eta_warning_minutes,
                              hooks.quick_hint, hooks.stream)
              if hooks.progress else None)
  t_fit = time.perf_counter()
  if progress:
    progress.start(step)
    _announce_long_fit(fit.estimate, num_steps - step, hooks, say)
  halt = fit_core.halts(spec)
  guard = guarded(spec)
  recent = np.zeros((0, spec.num_restarts), bool)  # guard's last decisions
  while step < num_steps and not (halt and all_stopped(spec, state)):
    # One compiled program for every chunk: stop short where a log line,
    # snapshot or checkpoint falls due (every cut replays exactly).
    n = min([spec.chunk, num_steps - step] + [
        d for d in (_due(step, hooks.log_every),
                    _due(step, hooks.snapshot_every),
                    _due(step, hooks.checkpoint_every if ckpt else 0))
        if d is not None])
    chunk_metrics = runner.chunk(n)
    state = runner.state
    if halt:
      # Steps after a detection inside the chunk were skipped: keep only
      # the steps taken (restarts step together, so any one's count tells).
      n = int(np.ravel(jax.device_get(state.step))[0]) - step
    for k, v in chunk_metrics.items():
      history.setdefault(k, []).append(np.asarray(v)[:n])
    step += n
    seconds = previous_seconds + time.perf_counter() - t_fit
    # With restarts, per-restart numbers are averaged for the progress line.
    last = {k: float(np.mean(np.asarray(v)[n - 1]))
            for k, v in chunk_metrics.items()}
    if not np.isfinite(last["loss"]) and not guard:
      raise FloatingPointError(
          f"loss became non-finite by step {step}; lower "
          f"optim.learning_rate or enable guard")
    if guard:
      restored = np.asarray(chunk_metrics["restored"])[:n]
      recent = np.concatenate([recent, restored])[-DIVERGENCE_WINDOW:]
      _check_divergence(spec, recent, step)
    logged = (not hooks.log_every or step % hooks.log_every == 0
              or step == num_steps or (halt and all_stopped(spec, state)))
    if log and logged:
      log.write({"step": step, **last, "restores": restores(history),
                 "seconds": seconds})
    if progress and logged:
      fields = {"loss": last["loss"]}
      if "psnr_observed" in last:
        fields["psnr_obs"] = last["psnr_observed"]
      fields["psnr"] = _progress_psnr(spec, last)
      progress.update(step, fields)
    if hooks.snapshot and _crossed(step, n, hooks.snapshot_every, num_steps):
      hooks.snapshot(step, ensemble(np.asarray(output_fn(state, data))))
    # A SIGINT/SIGTERM that arrived during the chunk (the CLI defers them,
    # see signals.py) stops here, after a checkpoint of this very step.
    interrupted = signals.pending()
    if ckpt and (interrupted or
                 _crossed(step, n, hooks.checkpoint_every, num_steps)):
      history = {k: [np.concatenate(v)] for k, v in history.items()}
      ckpt.save(step, state, {k: v[0] for k, v in history.items()},
                {"seconds": seconds})
    if interrupted:
      if ckpt:
        ckpt.close()
      raise signals.Interrupted(interrupted, step,
                                resumable=ckpt is not None)
  if ckpt:
    ckpt.close()
  stop = stop_of(spec)
  if halt and stop is not None and all_stopped(spec, state) and hooks.progress:
    why = (f"the fit reached {stop.fit_gate:g} x the noise level at step(s) "
           f"{', '.join(map(str, detected_steps(spec, state)))}"
           if stop.kind == "discrepancy" else
           f"the variance had not decreased for {stop.patience} steps")
    picked = ", ".join(map(str, answer_steps(spec, state)))
    say(f"early stop ({stop.kind}) at step {step}: {why}; answer = the "
        f"{'output average' if ema_decay(spec) > 0 else 'iterate'} of "
        f"step(s) {picked}")
  history = {k: np.concatenate(v) for k, v in history.items()}
  timing = {"fit_seconds": previous_seconds + time.perf_counter() - t_fit,
            "compile_seconds": runner.compile_seconds}
  return state, history, timing


def restores(history) -> int:
  """How many steps the guard undid (over all restarts) so far."""
  undone = history.get("restored", [])
  return int(sum(np.sum(a) for a in undone))


def outputs(fit: Fit, state) -> np.ndarray:
  """The fit's answers per restart (EMA or f(z)), as numpy."""
  return np.asarray(fit_core.compile_fit(fit.spec)[2](state, fit.data))

