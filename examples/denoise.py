"""Denoise a photo with the Deep Image Prior and save the result.

  python examples/denoise.py --out /tmp/denoise             # built-in photo
  python examples/denoise.py --image photo.png --out /tmp/d  # your photo
  python examples/denoise.py --tiny --out /tmp/d             # seconds, 32 px

Gaussian noise (sigma on the 0-255 scale) is added to a clean image with a
fixed seed, and a randomly initialised conv net is fitted to the noisy
image. The net reproduces the image long before the noise, so the output
in the middle of the fit is the denoised photo; the PSNR curve saved in
comparison.png shows it rising, and with many more steps it would fall
again as the net starts to fit the noise too.

Writes into --out: noisy.png, denoised.png, comparison.png (noisy |
denoised | clean, and the PSNR curve) and summary.json (the scores).
"""

import argparse
import json
import os

from matplotlib.figure import Figure  # no pyplot: no window, no backend
import numpy as np

import dip_jax
from dip_jax import metrics, operators


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--image", default="",
                 help="a clean image to add noise to (default: the built-in "
                      "photo)")
  p.add_argument("--out", default="out/denoise", help="output folder")
  p.add_argument("--size", type=int, default=128,
                 help="side of the built-in photo in pixels")
  p.add_argument("--sigma", type=float, default=25.0,
                 help="noise std on the 0-255 scale")
  p.add_argument("--steps", type=int, default=1500, help="optimizer steps")
  p.add_argument("--width", type=int, default=32,
                 help="channels per level of the net")
  p.add_argument("--levels", type=int, default=5,
                 help="levels of the encoder-decoder (the image side must "
                      "be a multiple of 2^levels, or it is padded)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--tiny", action="store_true",
                 help="a 32 px photo, 3 levels of 16 channels, 400 steps: "
                      "runs in seconds once compiled (for tests)")
  args = p.parse_args(argv)
  if args.tiny:
    args.size, args.levels, args.width, args.steps = 32, 3, 16, 400
  return args


def net_settings(width: int, levels: int) -> dict:
  """The skip net's shape as config keys: `levels` levels of `width`
  channels, 4 skip channels each, a `width`-channel random input. The
  paper's net is 5 levels of 128; 32 is enough on a CPU for 128 px."""
  return {"net.channels_down": (width,) * levels,
          "net.channels_up": (width,) * levels,
          "net.channels_skip": (4,) * levels,
          "input.channels": width}


def load_clean(args) -> np.ndarray:
  """H x W x C float32 in [0, 1]."""
  if args.image:
    return dip_jax.images.load_image(args.image).pixels
  return dip_jax.images.sample_image(args.size)


def main(argv=None) -> dict:
  args = parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  clean = load_clean(args)
  rng = np.random.default_rng(args.seed)
  noisy = (clean + rng.normal(0, args.sigma / 255, clean.shape)).astype(
      np.float32)

  # Identity operator: the observation is the image itself plus noise.
  # `clean=` is only for scoring (result.info["psnr"], the PSNR curve); a
  # real noisy photo is reconstructed the same way without it. To stop
  # where the fit reaches the noise level instead of after --steps (no
  # clean image needed), add configs/denoise.py's three keys:
  # "early_stopping.kind": "discrepancy", "early_stopping.fit_gate": 1.0,
  # "early_stopping.lag": -1 (docs/early_stopping.md).
  result = dip_jax.reconstruct(
      noisy, operators.identity(), method="dip", clean=clean,
      num_steps=args.steps, seed=args.seed, progress=not args.tiny,
      **net_settings(args.width, args.levels))
  denoised = result.reconstruction

  # The noisy image is scored as a viewer sees it: clipped to [0, 1].
  psnr_noisy = metrics.psnr(np.clip(noisy, 0, 1), clean)
  psnr_dip = metrics.psnr(denoised, clean)
  dip_jax.images.save_image(os.path.join(args.out, "noisy.png"),
                            np.clip(noisy, 0, 1))
  dip_jax.images.save_image(os.path.join(args.out, "denoised.png"), denoised)
  save_comparison(os.path.join(args.out, "comparison.png"), noisy, denoised,
                  clean, psnr_noisy, psnr_dip, result.history)

  summary = {"psnr_noisy": psnr_noisy, "psnr_dip": psnr_dip,
             "ssim_dip": metrics.ssim(denoised, clean),
             "steps": int(result.info["steps"]),
             "shape": list(denoised.shape)}
  with open(os.path.join(args.out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
  print(f"noisy {psnr_noisy:.2f} dB -> DIP {psnr_dip:.2f} dB; "
        f"wrote {args.out}/denoised.png")
  return summary


def save_comparison(path, noisy, denoised, clean, psnr_noisy, psnr_dip,
                    history):
  """Three pictures with their PSNR, and the PSNR along the fit: the raw
  output's and the averaged output's (what `reconstruction` is; the
  average over steps, `ema_decay`, smooths away step-to-step jitter)."""
  fig = Figure(figsize=(14, 4))
  axes = fig.subplots(1, 4)
  for ax, img, title in zip(
      axes, (np.clip(noisy, 0, 1), denoised, clean),
      (f"noisy {psnr_noisy:.2f} dB", f"DIP {psnr_dip:.2f} dB", "clean")):
    ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None)
    ax.set_title(title)
    ax.axis("off")
  ax = axes[3]
  ax.plot(np.asarray(history["psnr"]).ravel(), lw=0.8, label="output")
  if "psnr_ema" in history:  # absent with ema_decay=0 (no average)
    ax.plot(np.asarray(history["psnr_ema"]).ravel(), label="averaged output")
  ax.axhline(psnr_noisy, color="gray", ls="--", label="noisy input")
  ax.set_xlabel("step")
  ax.set_ylabel("PSNR (dB)")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=80)


if __name__ == "__main__":
  main()
