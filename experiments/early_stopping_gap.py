r"""How far from the oracle peak do the early-stopping detectors stop, task
by task (ES-WMV, ES-EMV, the discrepancy stop; stopping.py)?

For every (task, image, detector) one ordinary run (`dip_jax.cli.run.reconstruct`)
fits with the detector in `halt=False` mode: it detects as usual but keeps
fitting to the end, so one fit gives the whole PSNR curve (the oracle peak,
which needs the clean image), the detected iterate (which does not) and the
PSNR at the paper's fixed step count. Detection never changes the fit: the
detector only watches it.

Tasks (configs/*.py, the paper's settings; `--quick`: their :quick variants):
  denoise5   Gaussian noise sigma 5             denoise.py
  denoise10  Gaussian noise sigma 10            denoise.py
  denoise25  Gaussian noise sigma 25            denoise.py
  denoise50  Gaussian noise sigma 50            denoise.py
  poisson10  shot noise, peak 10 photons        denoise.py
  poisson30  shot noise, peak 30 photons        denoise.py
  poisson100 shot noise, peak 100 photons       denoise.py
  pg30       shot noise peak 30 + read noise 5  denoise.py
  denoise25_q75  sigma 25, saved as JPEG q 75   denoise.py
  jpeg       JPEG quality 10                    jpeg.py
  text       text drawn over the image          inpaint.py (text)
  missing50  50 % of the pixels kept at random  restore.py
  sr4        super-resolution x4                sr.py
Images: with --data_dir (a folder laid out like ../shared/data) the images of
each task's folders below; without, the built-in sample.

  python experiments/early_stopping_gap.py --data_dir=../shared/data \
      --out=workdirs/es_gap                 # paper settings (GPU)
  python experiments/early_stopping_gap.py --quick # CPU: 128 px, :quick
      # configs, 1 image per task, each task's own detector (denoising:
      # discrepancy; others: wmv) (about 10 min on 2 cores)

Every discrepancy row also holds the stop of each noise model of
noise_level.py (gap_<model>, detected_step_<model>, noise_var_<model>,
beside true_noise_var), replayed on the same fit's curves
(`replay_discrepancy`): the models compared on identical fits.
--cap_steps N runs N steps at most (a cheaper table; the oracle is then
the peak within them).

With --record [DIR] the rows also go to DIR/early_stopping_gap/<run-id>.json
(default DIR: results/; dip_jax/io/records.py).
The table goes to OUT/early_stopping_gap.md (and stdout): oracle peak PSNR
and step, detected PSNR and step, gap = oracle - detected, the step where
the detector fired (patience ran out) if it did within the run, and the PSNR
at the config's fixed step count. A rerun reuses finished runs.
"""

import argparse
import glob
import io
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax import data as data_lib  # pylint: disable=wrong-import-position
from dip_jax.cli import run  # pylint: disable=wrong-import-position
from dip_jax.fit.watchers import stopping  # pylint: disable=wrong-import-position
from dip_jax.io import records  # pylint: disable=wrong-import-position
from dip_jax.solvers import noise_level  # pylint: disable=wrong-import-position

# task: (config file, config arg, overrides, image folders under --data_dir)
TASKS = {
    "denoise5": ("denoise.py", None, {"corruption.sigma": 5.0}, ["denoise9"]),
    "denoise10": ("denoise.py", None, {"corruption.sigma": 10.0},
                  ["denoise9"]),
    "denoise25": ("denoise.py", None, {"corruption.sigma": 25.0},
                  ["denoise9"]),
    "denoise50": ("denoise.py", None, {"corruption.sigma": 50.0},
                  ["denoise9"]),
    # Signal-dependent noise (corruptions.poisson_noise): photons at white.
    "poisson10": ("denoise.py", None, {"corruption.kind": "poisson",
                                       "corruption.peak": 10.0}, ["denoise9"]),
    "poisson30": ("denoise.py", None, {"corruption.kind": "poisson",
                                       "corruption.peak": 30.0}, ["denoise9"]),
    "poisson100": ("denoise.py", None, {"corruption.kind": "poisson",
                                        "corruption.peak": 100.0},
                   ["denoise9"]),
    "pg30": ("denoise.py", None, {"corruption.kind": "poisson_gaussian",
                                  "corruption.peak": 30.0,
                                  "corruption.sigma": 5.0}, ["denoise9"]),
    # A noisy photo as a camera saves it: the codec removes part of the
    # fine-scale noise that the stop's noise estimate reads.
    "denoise25_q75": ("denoise.py", None, {"corruption.sigma": 25.0,
                                           "corruption.save_jpeg": 75},
                      ["denoise9"]),
    "jpeg": ("jpeg.py", None, {}, ["denoise9"]),
    "text": ("inpaint.py", "text", {}, ["dip/inpainting/kate.png",
                                        "denoise9"]),
    "missing50": ("restore.py", None, {}, ["dip/restoration/barbara.png",
                                           "denoise9"]),
    "sr4": ("sr.py", "x4", {}, ["set5"]),
}
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def task_images(task: str, data_dir: str | None, limit: int,
                entries=None) -> list[str]:
  """Image paths for a task ("" = the built-in sample), at most `limit`;
  `entries` (files or folders under data_dir) replace the task's own."""
  if not data_dir:
    return [""]
  paths = []
  for entry in entries or TASKS[task][3]:
    path = os.path.join(data_dir, entry)
    if os.path.isdir(path):
      paths += sorted(p for p in glob.glob(os.path.join(path, "*"))
                      if p.lower().endswith(IMAGE_EXTS)
                      and "mask" not in os.path.basename(p))
    elif os.path.exists(path):
      paths.append(path)
  if not paths:
    raise SystemExit(f"no images for task {task} under {data_dir} "
                     f"(looked in {TASKS[task][3]})")
  return paths[:limit]


def task_config(task: str, image: str, detector: str, args):
  file, arg, overrides, _ = TASKS[task]
  arg = ",".join(a for a in (arg, "quick" if args.quick else None) if a)
  c = config_lib.task_config(file, arg or None)
  for key, value in overrides.items():
    target = c
    *parents, leaf = key.split(".")
    for p in parents:
      target = target[p]
    target[leaf] = value
  fixed_steps = int(c.num_steps)   # the config's (paper's) step count
  if args.cap_steps:
    fixed_steps = min(fixed_steps, args.cap_steps)
  c.image = image
  if image and args.crop:
    c.center_crop = args.crop
  c.seed = args.seed
  c.tv.enabled = False             # the TV baseline is not measured here
  c.checkpoint_every = 0
  c.snapshot_every = 0
  c.eta_warning_minutes = 1e9
  # Run past the fixed count so a detection after it can still fire.
  c.num_steps = max(fixed_steps, args.steps or 0)
  if args.cap_steps:
    c.num_steps = min(c.num_steps, args.cap_steps)
  c.early_stopping.kind = detector
  c.early_stopping.halt = False
  c.early_stopping.window = args.window
  c.early_stopping.patience = args.patience
  c.early_stopping.alpha = args.alpha
  c.early_stopping.start = args.start
  if args.fit_gate is not None:  # else the task config's (denoise: 1.0)
    c.early_stopping.fit_gate = args.fit_gate
  if args.lag is not None:       # else the task config's (denoise: -1)
    c.early_stopping.lag = args.lag
  if args.noise_model:
    c.early_stopping.noise_model = args.noise_model
  return c, fixed_steps


def replay_discrepancy(fit_db, answer_db, noise_var: float, kappa: float,
                       start: int, lag: int, band: float = 0.0,
                       slots: int = 16):
  """The discrepancy stop (stopping.py) replayed on a fit's history: the
  first step t > start whose MSE(x_t, y) <= kappa * noise_var, in float32
  as the compiled detector compares them, and the answer's PSNR `lag`
  steps later (the last step's where the run ends first); with a band,
  the band stop (`replay_band`). The detector only watches the fit, so
  one fit's curves give the stop of any noise estimate. Returns (detected
  step or 0, answer step, answer PSNR, the step a halting run stops at or
  0 where it runs to the end)."""
  if band > 0:
    return replay_band(fit_db, answer_db, noise_var, kappa, start, lag, band,
                       slots)
  mse = np.float32(10.0) ** (-np.asarray(fit_db, np.float32) / np.float32(10))
  t = np.arange(1, len(mse) + 1)
  hit = (t > start) & (mse <= np.float32(kappa) * np.float32(noise_var))
  if not hit.any():
    return 0, len(mse), float(answer_db[-1]), 0
  detected = int(t[hit][0])
  answer = min(detected + lag, len(mse))
  stop = detected + lag if detected + lag <= len(mse) else 0
  return detected, answer, float(answer_db[answer - 1]), stop


def replay_band(fit_db, answer_db, noise_var: float, kappa: float,
                start: int, lag: int, band: float, slots: int):
  """The band stop (stopping._decide_band) in numpy: entered at the first
  step t > start with MSE / noise_var <= kappa (1 + band), left at the
  first <= kappa (1 - band) (or the run's end), the answer from the
  band's middle + lag, taken from the snapshots (snapshots.py) where that
  step was past when the band was left."""
  mse = np.float32(10.0) ** (-np.asarray(fit_db, np.float32) / np.float32(10))
  ratio = mse / np.float32(noise_var)
  n = len(mse)
  t = np.arange(1, n + 1)
  def first(k):
    hit = (t > start) & (ratio <= np.float32(kappa * k))
    return int(t[hit][0]) if hit.any() else 0
  hi, lo = first(1 + band), first(1 - band)
  if not hi:
    return 0, n, float(answer_db[-1]), 0
  end = lo or n
  target = (hi + end) // 2 + lag
  if target >= end:  # still to come when the band was left
    answer = min(target, n)
    stop = target if lo and target <= n else 0
    return hi, answer, float(answer_db[answer - 1]), stop
  base, stride, stored = hi + lag, 1, []
  for u in range(base, end + 1):
    if (u - base) % stride:
      continue
    if len(stored) == slots:
      stored, stride = stored[::2], stride * 2
    stored.append(u)
  j = int(np.clip(np.round((target - base) / stride), 0, len(stored) - 1))
  return hi, stored[j], float(answer_db[stored[j] - 1]), lo


def noise_model_rows(config, history, curve, oracle: float) -> dict:
  """Per noise model of noise_level.py: its estimate of y's noise
  variance and the stop it gives on this fit (replayed), beside the true
  mean variance of y - clean (needs the clean image)."""
  problem = data_lib.build_problem(config)
  es = config.early_stopping
  lag = (stopping.default_lag(config.ema_decay) if int(es.lag) == -1
         else int(es.lag))
  out = {"true_noise_var": float(np.mean(np.square(
      problem.observed.astype(np.float64) - problem.clean)))}
  for model in noise_level.MODELS:
    var = noise_level.noise_variance(problem.observed, model)
    detected, answer, psnr, stop = replay_discrepancy(
        history["psnr_observed"][:, 0], curve, var, float(es.fit_gate),
        int(es.start), lag, float(es.get("band", 0.0)),
        int(es.get("slots", 16)))
    out.update({f"noise_var_{model}": var,
                f"detected_step_{model}": detected,
                f"answer_step_{model}": answer,
                f"stop_step_{model}": stop,
                f"gap_{model}": oracle - psnr})
  return out


def run_one(task, image, detector, args):
  config, fixed_steps = task_config(task, image, detector, args)
  name = os.path.splitext(os.path.basename(image))[0] if image else "sample"
  workdir = os.path.join(args.out, task, name, detector)
  log = io.StringIO()
  summary = run.reconstruct(config, workdir, stream=log)
  history = np.load(os.path.join(workdir, "history.npz"))
  curve = history["psnr_ema" if config.ema_decay > 0 else "psnr"][:, 0]
  detected = summary["detected_step"]
  answer = summary.get("answer_step", detected)  # detected + lag
  by_model = {}
  if detector == "discrepancy" and config.ema_decay > 0:
    by_model = noise_model_rows(config, history, curve,
                                summary["oracle_peak_psnr"])
    # The replay of the model the fit ran with must be its own detection
    # and answer.
    model = config.early_stopping.noise_model
    own = (by_model[f"detected_step_{model}"],
           by_model[f"answer_step_{model}"])
    if own[0] != detected or (detected and own[1] != answer):
      raise SystemExit(f"{workdir}: the replayed stop (steps {own}) is not "
                       f"the fit's own (steps {detected}, {answer})")
  # wmv/emv fire `patience` candidate steps after their minimum, the
  # discrepancy stop `lag` steps after its detection (with a band: when it
  # holds the answer, at the band's end or after; the replay says where).
  if not summary["stopped_early"]:
    fired = None
  elif detector != "discrepancy":
    fired = detected + args.patience
  else:
    fired = by_model.get(
        f"stop_step_{config.early_stopping.noise_model}", answer)
  return {**by_model,
      "task": task, "image": name, "detector": detector,
      "oracle_psnr": summary["oracle_peak_psnr"],
      "oracle_step": summary["oracle_peak_step"],
      "detected_psnr": summary["detected_psnr"], "detected_step": detected,
      "answer_step": answer,
      "gap": summary["gap_db"],
      "fired": fired,
      "fit_gate": float(config.early_stopping.fit_gate),
      "fixed_steps": fixed_steps,
      "fixed_psnr": float(curve[fixed_steps - 1]),
      "final_psnr": float(curve[-1]), "steps": summary["steps"],
      "seconds": summary["seconds"]}


def table(rows, args) -> str:
  out = [f"Early-stopping gap ({'quick: :quick configs, ' if args.quick else ''}"
         f"window {args.window}, patience {args.patience}, alpha "
         f"{args.alpha}, start {args.start}, seed {args.seed}"
         f"{f', {args.crop} px centre crops' if args.crop else ''})", "",
         "| task | image | detector | fit gate | oracle peak PSNR / step | "
         "answer PSNR / step (detected) | gap (dB) | fired at | "
         "PSNR at fixed N (N) | "
         "final PSNR (steps) |",
         "|---|---|---|---:|---|---|---|---|---|---|"]
  for r in rows:
    fired = str(r["fired"]) if r["fired"] else "not in run"
    out.append(
        f"| {r['task']} | {r['image']} | {r['detector']} | "
        f"{r['fit_gate'] or '—'} | "
        f"{r['oracle_psnr']:.2f} / {r['oracle_step']} | "
        f"{r['detected_psnr']:.2f} / {r['answer_step']} ({r['detected_step']})"
        f" | {r['gap']:.2f} | "
        f"{fired} | {r['fixed_psnr']:.2f} ({r['fixed_steps']}) | "
        f"{r['final_psnr']:.2f} ({r['steps']}) |")
  out.append("")
  for det in sorted({r["detector"] for r in rows}):
    gaps = np.array([r["gap"] for r in rows if r["detector"] == det])
    fixed = np.array([r["oracle_psnr"] - r["fixed_psnr"]
                      for r in rows if r["detector"] == det])
    fired = sum(1 for r in rows if r["detector"] == det and r["fired"])
    worst = max((r for r in rows if r["detector"] == det),
                key=lambda r: r["gap"])
    out.append(f"- {det}: median gap {np.median(gaps):.2f} dB, worst "
               f"{gaps.max():.2f} dB ({worst['task']}/{worst['image']}); "
               f"fired within the run in {fired}/{len(gaps)}; the fixed step "
               f"count's median gap is {np.median(fixed):.2f} dB")
  for model in noise_level.MODELS:
    gaps = [r[f"gap_{model}"] for r in rows if f"gap_{model}" in r]
    if gaps:
      out.append(f"- discrepancy replayed with noise model {model}: median "
                 f"gap {np.median(gaps):.2f} dB, worst {max(gaps):.2f} dB")
  out += ["",
          "Oracle peak: the best PSNR over all steps run (needs the clean "
          "image). Answer: the image the detector keeps (the EMA image where "
          "the config averages outputs), `lag` steps after the detected step "
          "(wmv/emv: the variance minimum, or its minimum so far when it did "
          "not fire within the run; discrepancy: the first step whose fit "
          "reached the noise level, with a band the first within 1 + band "
          "of it, and the answer from the band's middle). Steps are "
          "1-based."]
  return "\n".join(out) + "\n"


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("--data_dir", default="",
                 help="folder laid out like ../shared/data (default: the "
                      "built-in sample)")
  p.add_argument("--out", default=os.path.join(ROOT, "workdirs",
                                               "early_stopping_gap"))
  p.add_argument("--quick", action="store_true",
                 help="the :quick configs on 128 px crops, 1 image per task, "
                      "each task config's own detector (CPU)")
  p.add_argument("--tasks", default=",".join(TASKS))
  p.add_argument("--detectors", default=None,
                 help="comma list of wmv, emv, discrepancy (default: each "
                      "task config's own, wmv where it has none; without "
                      "--quick also emv)")
  p.add_argument("--images", type=int, default=None,
                 help="images per task (default all; quick: 1)")
  p.add_argument("--image_files", default="",
                 help="comma list of files or folders under --data_dir to use "
                      "instead of every task's own (e.g. tuning images: "
                      "kodak24/kodim05.png,kodak24/kodim08.png)")
  p.add_argument("--crop", type=int, default=None,
                 help="centre crop of each image file (quick: 128)")
  p.add_argument("--steps", type=int, default=0,
                 help="run at least this many steps (default: the config's)")
  p.add_argument("--window", type=int, default=100)
  p.add_argument("--patience", type=int, default=1000)
  p.add_argument("--alpha", type=float, default=0.1)
  p.add_argument("--start", type=int, default=100)
  p.add_argument("--fit_gate", type=float, default=None,
                 help="kappa of the fit gate (stopping.py; 0 = off); default: "
                      "each task config's")
  p.add_argument("--lag", type=int, default=None,
                 help="answer = the one this many steps after detection "
                      "(-1: the output average's mean age); default: each "
                      "task config's (denoise: -1, others: 0)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--cap_steps", type=int, default=0,
                 help="run at most this many steps (a cheaper, shorter "
                      "table: the oracle is the peak within them)")
  p.add_argument("--noise_model", default="",
                 help="the discrepancy stop's noise model "
                      f"({', '.join(noise_level.MODELS)}); default: the "
                      "task config's. Every discrepancy row also gets each "
                      "model's stop, replayed on the same fit")
  records.add_flag(p)
  args = p.parse_args(argv)
  def detectors(task):
    if args.detectors:
      return args.detectors.split(",")
    kind = config_lib.task_config(TASKS[task][0], TASKS[task][1]
                                  ).early_stopping.kind
    own = kind if kind != "none" else "wmv"
    return [own] if args.quick or own == "emv" else [own, "emv"]
  if args.images is None:
    args.images = 1 if args.quick else 10 ** 6
  if args.crop is None:
    args.crop = 128 if args.quick else 0
  tasks = [t for t in args.tasks.split(",") if t]
  for t in tasks:
    if t not in TASKS:
      raise SystemExit(f"unknown task {t!r}; known: {list(TASKS)}")
  rows, path = [], os.path.join(args.out, "early_stopping_gap.md")
  entries = [e for e in args.image_files.split(",") if e]
  for task in tasks:
    for image in task_images(task, args.data_dir, args.images, entries):
      for det in detectors(task):
        r = run_one(task, image, det, args)
        rows.append(r)
        print(f"{task} {r['image']} {det}: oracle {r['oracle_psnr']:.2f}@"
              f"{r['oracle_step']}, detected {r['detected_psnr']:.2f}@"
              f"{r['detected_step']}, gap {r['gap']:.2f} dB, fired "
              f"{r['fired']}, {r['seconds']:.0f} s", flush=True)
        # Rewritten after every run: an interrupted sweep keeps its rows.
        with open(path, "w") as f:
          f.write(table(rows, args))
  print(table(rows, args))
  # One record per call, with every row (reused runs' too): the table's
  # numbers as data (results/early_stopping_gap/).
  records.record(args.record, "early_stopping_gap",
                 [{**r, "seed": args.seed, "method": "dip"} for r in rows],
                 config={k: v for k, v in vars(args).items()
                         if k != "record"}, seeds=[args.seed],
                 argv=["experiments/early_stopping_gap.py", *argv]
                 if argv is not None else None)


if __name__ == "__main__":
  main()
