"""One CLI reconstruction into a workdir: problem -> method (+ baselines) ->
outputs.

`reconstruct(config, workdir)` is what `python -m dip_jax.main` calls. It
validates everything it can (input file, config values, net vs image size)
before it writes anything, and writes every output atomically, so a failed
run never replaces a finished result. The method comes from the registry
(`config.method`: dip, tv, ...); the fit loop is `driver.run_fit`.
"""

import contextlib
import json
import os

import numpy as np

from dip_jax import data as data_lib
from dip_jax import methods
from dip_jax import metrics
from dip_jax.data import tasks
from dip_jax.errors import InputError
from dip_jax.fit import budget
from dip_jax.fit import driver
from dip_jax.fit import signals
from dip_jax.io import curves
from dip_jax.io import images
from dip_jax.io import report
from dip_jax.io import results
from dip_jax.io import workdir as workdir_lib
from dip_jax.methods import dip as dip_method
from dip_jax.methods import tv as tv_method

SUMMARY = workdir_lib.SUMMARY
CHECKPOINTS = workdir_lib.CHECKPOINTS


def hooks_for(config, workdir: str, problem, stream) -> driver.Hooks:
  """The driver's hooks of a CLI run: progress, metrics.jsonl, snapshots
  and checkpoints in `workdir`."""
  def snapshot(step, img):
    save_x(os.path.join(workdir, workdir_lib.SNAPSHOTS, f"step_{step:06d}"),
           img, problem)
  return driver.Hooks(
      stream=stream, log_every=int(config.log_every),
      metrics_path=os.path.join(workdir, "metrics.jsonl"),
      checkpoint_dir=os.path.join(workdir, CHECKPOINTS),
      checkpoint_every=int(config.checkpoint_every),
      keep_checkpoints=int(config.keep_checkpoints), snapshot=snapshot,
      snapshot_every=int(config.snapshot_every),
      eta_warning_minutes=float(config.eta_warning_minutes),
      quick_hint=config.quick_hint)


def save_x(stem: str, x, problem) -> None:
  """x as `stem`.png, or as one PNG per view (`stem`_amplitude.png, ...)
  when its channels are no single picture (then also `stem`.npy, the values
  themselves)."""
  named = problem.operator.views(x)
  for name, img in named.items():
    images.save_image(f"{stem}_{name}.png" if name else f"{stem}.png", img,
                      problem.alpha, problem.bit_depth)
  if "" not in named:
    tmp = f"{stem}.tmp-{os.getpid()}.npy"
    np.save(tmp, np.asarray(x, np.float32))
    os.replace(tmp, f"{stem}.npy")


def _panels(name: str, x, problem, scores=None) -> list:
  """Comparison tiles of x, one per view, each labelled with its PSNR
  (`psnr_<view>` where the scores have one, else `psnr`)."""
  scores = scores or {}
  tiles = []
  for view, img in problem.operator.views(x).items():
    psnr = scores.get(f"psnr_{view}", scores.get("psnr"))
    label = " ".join(p for p in (name, view) if p)
    tiles.append((f"{label} {psnr:.2f} dB" if psnr is not None else label,
                  img))
  return tiles


def check_before_decoding(config) -> None:
  """Refuses, in one line and before a pixel of `config.image` is decoded,
  an image over config.max_pixels or one whose fit will not fit in memory:
  the method's validation and budget check run on a stand-in of the
  image's shapes (`problem.shape_problem`), so a photo too large for the
  machine costs what its header costs, not its decoded copies: a fit whose
  floor (`budget.floor_bytes`) exceeds the memory is refused before it is
  compiled, any other after its compilation. Images whose pixels take less
  than budget.HEADER_CHECK_BYTES are left to the check after decoding,
  which compiles the fit once instead of twice."""
  if not config.image or tasks.builder(config.task) is not None:
    return
  shape = images.read_shape(config.image, max_pixels=int(config.max_pixels))
  if shape is None or 4 * np.prod(shape) <= budget.HEADER_CHECK_BYTES:
    return
  stand_in = data_lib.shape_problem(config)
  if stand_in is not None:
    budget.checked_only(
        lambda: methods.prepare(config.method, stand_in, config), config)


def reconstruct(config, workdir: str, stream=None) -> dict:
  """Runs the configured reconstruction into `workdir`; returns the summary.

  Resumes from the latest checkpoint in `workdir` when there is one, and
  does nothing when `workdir` already holds this finished run. Holds the
  workdir's lock throughout (another run there is refused), and under
  `signals.handled()` stops between fit chunks on SIGINT / SIGTERM by
  raising `signals.Interrupted`.
  """
  config_json = json.loads(config.to_json())
  solve = methods.get(config.method)
  # Validated (and the fit compiled, for its budget check) before the
  # workdir is looked at: bad input is named as such, even in a workdir
  # that holds a finished run, and leaves no half-made workdir behind.
  check_before_decoding(config)
  problem = data_lib.build_problem(config)
  prepared = methods.prepare(config.method, problem, config)
  finished = workdir_lib.check(workdir, config_json)
  if finished is None:
    # One process per workdir, from before the first write to the last.
    with workdir_lib.locked(workdir):
      # Checked again under the lock: the run that held it may have
      # finished meanwhile.
      finished = workdir_lib.check(workdir, config_json)
      if finished is None:
        return _write_run(config, workdir, stream, config_json, solve,
                          problem, prepared)
  print(f"{workdir} already holds this finished run (PSNR "
        f"{finished.get('psnr')}); nothing to do", file=stream, flush=True)
  return finished


def reconstruct_batch(configs, workdirs, stream=None, max_batch: int = 0,
                      say=None) -> list:
  """`reconstruct` for each (config, workdir), the DIP fits of the
  unfinished ones sharing programs of up to `max_batch` (0: all) fits
  (methods.dip.solve_batch): the configs differ in image and seed only, and
  the images have one size. Each workdir gets what its own run writes,
  metrics.jsonl, snapshots and checkpoints included (every
  config.checkpoint_every steps): a cut batch
  resumes from them, as does each image's own run. The unfinished
  workdirs are all locked from before the fit to the last write.
  Returns the summaries, in order."""
  jsons = [json.loads(c.to_json()) for c in configs]
  if not all(methods.batches(c.method) for c in configs):
    raise InputError(f"only method={' or '.join(sorted(methods.BATCHED))} "
                     f"runs many images in one program")
  checked = set()
  for c in configs:
    # One check per image size: the configs differ in image and seed only.
    shape = images.read_shape(c.image, int(c.max_pixels)) if c.image else None
    if shape not in checked:
      checked.add(shape)
      check_before_decoding(c)
  problems = [data_lib.build_problem(c) for c in configs]
  finished = [workdir_lib.check(w, j) for w, j in zip(workdirs, jsons)]
  todo = [i for i, f in enumerate(finished) if f is None]
  with contextlib.ExitStack() as locks:
    for i in todo:
      locks.enter_context(workdir_lib.locked(workdirs[i]))
      # Checked again under the lock: another process may have finished it.
      if workdir_lib.check(workdirs[i], jsons[i]) is not None:
        raise InputError(f"{workdirs[i]} was finished by another process "
                         f"meanwhile")
      # Before the first checkpoint, as a single run writes it: a resumed
      # fit is refused under another config.
      report.write_json(os.path.join(workdirs[i], "config.json"), jsons[i])
    with signals.deferred():  # a signal stops the batch between chunks
      fitted = dict(zip(todo, dip_method.solve_batch(
          [problems[i] for i in todo], [configs[i] for i in todo], say,
          max_batch, hooks=[hooks_for(configs[i], workdirs[i], problems[i],
                                      stream) for i in todo],
          method=configs[todo[0]].method))) if todo else {}
    summaries = []
    for i, (config, workdir) in enumerate(zip(configs, workdirs)):
      if i not in fitted:
        summaries.append(finished[i])
        continue
      done = lambda *args, i=i, **kwargs: fitted[i]
      summaries.append(_write_run(config, workdir, stream, jsons[i], done,
                                  problems[i], {}))
  return summaries


def _write_run(config, workdir, stream, config_json, solve, problem,
               prepared) -> dict:
  """The body of `reconstruct`, run holding the workdir's lock."""
  for note in problem.notes:
    print(f"note: {note}", file=stream, flush=True)
  report.write_json(os.path.join(workdir, "config.json"), config_json)
  save = lambda stem, img: save_x(os.path.join(workdir, stem), img, problem)
  shown = problem.observed_for_display()
  if shown is not None:
    images.save_image(os.path.join(workdir, "corrupted.png"), shown,
                      problem.alpha, problem.bit_depth)

  summary = {"task": config.task, "image": problem.source,
             "method": config.method, "device": report.jax_device()}
  panels = []
  baseline = metrics.corrupted_baseline(problem)
  if baseline is not None:
    base_name, base_img = baseline
    summary.update(metrics.score(problem, base_img, f"{base_name}_"))
    if base_name == "corrupted":
      summary.pop("corrupted_ssim", None)
    if base_name != "corrupted":  # corrupted.png is written above
      save(base_name, base_img)
    panels += _panels(base_name, base_img, problem, {
        k[len(base_name) + 1:]: v for k, v in summary.items()
        if k.startswith(f"{base_name}_")})
  tv = _tv_baseline(problem, config, summary, stream)
  if tv is not None:
    panels += _panels("TV", tv.reconstruction, problem, summary["tv"])
    save("tv", tv.reconstruction)
  if config.method == "tv":
    result = tv
    summary.update({"steps": tv.info["iterations"],
                    "seconds": tv.info["seconds"]})
  else:
    hooks = hooks_for(config, workdir, problem, stream)
    with signals.deferred():  # a signal stops the fit between chunks
      result = solve(problem, config, hooks, **prepared)
    for name, img in result.images.items():
      save(name, img)
    summary.update(result.info)
    if "warning" in result.info:
      print(f"warning: {result.info['warning']}", file=stream, flush=True)
    if result.history:
      np.savez(os.path.join(workdir, "history.npz"), **result.history)
      curves.write_curves(os.path.join(workdir, "curves.png"),
                          result.history, summary)
  recon = result.reconstruction
  summary.update(metrics.score(problem, recon))
  save("reconstruction", recon)
  for label, name in result.panels.items():
    part = result.images[name]
    panels += _panels(label, part, problem, metrics.score(problem, part))
  panels += _panels("DIP" if config.method == "dip" else "reconstruction",
                    recon, problem, summary)
  if problem.clean is not None:
    panels += _panels("clean", problem.clean, problem)
  report.comparison_panel(os.path.join(workdir, "comparison.png"), panels)
  # summary.json last: its presence marks the run as finished. Written
  # through the schema, which also keeps the old key psnr_corrupted.
  typed = results.Summary.from_dict(summary)
  typed.write(os.path.join(workdir, SUMMARY))
  return typed.to_dict()


def _tv_baseline(problem, config, summary, stream):
  """The TV solution beside every run (`tv.enabled`), or None. On a problem
  TV cannot solve (a nonlinear operator) the baseline is skipped with a
  note; `method=tv` was refused before anything was written."""
  if not (config.tv.enabled or config.method == "tv"):
    return None
  try:
    tv_method.check(problem)
  except InputError as e:
    print(f"note: no TV baseline: {e}", file=stream, flush=True)
    return None
  tv = tv_method.solve(problem, config)
  summary["tv"] = {**tv.info, **metrics.score(problem, tv.reconstruction)}
  return tv
