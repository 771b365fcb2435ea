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
import numpy as np

from dip_jax.fit import batch
from dip_jax.fit import budget
from dip_jax.fit import checkpoint
from dip_jax.fit import lanes as lanes_lib
from dip_jax.fit import readout
from dip_jax.fit import signals
from dip_jax.fit import step as fit_core
from dip_jax.io import report


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
  say: Callable[[str], None] | None = None  # lines go here, not to stream


# A fit ready to run, and its program on the devices (fit/lanes.py); the
# benchmarks drive a Runner chunk by chunk.
Fit = lanes_lib.Fit
Runner = lanes_lib.Runner


def ensemble(outputs):
  """H x W x C answer from the output batch (R x 1 x H x W x C): the average
  of the restarts, which the paper finds better than any single run (for
  R = 1 that one run, exactly)."""
  return outputs[:, 0].mean(axis=0)


def _crossed(step, n, every, total):
  """True when the chunk that ended at `step` passed a multiple of `every`
  (or finished the run)."""
  return bool(every) and (step % every < n or step == total)


def _due(step, every):
  """Steps from `step` to the next multiple of `every` (None when off)."""
  return every - step % every if every else None


def _progress_psnr(spec, last):
  return last.get("psnr_ensemble", last.get("psnr_answer", last.get(
      "psnr_ema" if readout.ema_decay(spec) > 0 else "psnr")))


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


def _resume(ckpts, template, say):
  """(step, states, histories, seconds) from every lane's newest checkpoint,
  or None to start afresh: none saved, or lanes that restored different
  steps (one had a damaged checkpoint moved aside)."""
  restored = [c.restore_latest(template) if c else None for c in ckpts]
  steps = {r[0] if r else 0 for r in restored}
  if steps == {0}:
    return None
  if len(steps) > 1:
    say(f"batch: its lanes' checkpoints are at steps {sorted(steps)}; "
        f"fitting them again from the start")
    return None
  step = steps.pop()
  if len(ckpts) == 1:
    say(f"resuming from the checkpoint at step {step}")
  else:
    say(f"batch of {len(ckpts)}: resuming from the checkpoints at step "
        f"{step}")
  return (step, [r[1] for r in restored],
          [{k: [np.asarray(v)] for k, v in r[2].items()} for r in restored],
          max(float(r[3].get("seconds", 0.0)) for r in restored))


def run_fit(fit: Fit, num_steps: int, hooks: Hooks | None = None):
  """Runs `fit` to `num_steps` (or to a halting detection).

  Returns (state, history: per-step numpy arrays, timing dict).
  """
  return run_fits([fit], num_steps, [hooks or Hooks()])[0]


def run_fits(fits, num_steps: int, hooks, compiled=None) -> list:
  """The one fit loop, for one fit or a batch of B fits of one spec (one
  task, canvas and setting; `batch.check_batchable`) run in one program.

  Every lane is its own run: its keys, its watchers (a lane whose detector
  halts is frozen while the others go on), its history, its `Hooks`
  (metrics.jsonl, snapshots, checkpoints every `checkpoint_every` steps and
  on SIGINT/SIGTERM); a batch resumes when all its lanes hold a checkpoint
  of one step. `hooks` is one Hooks per fit (their step settings and
  progress are read from the first); `compiled`: what
  `batch.compile_for(fits)` returned, so a batch is not compiled again.

  Returns per fit (state, history: per-step numpy arrays, timing dict);
  with B > 1 each lane's fit_seconds are its share of the batch's.
  """
  spec = batch.check_batchable(fits) if len(fits) > 1 else fits[0].spec
  first = hooks[0]
  lanes = lanes_lib.Lanes(fits, compiled)
  stream_say = first.say or (
      lambda text: print(text, file=first.stream, flush=True))
  say = stream_say if first.progress or len(fits) == 1 else (lambda _: None)
  ckpts = [checkpoint.Checkpointer(h.checkpoint_dir, keep=h.keep_checkpoints)
           if h.checkpoint_dir and h.checkpoint_every else None
           for h in hooks]
  every = first.checkpoint_every if any(ckpts) else 0
  step, histories, previous_seconds = _start(lanes, ckpts, stream_say)
  logs = [report.MetricsLog(h.metrics_path, keep_until_step=step)
          if h.metrics_path else None for h in hooks]
  progress = (report.Progress(num_steps, first.eta_warning_minutes,
                              first.quick_hint, first.stream)
              if first.progress and len(fits) == 1 else None)
  t_fit = time.perf_counter()
  if progress:
    progress.start(step)
    _announce_long_fit(fits[0].estimate, num_steps - step, first, stream_say)
  halt = fit_core.halts(spec)
  guard = readout.guarded(spec)
  # The guard's last decisions, per lane.
  recent = [np.zeros((0, spec.num_restarts), bool) for _ in fits]
  seen = lanes.taken()
  stopped = lambda: halt and readout.all_stopped(spec, lanes.states)
  try:
    while step < num_steps and not stopped():
      # One compiled program for every chunk: stop short where a log line,
      # snapshot or checkpoint falls due (every cut replays exactly).
      n = min([spec.chunk, num_steps - step] + [
          d for d in (_due(step, first.log_every),
                      _due(step, first.snapshot_every),
                      _due(step, every)) if d is not None])
      m = lanes.chunk(n)
      # Steps after a detection inside the chunk were skipped: each lane
      # keeps only the steps it took.
      now = lanes.taken()
      for i, hist in enumerate(histories):
        for k, v in m.items():
          hist.setdefault(k, []).append(v[i, :now[i] - seen[i]])
      if halt and len(fits) == 1:
        n = int(now[0]) - step
      step += n
      seconds = previous_seconds + time.perf_counter() - t_fit
      _check_lanes(spec, m, now - seen, guard, recent, step)
      logged = (not first.log_every or step % first.log_every == 0
                or step == num_steps or stopped())
      if logged:
        _log_lanes(logs, m, now, seen, histories, seconds)
        _report(progress, spec, m, int(now[0] - seen[0]), n, step,
                num_steps, len(fits), say, t_fit)
      seen = now
      _snapshot_lanes(hooks, lanes, step, n, num_steps)
      # A SIGINT/SIGTERM that arrived during the chunk (the CLI defers
      # them, see signals.py) stops here, after a checkpoint of this step.
      interrupted = signals.pending()
      if any(ckpts) and (interrupted or _crossed(step, n, every, num_steps)):
        _save_lanes(ckpts, histories, lanes, step, seconds)
      if interrupted:
        raise signals.Interrupted(interrupted, step,
                                  resumable=any(ckpts))
  finally:
    for ckpt in ckpts:
      if ckpt:
        ckpt.close()
  if len(fits) == 1 and halt and stopped() and first.progress:
    _say_stop(spec, lanes.states, step, stream_say)
  return _results(lanes, histories,
                  previous_seconds + time.perf_counter() - t_fit)


def _start(lanes, ckpts, say):
  """Sets the lanes' first states, from their checkpoints where they all
  hold one; returns (step, histories, seconds so far)."""
  # Lane 0's start is drawn once: the template checkpoints restore into,
  # and lane 0's state when the fit starts afresh.
  first_state = lanes.first_state()
  resumed = _resume(ckpts, first_state, say) if any(ckpts) else None
  if resumed:
    step, states, histories, previous_seconds = resumed
  else:
    step, previous_seconds = 0, 0.0
    states = [first_state] + [None] * (len(lanes.fits) - 1)
    histories = [{} for _ in lanes.fits]
  del first_state
  lanes.start(states)
  return step, histories, previous_seconds


def _results(lanes, histories, seconds) -> list:
  """Per lane (state, history, timing): a batch's seconds are shared."""
  runs = []
  for i, hist in enumerate(histories):
    timing = {"fit_seconds": seconds / len(histories),
              "compile_seconds": lanes.compile_seconds}
    if len(histories) > 1:
      timing["batch_size"] = len(histories)
    runs.append((lanes.lane(i),
                 {k: np.concatenate(v) for k, v in hist.items()}, timing))
  return runs


def _log_lanes(logs, m, now, seen, histories, seconds):
  """A metrics.jsonl line for each lane that stepped in this chunk."""
  for i, log in enumerate(logs):
    if log and now[i] > seen[i]:
      log.write({"step": int(now[i]), **_last(m, i, now[i] - seen[i]),
                 "restores": readout.restores(histories[i]),
                 "seconds": seconds})


def _snapshot_lanes(hooks, lanes, step, n, num_steps):
  """The answers of the lanes whose snapshot falls due (computed once)."""
  due = [i for i, h in enumerate(hooks) if h.snapshot and
         _crossed(step, n, h.snapshot_every, num_steps)]
  if due:
    answers = lanes.outputs()
    for i in due:
      hooks[i].snapshot(step, ensemble(answers[i]))


def _save_lanes(ckpts, histories, lanes, step, seconds):
  """Every lane's checkpoint of `step`, with its history so far."""
  for i, ckpt in enumerate(ckpts):
    hist = {k: np.concatenate(v) for k, v in histories[i].items()}
    histories[i] = {k: [v] for k, v in hist.items()}
    if ckpt:
      ckpt.save(step, lanes.lane(i), hist, {"seconds": seconds})


def _last(m, i, n) -> dict:
  """Lane i's numbers at its last step of the chunk (restarts averaged)."""
  return {k: float(np.mean(np.asarray(v)[i, n - 1])) for k, v in m.items()}


def _check_lanes(spec, m, taken, guard, recent, step):
  """A non-finite loss without the guard, or a guard that keeps undoing
  steps, ends the fit in one line naming the lanes."""
  for i, n in enumerate(taken):
    if n <= 0:
      continue
    if not guard and not np.all(np.isfinite(m["loss"][i, n - 1])):
      which = f" in image {i}" if len(taken) > 1 else ""
      raise FloatingPointError(
          f"loss became non-finite by step {step}{which}; lower "
          f"optim.learning_rate or enable guard")
    if guard:
      recent[i] = np.concatenate([recent[i],
                                  m["restored"][i, :n]])[-DIVERGENCE_WINDOW:]
      _check_divergence(spec, recent[i], step)


def _report(progress, spec, m, n, n_chunk, step, num_steps, lanes, say,
            t_fit):
  """The progress line: one fit's (loss, PSNRs, rate, ETA) at its n-th step
  of the chunk, or a batch's at the chunk's last step."""
  if progress:
    last = _last(m, 0, n)
    fields = {"loss": last["loss"]}
    if "psnr_observed" in last:
      fields["psnr_obs"] = last["psnr_observed"]
    fields["psnr"] = _progress_psnr(spec, last)
    progress.update(step, fields)
  elif lanes > 1:
    loss = np.asarray(m["loss"])[:, n_chunk - 1]
    loss = loss[np.isfinite(loss)]  # lanes that halted report NaN
    mean = f"{float(loss.mean()):.5f}" if loss.size else "-"
    say(f"batch of {lanes}: step {step}/{num_steps}, mean loss {mean}, "
        f"{time.perf_counter() - t_fit:.1f} s")


def _say_stop(spec, state, step, say):
  stop = readout.stop_of(spec)
  steps = lambda ts: ", ".join(map(str, ts))
  picked = steps(readout.answer_steps(spec, state))
  if stop.banded:
    why = (f"the fit came within {stop.fit_gate * (1 + stop.band):g} x the "
           f"noise level at step(s) "
           f"{steps(readout.detected_steps(spec, state))} and to "
           f"{stop.fit_gate * (1 - stop.band):g} x at "
           f"{steps(readout.band_ends(spec, state))}")
    picked += f" (kept nearest the band's middle + {stop.lag})"
  elif stop.kind == "discrepancy":
    why = (f"the fit reached {stop.fit_gate:g} x the noise level at step(s) "
           f"{steps(readout.detected_steps(spec, state))}")
  else:
    why = f"the variance had not decreased for {stop.patience} steps"
  say(f"early stop ({stop.kind}) at step {step}: {why}; answer = the "
      f"{'output average' if readout.ema_decay(spec) > 0 else 'iterate'} of "
      f"step(s) {picked}")


def outputs(fit: Fit, state) -> np.ndarray:
  """The fit's answers per restart (EMA or f(z)), as numpy."""
  return np.asarray(fit_core.compile_fit(fit.spec)[2](state, fit.data))

