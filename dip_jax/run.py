"""One reconstruction: build the problem, fit, write the outputs.

`reconstruct(config, workdir)` is what `python -m dip_jax.main` calls. It
validates everything it can (input file, config values, net vs image size)
before it writes anything, and writes every output atomically, so a failed
run never replaces a finished result.
"""

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import checkpoint
from dip_jax import evaluate
from dip_jax import images
from dip_jax import metrics
from dip_jax import nets
from dip_jax import operators
from dip_jax import problem as problem_lib
from dip_jax import report
from dip_jax import sharding
from dip_jax import stopping
from dip_jax.errors import InputError
from dip_jax.priors import dip

SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"


def build_fit(config, problem):
  """(FitSpec, data dict, init key, loop key) for a problem and config."""
  if config.num_steps < 1:
    raise InputError(f"num_steps must be >= 1, got {config.num_steps}")
  if config.log_every < 1:
    raise InputError(f"log_every must be >= 1, got {config.log_every}")
  h, w, c = problem.out_shape
  depth = nets.net_depth(config.net)
  # Reflect-pad the working canvas to a multiple of 2**depth (and at least
  # 2**(depth+1), so the deepest maps are 2x2) instead of cropping the image.
  pad = images.canvas_padding(h, w, 2 ** depth, 2 ** (depth + 1))
  canvas_h, canvas_w = h + pad[0] + pad[1], w + pad[2] + pad[3]
  restarts = int(config.num_restarts)
  if restarts < 1:
    raise InputError(f"num_restarts must be >= 1, got {restarts}")
  # Validates early; with a mesh every restart stays vmapped (it shards
  # that axis), so no grouping.
  split = sharding.restart_mesh(restarts, config.num_devices) is not None
  try:
    net = nets.build_net(config.net, out_channels=c)
  except ValueError as e:
    raise InputError(str(e)) from None
  try:
    es = config.get("early_stopping")
    stop_spec = stopping.from_config(es) if es is not None else None
  except ValueError as e:
    raise InputError(str(e)) from None
  spec = dip.FitSpec(
      net=net,
      operator=operators.build_operator(config.operator),
      data_term=operators.get_data_term(config.loss),
      learning_rate=float(config.optim.learning_rate),
      reg_noise_std=float(config.input.reg_noise_std),
      ema_decay=float(config.ema_decay),
      guard=bool(config.guard.enabled),
      guard_psnr_drop=float(config.guard.psnr_drop),
      guard_every=int(config.guard.every),
      crop=(pad[0], pad[2], h, w),
      chunk=int(min(config.log_every, config.num_steps)),
      num_restarts=restarts,
      restart_group=(restarts if split else
                     _restart_group(config, restarts, canvas_h * canvas_w)),
      stopping=stop_spec)
  init_key, input_key, loop_key = jax.random.split(
      jax.random.key(config.seed), 3)
  make_z = lambda k: dip.make_input(k, config.input.kind, config.input.channels,
                                    canvas_h, canvas_w, config.input.scale)
  if problem.net_input is not None:
    # A fixed image as input (the flash photo), on the padded canvas.
    z = jnp.asarray(images.pad_canvas(problem.net_input, pad))[None]
    if restarts > 1:
      z = jnp.broadcast_to(z, (restarts, *z.shape))
  else:
    try:
      z = jax.vmap(make_z)(dip.restart_keys(spec, input_key)) if restarts > 1 \
          else make_z(dip.restart_keys(spec, input_key))
    except ValueError as e:
      raise InputError(str(e)) from None
  data = {"z": z, "observed": jnp.asarray(problem.observed)[None]}
  if problem.mask is not None:
    data["mask"] = jnp.asarray(problem.mask)[None]
  if problem.clean is not None:
    data["clean"] = jnp.asarray(problem.clean)[None]
  return (spec, data, dip.restart_keys(spec, init_key),
          dip.restart_keys(spec, loop_key))


def _restart_group(config, restarts: int, pixels: int) -> int:
  """config.restart_group, resolved: 0 = auto (dip.auto_restart_group)."""
  group = int(config.get("restart_group", 0))
  if group < 0 or (group and restarts % group):
    raise InputError(f"restart_group={group} must be 0 (auto) or a divisor "
                     f"of num_restarts={restarts}")
  if group:
    return group
  net = config.net
  channels = max([*net.channels_down, *net.channels_up, net.channels,
                  config.input.channels])
  return dip.auto_restart_group(restarts, pixels, channels,
                                jax.default_backend())


def check_workdir(workdir: str, config_json: dict) -> dict | None:
  """Returns the summary of a finished identical run, or None when the
  workdir is free (or holds this same run, unfinished). Refuses a workdir
  whose run, finished or not, had a different config."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"workdir {workdir} exists and is not a directory")
  config_path = os.path.join(workdir, "config.json")
  summary_path = os.path.join(workdir, SUMMARY)
  finished = os.path.exists(summary_path)
  started = os.path.isdir(os.path.join(workdir, CHECKPOINTS))
  if not (finished or started) or not os.path.exists(config_path):
    return None
  try:
    with open(config_path) as f:
      previous = json.load(f)
  except (OSError, ValueError):
    raise InputError(f"workdir {workdir} holds a run whose config.json "
                     f"cannot be read; choose another --workdir") from None
  if previous != config_json:
    state = "finished" if finished else "unfinished"
    raise InputError(f"workdir {workdir} already holds a {state} run with a "
                     f"different config; choose another --workdir")
  if not finished:
    return None
  try:
    with open(summary_path) as f:
      return json.load(f)
  except (OSError, ValueError):
    raise InputError(f"workdir {workdir} holds a finished run whose "
                     f"summary.json cannot be read") from None


def reconstruct(config, workdir: str, stream=None) -> dict:
  """Runs the configured reconstruction into `workdir`; returns the summary.

  Resumes from the latest checkpoint in `workdir` when there is one, and
  does nothing when `workdir` already holds this finished run.
  """
  config_json = json.loads(config.to_json())
  if config.prior not in ("dip", "tv"):
    raise InputError(f"unknown prior {config.prior!r}; known: ['dip', 'tv']")
  problem = problem_lib.build_problem(config)
  fit_args = build_fit(config, problem) if config.prior == "dip" else None
  finished = check_workdir(workdir, config_json)
  if finished is not None:
    print(f"{workdir} already holds this finished run (PSNR "
          f"{finished.get('psnr')}); nothing to do", file=stream, flush=True)
    return finished
  try:
    os.makedirs(os.path.join(workdir, "snapshots"), exist_ok=True)
  except OSError as e:
    raise InputError(f"cannot create workdir {workdir}: {e.strerror}") from None
  if not os.access(workdir, os.W_OK):
    raise InputError(f"workdir {workdir} is not writable")
  for note in problem.notes:
    print(f"note: {note}", file=stream, flush=True)
  report.write_json(os.path.join(workdir, "config.json"), config_json)
  save = lambda name, img: images.save_image(
      os.path.join(workdir, name), img, problem.alpha, problem.bit_depth)
  images.save_image(os.path.join(workdir, "corrupted.png"),
                    problem.observed_for_display(), problem.alpha,
                    problem.bit_depth)

  base_name, base_img = evaluate.corrupted_baseline(problem)
  summary = {"task": config.task, "image": problem.source,
             "prior": config.prior, "device": report.jax_device()}
  summary.update(evaluate.score(problem, base_img, f"{base_name}_"))
  if base_name == "corrupted":
    summary.pop("corrupted_ssim", None)
  panels = [(_label(base_name, summary.get(f"{base_name}_psnr")), base_img)]
  if config.tv.enabled or config.prior == "tv":
    tv_img, tv_info = evaluate.solve_tv(problem, config)
    summary["tv"] = {**tv_info, **evaluate.score(problem, tv_img)}
    panels.append((_label("TV", summary["tv"].get("psnr")), tv_img))
    save("tv.png", tv_img)
  if config.prior == "tv":
    recon = tv_img
    summary.update({"steps": summary["tv"]["iterations"],
                    "seconds": summary["tv"]["seconds"]})
  else:
    spec, data, init_key, loop_key = fit_args
    state, history, timing = fit(config, spec, data, init_key, loop_key,
                                 problem, workdir, stream)
    _, _, output_fn = dip.compile_fit(spec)
    answers = np.asarray(output_fn(state, data))
    outputs = _detected(spec, state, answers)
    recon = _ensemble(outputs, spec)
    per_restart = outputs[:, 0] if spec.num_restarts > 1 else outputs
    if spec.num_restarts > 1:
      for r, img in enumerate(per_restart):
        save(f"restart_{r}.png", img)
    summary.update(summarize_fit(problem, per_restart, history, state, config,
                                 timing))
    if problem.clean is not None:
      summary["variants"] = score_variants(problem, spec, state, data,
                                           answers)
    if spec.stopping is not None:
      summary.update(summarize_detection(problem, recon, history, state,
                                         spec, summary))
    np.savez(os.path.join(workdir, "history.npz"), **history)
  summary.update(evaluate.score(problem, recon))
  # The old key names, kept for scripts: PSNR of the corrupted input.
  if "corrupted_psnr" in summary:
    summary["psnr_corrupted"] = summary["corrupted_psnr"]
  save("reconstruction.png", recon)
  panels.append((_label("DIP" if config.prior == "dip" else "reconstruction",
                        summary.get("psnr")), recon))
  if problem.clean is not None:
    panels.append(("clean", problem.clean))
  report.comparison_panel(os.path.join(workdir, "comparison.png"), panels)
  # summary.json last: its presence marks the run as finished.
  report.write_json(os.path.join(workdir, SUMMARY), summary)
  return summary


def fit(config, spec, data, init_key, loop_key, problem, workdir, stream):
  """The chunked fit loop with progress, metrics, snapshots, checkpoints.

  Returns (state, history: per-step numpy arrays, timing dict).
  """
  init_fn, chunk_fn, output_fn = dip.compile_fit(spec)
  state = init_fn(init_key, data["z"])
  mesh = sharding.restart_mesh(spec.num_restarts, config.num_devices)
  state, data = sharding.place(mesh, state, data)
  loop_key = sharding.place_keys(mesh, loop_key)
  t_compile = time.perf_counter()
  chunk_exe = chunk_fn.lower(state, data, loop_key, jnp.int32(1)).compile()
  compile_seconds = time.perf_counter() - t_compile

  ckpt = None
  step, history, previous_seconds = 0, {}, 0.0
  if config.checkpoint_every:
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, CHECKPOINTS),
                                   keep=config.keep_checkpoints)
    restored = ckpt.restore_latest(state)
    if restored is not None:
      step, state, saved_history, meta = restored
      history = {k: [np.asarray(v)] for k, v in saved_history.items()}
      previous_seconds = float(meta.get("seconds", 0.0))
      print(f"resuming from the checkpoint at step {step}", file=stream,
            flush=True)
  log = report.MetricsLog(os.path.join(workdir, "metrics.jsonl"),
                          keep_until_step=step)
  progress = report.Progress(config.num_steps, config.eta_warning_minutes,
                             config.quick_hint, stream)
  t_fit = time.perf_counter()
  progress.start(step)
  halt = spec.stopping is not None and spec.stopping.halt
  while step < config.num_steps and not (halt and _all_stopped(state)):
    n = min(spec.chunk, config.num_steps - step)
    state, chunk_metrics = chunk_exe(state, data, loop_key, jnp.int32(n))
    chunk_metrics = jax.device_get(chunk_metrics)
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
    if not np.isfinite(last["loss"]) and not spec.guard:
      raise FloatingPointError(
          f"loss became non-finite by step {step}; lower "
          f"optim.learning_rate or enable guard")
    log.write({"step": step, **last, "restores": int(np.sum(state.restores)),
               "seconds": seconds})
    progress.update(step, {"loss": last["loss"],
                           "psnr_obs": last["psnr_observed"],
                           "psnr": last.get("psnr_ensemble", last.get(
                               "psnr_ema" if spec.ema_decay > 0 else "psnr"))})
    if _crossed(step, n, config.snapshot_every, config.num_steps):
      snap = _ensemble(np.asarray(output_fn(state, data)), spec)
      images.save_image(os.path.join(workdir, "snapshots",
                                     f"step_{step:06d}.png"),
                        snap, problem.alpha, problem.bit_depth)
    if ckpt and _crossed(step, n, config.checkpoint_every, config.num_steps):
      history = {k: [np.concatenate(v)] for k, v in history.items()}
      ckpt.save(step, state, {k: v[0] for k, v in history.items()},
                {"seconds": seconds})
  if ckpt:
    ckpt.close()
  if halt and _all_stopped(state):
    print(f"early stop ({spec.stopping.kind}) at step {step}: the variance "
          f"had not decreased for {spec.stopping.patience} steps; answer = "
          f"the iterate of step(s) {_detected_steps(state)}", file=stream,
          flush=True)
  history = {k: np.concatenate(v) for k, v in history.items()}
  timing = {"fit_seconds": previous_seconds + time.perf_counter() - t_fit,
            "compile_seconds": compile_seconds}
  return state, history, timing


def _ensemble(outputs, spec):
  """H x W x C answer from the output batch: with restarts (R x 1 x H x W x C)
  their average, which the paper finds better than any single run."""
  return outputs[:, 0].mean(axis=0) if spec.num_restarts > 1 else outputs[0]


def _all_stopped(state) -> bool:
  return bool(np.all(jax.device_get(state.stop.stopped)))


def _detected_steps(state):
  """The detected step (one restart) or the list of them (restarts)."""
  steps = np.asarray(jax.device_get(state.stop.best_step))
  return int(steps) if steps.ndim == 0 else [int(s) for s in steps]


def _detected(spec, state, outputs):
  """Per restart, the detector's answer: the iterate kept at the minimum
  of its variance, or `outputs` (the fit's own answer) for a restart that
  had no candidate step (a run shorter than the window or `start`)."""
  if spec.stopping is None:
    return outputs
  found = np.asarray(jax.device_get(state.stop.best_step)) > 0
  best = np.asarray(jax.device_get(state.stop.best_image))
  found = found.reshape(found.shape + (1,) * (best.ndim - found.ndim))
  return np.where(found, best, outputs)


def _crossed(step, n, every, total):
  """True when the chunk that ended at `step` passed a multiple of `every`
  (or finished the run)."""
  return bool(every) and (step % every < n or step == total)


def _label(name, psnr):
  return f"{name} {psnr:.2f} dB" if psnr is not None else name


def summarize_fit(problem, per_restart, history, state, config,
                  timing) -> dict:
  """The DIP fit's own numbers: steps, time, restores, oracle peak."""
  steps = int(np.max(state.step))
  fit_seconds, compile_seconds = timing["fit_seconds"], timing["compile_seconds"]
  s = {"steps": steps, "num_restarts": int(config.num_restarts),
       "seconds": round(fit_seconds + compile_seconds, 3),
       "compile_seconds": round(compile_seconds, 3),
       "seconds_per_step": round(fit_seconds / max(steps, 1), 5),
       "restores": int(np.sum(state.restores)),
       "final_loss": float(np.mean(history["loss"][-1])),
       "reconstruction": ("ema" if config.ema_decay > 0 else "final output")
                         + (" averaged over restarts"
                            if config.num_restarts > 1 else "")}
  if problem.clean is not None:
    if config.num_restarts > 1:
      s["psnr_restarts"] = [metrics.psnr(x, problem.clean) for x in per_restart]
      s["psnr_single_mean"] = float(np.mean(s["psnr_restarts"]))
    name = "psnr_ensemble" if config.num_restarts > 1 else (
        "psnr_ema" if config.ema_decay > 0 else "psnr")
    curve = history[name]
    peak = int(np.nanargmax(curve))
    # The oracle peak needs the clean image: a bound, not a result.
    s["oracle_peak_step"] = peak + 1
    s["oracle_peak_psnr"] = float(curve[peak])
  return s


def score_variants(problem, spec, state, data, answers) -> dict:
  """The end-of-run answers a paper table compares, each scored: per
  restart the net's final output f(z) ("single run") and its exponential
  average ("output average"; the same image when ema_decay = 0) and, with
  restarts, the average of the restarts' answers ("restarts averaged").
  `answers` = the fit's output program's result: the EMA images, or f(z)
  itself when ema_decay = 0 (then no second program is compiled)."""
  per_restart = lambda a: a[:, 0] if spec.num_restarts > 1 else a  # R x image
  answers = per_restart(answers)
  scored = [evaluate.score(problem, x) for x in answers]
  s = {"ema_decay": spec.ema_decay, "final_output": scored,
       "output_average": scored}
  if spec.ema_decay > 0:
    plain = per_restart(np.asarray(
        dip.compile_net_outputs(spec)(state, data)))
    s["final_output"] = [evaluate.score(problem, x) for x in plain]
  if spec.num_restarts > 1:
    s["restarts_average"] = evaluate.score(problem, answers.mean(axis=0))
  return s


def summarize_detection(problem, recon, history, state, spec,
                        summary) -> dict:
  """The detector's numbers: where it stopped, which iterate it chose and,
  with a clean image, that iterate's PSNR and its gap to the oracle peak.

  `detected_step` is 1-based like `oracle_peak_step` (a list per restart
  with restarts; their average is the reconstruction). The peak is over the
  steps this run took: with halt, detection + patience steps.
  """
  stop = jax.device_get(state.stop)
  s = {"early_stopping": spec.stopping.kind,
       "reconstruction": f"{spec.stopping.kind}-detected iterate"
                         + (" averaged over restarts"
                            if spec.num_restarts > 1 else ""),
       "stopped_early": bool(np.all(stop.stopped)),
       "detected_step": _detected_steps(state),
       "detected_variance": (float(stop.best) if np.ndim(stop.best) == 0
                             else [float(v) for v in stop.best])}
  if problem.clean is not None:
    s["detected_psnr"] = metrics.psnr(recon, problem.clean)
    if "oracle_peak_psnr" in summary:
      s["gap_db"] = summary["oracle_peak_psnr"] - s["detected_psnr"]
    name = "psnr_ensemble" if spec.num_restarts > 1 else (
        "psnr_ema" if spec.ema_decay > 0 else "psnr")
    s["final_step_psnr"] = float(np.mean(history[name][-1]))
  return s
