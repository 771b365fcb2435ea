"""The DIP fit's own numbers for the summary: steps, time, restores, the
oracle peak, the scored end-of-run variants and the detector's choice."""

import jax
import numpy as np

from dip_jax import metrics
from dip_jax.fit import driver
from dip_jax.fit import readout
from dip_jax.fit import step as fit_core


# A final fit to y this far below the run's best is reported as a slide.
FIT_DROP_WARNING_DB = 3.0


def one_or_list(values: list):
  return values[0] if len(values) == 1 else values


def detected(spec, state, outputs):
  """Per restart, the detector's answer: the iterate kept at the minimum
  of its variance, or `outputs` (the fit's own answer) for a restart that
  had no candidate step (a run shorter than the window or `start`)."""
  stop = readout.stop_of(spec)
  if stop is None:
    return outputs
  watched = jax.device_get(state.watch[stop.name])
  found = np.asarray(watched.best_step) > 0
  best = np.asarray(watched.best_image)
  found = found.reshape(found.shape + (1,) * (best.ndim - found.ndim))
  return np.where(found, best, outputs)


def answer_curve(spec, history) -> np.ndarray:
  """Per step, the PSNR of the image the fit stands for: the restarts'
  average, or with one restart its EMA (or output)."""
  if spec.num_restarts > 1:
    return history["psnr_ensemble"]
  if "psnr_answer" in history:  # SGLD's posterior mean, DeepRED's x
    return history["psnr_answer"][:, 0]
  return history["psnr_ema" if readout.ema_decay(spec) > 0 else "psnr"][:, 0]


def summarize_fit(problem, spec, per_restart, history, state, config,
                  timing) -> dict:
  """The DIP fit's own numbers: steps, time, restores, oracle peak."""
  steps = int(np.max(state.step))
  fit_seconds, compile_seconds = timing["fit_seconds"], timing["compile_seconds"]
  s = {"steps": steps, "num_restarts": int(config.num_restarts),
       "seconds": round(fit_seconds + compile_seconds, 3),
       "compile_seconds": round(compile_seconds, 3),
       "seconds_per_step": round(fit_seconds / max(steps, 1), 5),
       "restores": readout.restores(history),
       "final_loss": float(np.mean(history["loss"][-1])),
       "reconstruction": ("ema" if config.ema_decay > 0 else "final output")
                         + (" averaged over restarts"
                            if config.num_restarts > 1 else "")}
  if "batch_size" in timing:
    # Fitted beside others in one program: its time is its share.
    s["batch_size"] = int(timing["batch_size"])
  if "psnr_observed" in history:
    fit = np.nanmean(history["psnr_observed"], axis=1)
    best = int(np.nanargmax(fit))
    if fit[-1] < fit[best] - FIT_DROP_WARNING_DB:
      s["warning"] = (f"the final fit to y ({fit[-1]:.2f} dB) is "
                      f"{fit[best] - fit[-1]:.1f} dB below its best "
                      f"({fit[best]:.2f} dB at step {best + 1}): the fit "
                      f"slid; try a lower optim.learning_rate")
  if problem.clean is not None:
    if config.num_restarts > 1:
      s["psnr_restarts"] = [metrics.psnr(x, problem.clean) for x in per_restart]
      s["psnr_single_mean"] = float(np.mean(s["psnr_restarts"]))
    curve = answer_curve(spec, history)
    peak = int(np.nanargmax(curve))
    # The oracle peak needs the clean image: a bound, not a result.
    s["oracle_peak_step"] = peak + 1
    s["oracle_peak_psnr"] = float(curve[peak])
  return s


def score_variants(problem, fit, state, answers) -> dict:
  """The end-of-run answers a paper table compares, each scored: per
  restart the net's final output f(z) ("single run") and its exponential
  average ("output average"; the same image when ema_decay = 0) and, with
  restarts, the average of the restarts' answers ("restarts averaged").
  `answers` = the fit's output program's result: the EMA images, or f(z)
  itself when ema_decay = 0 (then no second program is compiled)."""
  spec = fit.spec
  answers = answers[:, 0]  # R x image
  scored = [metrics.score(problem, x) for x in answers]
  decay = readout.ema_decay(spec)
  s = {"ema_decay": decay, "final_output": scored,
       "output_average": scored}
  if decay > 0:
    plain = np.asarray(fit_core.compile_net_outputs(spec)(state, fit.data))[:, 0]
    s["final_output"] = [metrics.score(problem, x) for x in plain]
  if spec.num_restarts > 1:
    s["restarts_average"] = metrics.score(problem, answers.mean(axis=0))
  return s


def summarize_detection(problem, recon, history, state, spec,
                        summary) -> dict:
  """The detector's numbers: where it stopped, which iterate it chose and,
  with a clean image, that iterate's PSNR and its gap to the oracle peak.

  `detected_step` is 1-based like `oracle_peak_step` (a list per restart
  with restarts; their average is the reconstruction). The peak is over the
  steps this run took: with halt, detection + patience steps.
  """
  kind = readout.stop_of(spec)
  stop = jax.device_get(state.watch[kind.name])
  steps = readout.detected_steps(spec, state)
  none = [r for r, t in enumerate(steps) if t == 0]
  label = (f"{kind.kind}-detected iterate"
           + (" averaged over restarts" if spec.num_restarts > 1 else ""))
  if len(none) == len(steps):
    # No candidate step (the gate never opened, or a run shorter than
    # `start`): the answer is the fit's own, say so.
    label = (f"{summary.get('reconstruction', 'final output')} (no "
             f"{kind.kind} candidate within the run)")
  elif none:
    label += (f" (restart(s) {', '.join(map(str, none))}: no candidate, "
              f"their own answer)")
  s = {"early_stopping": kind.kind,
       "reconstruction": label,
       "stopped_early": bool(np.all(stop.stopped)),
       # One number for one run, a list for restarts.
       "detected_step": one_or_list(steps),
       # The criterion there (discrepancy: MSE(Ax, y) / noise variance).
       "detected_variance": one_or_list([float(v) for v in stop.best])}
  if kind.lag:
    s["answer_step"] = one_or_list(readout.answer_steps(spec, state))
  if problem.clean is not None:
    s["detected_psnr"] = metrics.psnr(recon, problem.clean)
    if "oracle_peak_psnr" in summary:
      s["gap_db"] = summary["oracle_peak_psnr"] - s["detected_psnr"]
    s["final_step_psnr"] = float(answer_curve(spec, history)[-1])
  return s
