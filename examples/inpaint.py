"""Fill in missing pixels with the Deep Image Prior, beside TV.

  python examples/inpaint.py --out /tmp/inpaint                 # built-in photo
  python examples/inpaint.py --image photo.png --mask mask.png  # your own
  python examples/inpaint.py --tiny --out /tmp/inpaint          # seconds

The mask is 1 where a pixel is known and 0 where it is missing: a mask
image of your own (white = known), or by default a random one keeping
--kept of the pixels plus a square hole in the middle. The operator is the
identity with the mask as the objective's weights, so the missing pixels
never enter the loss: the net fills them in from what its structure prefers,
the image's own textures. TV (total variation) on the same operator is the
classical answer to compare with.

Writes into --out: masked.png (missing pixels grey), dip.png, tv.png,
comparison.png and summary.json.
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
                 help="a clean image (default: the built-in photo)")
  p.add_argument("--mask", default="",
                 help="a mask image of the same size, white = known pixel "
                      "(default: random pixels and a square hole)")
  p.add_argument("--out", default="out/inpaint", help="output folder")
  p.add_argument("--size", type=int, default=128,
                 help="side of the built-in photo in pixels")
  p.add_argument("--kept", type=float, default=0.5,
                 help="fraction of pixels the random mask keeps")
  p.add_argument("--steps", type=int, default=2000, help="optimizer steps")
  p.add_argument("--width", type=int, default=32,
                 help="channels per level of the net")
  p.add_argument("--levels", type=int, default=5,
                 help="levels of the encoder-decoder")
  p.add_argument("--tv-lam", type=float, default=0.01,
                 help="TV's weight (configs/inpaint.py's; the library's "
                      "default, 0.1, is a denoising one and blurs here)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--tiny", action="store_true",
                 help="a 32 px photo, 3 levels of 16 channels, 400 steps")
  args = p.parse_args(argv)
  if args.tiny:
    args.size, args.levels, args.width, args.steps = 32, 3, 16, 400
  return args


def net_settings(width: int, levels: int) -> dict:
  """`levels` levels of `width` channels, 4 skip channels each (the paper:
  5 levels of 128; inpainting large holes prefers fewer skips, see
  docs/tasks/inpainting.md)."""
  return {"net.channels_down": (width,) * levels,
          "net.channels_up": (width,) * levels,
          "net.channels_skip": (4,) * levels,
          "input.channels": width}


def make_mask(shape_hw, kept: float, seed: int) -> np.ndarray:
  """H x W x 1 float32, 1 = known: each pixel kept with probability
  `kept`, and a square hole of a quarter of the side in the middle (a
  region with no known pixel at all, which TV can only smear across)."""
  h, w = shape_hw
  mask = (np.random.default_rng(seed).random((h, w, 1)) < kept)
  mask = mask.astype(np.float32)
  s = max(min(h, w) // 4, 1)
  mask[h // 2 - s // 2:h // 2 - s // 2 + s,
       w // 2 - s // 2:w // 2 - s // 2 + s] = 0
  return mask


def main(argv=None) -> dict:
  args = parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  if args.image:
    clean = dip_jax.images.load_image(args.image).pixels
  else:
    clean = dip_jax.images.sample_image(args.size)
  if args.mask:
    # A grey mask image, white = known; thresholded so it is exactly 0 / 1.
    pixels = dip_jax.images.load_image(args.mask, what="mask").pixels
    mask = (pixels.mean(axis=-1, keepdims=True) > 0.5).astype(np.float32)
  else:
    mask = make_mask(clean.shape[:2], args.kept, args.seed)
  # The observation: the known pixels; what is under the mask's zeros is
  # never read (set to 0 here, any value gives the same fit).
  observed = (clean * mask).astype(np.float32)
  op = operators.inpainting(mask)

  keys = dict(num_steps=args.steps, seed=args.seed, **net_settings(
      args.width, args.levels))
  dip = dip_jax.reconstruct(observed, op, method="dip", clean=clean,
                            progress=not args.tiny, **keys).reconstruction
  tv = dip_jax.reconstruct(observed, op, method="tv", clean=clean,
                           **{"tv.lam": args.tv_lam}).reconstruction

  # The masked input as a viewer sees it: missing pixels grey.
  shown = observed + 0.5 * (1 - mask)
  scores = {"psnr_masked": metrics.psnr(shown, clean),
            "psnr_dip": metrics.psnr(dip, clean),
            "psnr_tv": metrics.psnr(tv, clean),
            "kept_fraction": float(mask.mean()),
            "shape": list(dip.shape)}
  for name, img in (("masked", shown), ("dip", dip), ("tv", tv)):
    dip_jax.images.save_image(os.path.join(args.out, f"{name}.png"), img)

  fig = Figure(figsize=(13, 3.8))
  axes = fig.subplots(1, 4)
  panels = ((shown, f"masked ({100 * scores['kept_fraction']:.0f} % kept)"),
            (tv, f"TV {scores['psnr_tv']:.2f} dB"),
            (dip, f"DIP {scores['psnr_dip']:.2f} dB"), (clean, "clean"))
  for ax, (img, title) in zip(axes, panels):
    ax.imshow(np.clip(img, 0, 1).squeeze(),
              cmap="gray" if img.shape[-1] == 1 else None)
    ax.set_title(title)
    ax.axis("off")
  fig.tight_layout()
  fig.savefig(os.path.join(args.out, "comparison.png"), dpi=80)

  with open(os.path.join(args.out, "summary.json"), "w") as f:
    json.dump(scores, f, indent=1)
  print(f"masked {scores['psnr_masked']:.2f} dB, TV {scores['psnr_tv']:.2f} "
        f"dB, DIP {scores['psnr_dip']:.2f} dB; wrote {args.out}")
  return scores


if __name__ == "__main__":
  main()
