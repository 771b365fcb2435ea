r"""Why DIP needs early stopping: JPEG artefacts removed, then reproduced.

The DIP paper's early-stopping slide. A clean image is JPEG-compressed here
(quality 10, so PSNR to the clean image can be scored) and restored by ONE
DIP fit with configs/jpeg.py's settings (`methods.get("dip")`, the engine
of `python -m dip_jax.main`). The fit's output (its 0.99 EMA, the image the
run stands for) is captured by the driver's snapshot hook at three steps:
  early   (~100)    the net has drawn only the coarse scene
  middle  (~2400)   blocks and halos gone: the restored image
  late    (~50 000) the net has fitted the JPEG itself: artefacts are back
ES-WMV (dip_jax/fit/watchers/stopping.py) watches the same fit with halt=False: it picks
its iterate without the clean image but lets the fit run on, so one run
gives the whole curve, the oracle peak and the detector's step.

overfitting.png: clean, JPEG input and the three snapshots (step, PSNR),
above the PSNR-to-clean and loss curves over steps, with the panels' steps,
the oracle peak and the detected step marked. overfitting.json: the
numbers; summary.md: the table printed at the end. With --image a JPEG file
(no clean version, e.g. ../shared/data/dip/denoising/snail.jpg) the file is
the observation as is and only the loss (MSE to it) is scored.

  python experiments/overfitting.py --quick  # CPU: 64 px centre crop of the
      # built-in 256 px sample, the paper's net, no input noise, no guard,
      # 30000 steps
  python experiments/overfitting.py          # paper (GPU): 256 px, 50000 steps

Measured (--quick, this 2-core CPU shared with other jobs, seed 0; 6.5 min,
compile included): JPEG input 23.42 dB; steps 100 / 2400 / 30000: 14.62 /
24.13 / 23.55 dB; oracle peak 24.14 dB at step 2195; ES-WMV picks step
2561 (24.13 dB; fired at 3561). DIP gains only ~0.7 dB over JPEG q10 here,
so the whole hump is small: the last panel is 0.6 dB below the peak, 0.1
dB above the JPEG, and its blocks are back. The full settings have not been
run.
"""

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # pylint: disable=wrong-import-position

import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position,g-bad-import-order
import numpy as np  # pylint: disable=wrong-import-position

from dip_jax import data as data_lib
from dip_jax import methods  # pylint: disable=wrong-import-position
from dip_jax import metrics  # pylint: disable=wrong-import-position
from dip_jax.fit import driver  # pylint: disable=wrong-import-position
from dip_jax.io import curves  # pylint: disable=wrong-import-position
from dip_jax.io import images  # pylint: disable=wrong-import-position
from dip_jax.methods import dip_summary  # pylint: disable=wrong-import-position

# dip_jax/assets/, beside the package's modules (images.py is in dip_jax/io/).
SAMPLE_FILE = os.path.join(os.path.dirname(os.path.dirname(images.__file__)),
                           "assets", images.SAMPLE_NAME)


def make_config(args, panels):
  """configs/jpeg.py (the paper's JPEG net and settings), run to the last
  panel with ES-WMV watching but not halting."""
  c = common.load_config("jpeg.py")
  if args.image:
    c.image = args.image
    # A JPEG file has no clean version: it is the observation itself.
    c.corrupted = args.image.lower().endswith((".jpg", ".jpeg"))
  elif args.crop:
    # The sample file itself, so a crop keeps its full-resolution detail
    # (sample_size would shrink the whole photo instead).
    c.image = SAMPLE_FILE
  c.center_crop = args.crop
  if args.width:
    c.net.width = args.width
  if args.quick:
    # The input perturbation slows the late fit of the artefacts; without
    # it the overfit shows within a CPU budget (the peak stays at ~2400).
    c.input.reg_noise_std = 0.0
    # Without that noise every step is deterministic, so the divergence
    # guard's restore replays the same spike forever (a 3000-step loop from
    # step ~10000 that froze the curve); Adam gets over the spikes alone.
    c.guard.enabled = False
  c.num_steps = panels[-1]
  c.log_every = 1000 if panels[-1] >= 10000 else 100
  c.seed = args.seed
  c.early_stopping.kind = "wmv"
  c.early_stopping.halt = False
  return c


def run_fit(config, panels):
  """One fit; returns (problem, its FitSpec, the method's Result, {step:
  the fit's answer, its EMA image, at that step})."""
  problem = data_lib.build_problem(config)
  prepared = methods.prepare("dip", problem, config)
  shots = {}

  def keep(step, img):  # called every `gcd` steps; keep only the panels
    if step in panels:
      shots[step] = np.asarray(img, np.float32)

  hooks = driver.Hooks(log_every=int(config.log_every), snapshot=keep,
                       snapshot_every=math.gcd(*panels),
                       eta_warning_minutes=1e9)
  result = methods.get("dip")(problem, config, hooks, **prepared)
  return problem, prepared["fit"].spec, result, shots


def draw(path, problem, history, psnr_curve, info, panels, shots, title):
  clean = problem.clean
  tiles = ([("clean", clean)] if clean is not None else []) + [
      ("JPEG input" + (f"  {info['jpeg_psnr']:.2f} dB"
                       if clean is not None else ""), problem.observed)]
  for p in panels:
    score = (f"{p['psnr']:.2f} dB" if clean is not None
             else f"loss {p['loss']:.2e}")
    tiles.append((f"step {p['step']}: {p['stage']}\n{score}",
                  shots[p["step"]]))
  fig = plt.figure(figsize=(2.4 * len(tiles), 2.4 + 3.4))
  grid = fig.add_gridspec(2, 2 * len(tiles), height_ratios=(2.4, 3.0))
  for i, (label, img) in enumerate(tiles):
    ax = fig.add_subplot(grid[0, 2 * i:2 * i + 2])
    ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
    ax.set_title(label, fontsize=8)
    ax.axis("off")
  half = len(tiles)
  axes = [fig.add_subplot(grid[1, :half]), fig.add_subplot(grid[1, half:])]
  steps = np.arange(1, len(history["loss"]) + 1)
  marks = curves.marks_of(info)
  if psnr_curve is not None:
    ax = axes[0]
    ax.plot(steps, psnr_curve, color="tab:red", lw=1, label="output (EMA)")
    ax.axhline(info["jpeg_psnr"], color="gray", lw=0.9, label="JPEG input")
    ax.scatter([p["step"] for p in panels], [p["psnr"] for p in panels],
               color="black", zorder=3, s=14, label="panels")
    ax.set_ylabel("PSNR to clean (dB)")
    # The first steps are far below; keep the hump readable.
    ax.set_ylim(info["jpeg_psnr"] - 3, info["oracle_peak_psnr"] + 0.5)
  loss_ax = axes[1] if psnr_curve is not None else axes[0]
  if psnr_curve is None:
    axes[1].remove()
  loss_ax.plot(steps, history["loss"][:, 0], color="tab:blue", lw=0.6,
               label="loss (MSE to the JPEG)")
  loss_ax.set_yscale("log")
  for ax in (axes if psnr_curve is not None else [loss_ax]):
    curves.draw_marks(ax, marks)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left" if ax is loss_ax else "lower right")
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  common.save_figure(fig, path, dpi=100)


def main(argv=None):
  p = common.parser("overfitting", __doc__)
  p.add_argument("--image", default="",
                 help="clean image to compress (default: the built-in "
                      "sample); a .jpg/.jpeg is used as the observation")
  p.add_argument("--crop", type=int, default=-1,
                 help="centre crop side (64 quick / 0 = whole image, full)")
  p.add_argument("--panels", default="",
                 help="the three snapshot steps, the last = the run's "
                      "length (100,2400,30000 quick / 100,2400,50000 full)")
  p.add_argument("--width", type=int, default=0,
                 help="cap every channel count (0 = the paper's net)")
  args = p.parse_args(argv)
  if args.crop < 0:
    args.crop = 64 if args.quick else 0
  panels = sorted(int(s) for s in (args.panels or (
      "100,2400,30000" if args.quick else "100,2400,50000")).split(","))
  config = make_config(args, panels)
  problem, spec, result, shots = run_fit(config, panels)
  history, info = result.history, result.info
  scored = problem.clean is not None
  out = {"image": problem.source, "crop": args.crop, "quick": args.quick,
         "quality": int(config.corruption.quality), "steps": info["steps"],
         "seconds": info["seconds"], "detected_step": info["detected_step"],
         "stopped_early": info["stopped_early"],
         "guard_restores": info["restores"],
         # ES-WMV fires `patience` candidate steps after its minimum.
         "fired_at": (info["detected_step"] + config.early_stopping.patience
                      if info["stopped_early"] else None)}
  psnr_curve = None
  if scored:
    psnr_curve = dip_summary.answer_curve(spec, history)
    out.update(jpeg_psnr=metrics.psnr(problem.observed, problem.clean),
               oracle_peak_step=info["oracle_peak_step"],
               oracle_peak_psnr=info["oracle_peak_psnr"],
               detected_psnr=info["detected_psnr"],
               final_psnr=float(psnr_curve[-1]))
  out["panels"] = [
      {"step": s, "stage": stage, "loss": float(history["loss"][s - 1, 0]),
       "psnr": metrics.psnr(shots[s], problem.clean) if scored else None}
      for s, stage in zip(panels, ("early", "restored", "overfitted"))]
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "overfitting.json"), "w") as f:
    json.dump(out, f, indent=1)
  source = os.path.basename(problem.source)
  size = problem.out_shape
  draw(os.path.join(args.out, "overfitting.png"), problem, history,
       psnr_curve, out, out["panels"], shots,
       f"DIP on a JPEG (q{out['quality']}) of {source}, {size[1]}x{size[0]}:"
       f" one fit, {out['steps']} steps")

  rows = [[x["step"], x["stage"], f"{x['loss']:.2e}",
           f"{x['psnr']:.2f}" if scored else "—"] for x in out["panels"]]
  lines = [f"# Overfitting a JPEG ({'quick, ' if args.quick else ''}"
           f"{size[1]}x{size[0]} {source})", "",
           common.markdown_table(["step", "panel", "loss", "PSNR (dB)"],
                                 rows), ""]
  if scored:
    lines.append(f"JPEG input {out['jpeg_psnr']:.2f} dB; oracle peak "
                 f"{out['oracle_peak_psnr']:.2f} dB at step "
                 f"{out['oracle_peak_step']}; final {out['final_psnr']:.2f} "
                 f"dB.")
  lines.append(f"ES-WMV: detected step {out['detected_step']}"
               + (f" ({out['detected_psnr']:.2f} dB)" if scored else "")
               + (f", fired at step {out['fired_at']}" if out["fired_at"]
                  else ", did not fire") + ".")
  lines.append(f"\nWall time {out['seconds']:.0f} s (compile included). "
               f"{common.device_line()}\n")
  common.write_summary(args.out, "\n".join(lines))
  return out


if __name__ == "__main__":
  main()
