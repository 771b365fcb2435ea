r"""How fast a net fits an image vs noise: the paper's Fig. 2 (a).

The same net, input and init are fitted (MSE, Adam) to four targets:
  image           a natural image (the built-in sample, or --image)
  image + noise   the same image plus i.i.d. Gaussian noise, sigma = 25/255,
                  clipped to [0, 1]
  shuffled        the image's pixels (RGB vectors) randomly permuted: the
                  same colour histogram, no spatial structure
  U(0,1) noise    i.i.d. uniform noise

The paper's finding: the net fits all four, but the natural image much
faster; "impedance" to noise is what makes early stopping a prior. Plotted:
MSE to the target vs step (log-log), mean over seeds with a min-max band.

Summary table, per target: the final MSE, and the steps the seed-mean curve
needs to reach three levels, with the ratio to the natural image's steps:
  level A  the natural image's MSE at 25 % of the run (one absolute level
           for all four targets);
  50 % / 90 % of variance  MSE <= 0.5 / 0.1 x the target's own variance
           (relative levels: the targets differ in contrast, and the noisy
           image gets half-way by fitting its image part alone).

Settings: Adam lr 0.01, input z = 0.1 * U(0, 1) with 32 channels, no input
perturbation (reg_noise_std 0), no EMA, no divergence guard, seeds = vmapped
restarts (each its own init and z, shared by the four targets).
  --quick   64 px, skip-5 capped at 32 channels, 1000 steps, 3 seeds
  (full)    256 px, skip-5 at 128 channels (the paper's net), 3000 steps

  python experiments/fitting_curves.py --quick
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # pylint: disable=wrong-import-position

import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position,g-bad-import-order
import numpy as np  # pylint: disable=wrong-import-position

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax.data import corruptions  # pylint: disable=wrong-import-position
from dip_jax.errors import InputError  # pylint: disable=wrong-import-position
from dip_jax.io import images  # pylint: disable=wrong-import-position
from dip_jax.nets import presets  # pylint: disable=wrong-import-position

COLORS = {"image": "tab:green", "image + noise": "tab:blue",
          "shuffled": "tab:orange", "U(0,1) noise": "tab:red"}


def make_targets(image: np.ndarray, sigma: float, seed: int) -> dict:
  """The four targets of the same shape as `image` (H x W x C in [0, 1]);
  `sigma` is the noise std on the 0-255 scale."""
  rng = np.random.default_rng(seed)
  h, w, c = image.shape
  noisy = corruptions.gaussian_noise(image, sigma, rng, True)
  perm = rng.permutation(h * w)
  shuffled = image.reshape(h * w, c)[perm].reshape(h, w, c)
  noise = rng.uniform(size=image.shape)
  return {name: np.asarray(x, np.float32) for name, x in
          (("image", image), ("image + noise", noisy),
           ("shuffled", shuffled), ("U(0,1) noise", noise))}


def fit_config(args, size_steps_width):
  """The fit's config: skip-5 (capped width), Fig. 2's plain settings."""
  _, steps, width = size_steps_width
  c = config_lib.base_config()
  presets.apply(c.net, args.preset)
  c.net.width = width
  c.input.channels = 32
  c.input.reg_noise_std = 0.0
  c.ema_decay = 0.0
  c.guard.enabled = False
  c.optim.learning_rate = args.lr
  c.num_steps = steps
  c.num_restarts = args.seeds
  c.num_devices = 1  # seeds share a device: curves, not speed, are measured
  c.log_every = min(250, steps)
  c.seed = args.seed
  return c


def steps_to(curve: np.ndarray, level: float) -> int | None:
  """First step (1-based) whose MSE is <= level, or None if never."""
  hit = np.nonzero(curve <= level)[0]
  return int(hit[0]) + 1 if hit.size else None


def summarize(results: dict, targets: dict, steps: int) -> tuple[str, dict]:
  """The markdown table and level A (see the module docstring)."""
  mean = {k: r["loss"].mean(axis=1) for k, r in results.items()}
  quarter = max(steps // 4, 1)
  level_a = float(mean["image"][quarter - 1])

  def levels(name):
    var = float(np.var(targets[name]))
    return (level_a, 0.5 * var, 0.1 * var)

  base = [steps_to(mean["image"], lv) for lv in levels("image")]
  rows = []
  for name, r in results.items():
    final = r["loss"][-1]
    cells = [name, f"{final.mean():.2e} [{final.min():.2e}, {final.max():.2e}]"]
    for level, b in zip(levels(name), base):
      n = steps_to(mean[name], level)
      ratio = "—" if b is None else (
          f"> {steps / b:.1f}x" if n is None else f"{n / b:.1f}x")
      cells.append(f"{'> ' + str(steps) if n is None else n} ({ratio})")
    rows.append(cells)
  header = ["target", "final MSE, mean [min, max] over seeds",
            "steps to level A (ratio to image)",
            "steps to 50 % of variance (ratio)",
            "steps to 90 % of variance (ratio)"]
  return common.markdown_table(header, rows), {"A": level_a,
                                               "quarter": quarter}


def plot(path: str, results: dict, levels: dict, title: str) -> None:
  fig, ax = plt.subplots(figsize=(6.4, 4.2))
  for name, r in results.items():
    x = np.arange(1, r["loss"].shape[0] + 1)
    ax.fill_between(x, r["loss"].min(axis=1), r["loss"].max(axis=1),
                    color=COLORS[name], alpha=0.25, linewidth=0)
    ax.plot(x, r["loss"].mean(axis=1), color=COLORS[name], label=name,
            linewidth=1.4)
  ax.axhline(levels["A"], color="gray", linestyle=":", linewidth=1)
  ax.text(1.2, levels["A"] * 1.08, "level A", color="gray", fontsize=8)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("step")
  ax.set_ylabel("MSE to the target")
  ax.set_title(title, fontsize=10)
  ax.grid(True, which="major", alpha=0.3)
  ax.legend(fontsize=9)
  fig.tight_layout()
  common.save_figure(fig, path, dpi=110)


def main():
  p = common.parser("fitting_curves", __doc__)
  p.add_argument("--image", default="",
                 help="target image (default: the built-in sample)")
  p.add_argument("--size", type=int, default=0,
                 help="side of the built-in sample (64 quick / 256 full); "
                      "with --image: centre crop side (0 = whole image)")
  p.add_argument("--steps", type=int, default=0,
                 help="fit steps (1000 quick / 3000 full)")
  p.add_argument("--width", type=int, default=-1,
                 help="channel cap (32 quick / 0 = none, full)")
  p.add_argument("--preset", default="skip-5")
  p.add_argument("--seeds", type=int, default=3)
  p.add_argument("--lr", type=float, default=0.01)
  p.add_argument("--sigma", type=float, default=25.0,
                 help="noise std on the 0-255 scale")
  args = p.parse_args()
  size = args.size or (64 if args.quick else 256)
  steps = args.steps or (1000 if args.quick else 3000)
  width = args.width if args.width >= 0 else (32 if args.quick else 0)
  if args.image:
    img = images.load_image(args.image).pixels
    if args.size:
      t, l = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
      if t < 0 or l < 0:
        raise InputError(f"--size {size} exceeds the image {img.shape[:2]}")
      img = img[t:t + size, l:l + size]
    source = os.path.basename(args.image)
  else:
    img = images.sample_image(size)
    source = f"built-in sample, {size} px"

  config = fit_config(args, (size, steps, width))
  targets = make_targets(img, args.sigma, args.seed)
  print(f"fitting {args.preset} (width cap {width or 'none'}) to 4 targets "
        f"of {img.shape[1]}x{img.shape[0]}, {steps} steps x {args.seeds} "
        f"seeds", flush=True)
  results = common.fit_targets(config, targets)
  table, levels = summarize(results, targets, steps)

  os.makedirs(args.out, exist_ok=True)
  # The raw curves, so the table can be recomputed with other levels.
  np.savez(os.path.join(args.out, "curves.npz"),
           **{k: r["loss"] for k, r in results.items()})
  plot(os.path.join(args.out, "fitting_curves.png"), results, levels,
       f"{args.preset}{f' (≤{width} ch)' if width else ''} fitting "
       f"{source}: mean and min-max of {args.seeds} seeds")
  common.image_grid(
      os.path.join(args.out, "fitted_outputs.png"),
      [(f"{k} (target)", t) for k, t in targets.items()]
      + [(f"{k}: f(z) at step {steps}", results[k]["output"][0])
         for k in targets], cols=4, panel_inches=2.2)
  seconds = sum(r["seconds"] for r in results.values())
  # Measured, not assumed: the noise actually in the noisy target.
  rms = float(np.sqrt(np.mean((targets["image + noise"] - img) ** 2)))
  text = (
      f"# Fitting curves: image vs noise ({'quick, ' if args.quick else ''}"
      f"{img.shape[0]} px, {steps} steps)"
      f"\n\nNet {args.preset}"
      f"{f' capped at {width} channels' if width else ''}; target "
      f"{source} ({img.shape[1]}x{img.shape[0]}); {steps} steps; "
      f"{args.seeds} seeds (init and z); Adam lr {args.lr}; z = 0.1·U(0,1), "
      f"32 ch; no input noise, no EMA, no guard. Noise σ = {args.sigma:g}/255 "
      f"(measured RMS of noisy - image after clipping: {rms * 255:.1f}/255)."
      f"\n\nLevel A = the natural image's mean MSE at step "
      f"{levels['quarter']} (25 % of the run) = {levels['A']:.3e}; the "
      f"variance levels are MSE <= 0.5 / 0.1 x the target's own variance. "
      f"Steps are the first step at which the seed-mean curve is at or below "
      f"the level."
      f"\n\n{table}\n\nFigures: fitting_curves.png (MSE vs step, log-log), "
      f"fitted_outputs.png (targets and final outputs, seed 0); curves.npz "
      f"(per-step MSE, steps x seeds, per target). Wall time "
      f"{seconds:.0f} s, compile included. {common.device_line()}\n")
  common.write_summary(args.out, text)


if __name__ == "__main__":
  main()
