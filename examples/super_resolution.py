"""4x super-resolution with the Deep Image Prior, compared with bicubic.

  python examples/super_resolution.py --out /tmp/sr               # built-in
  python examples/super_resolution.py --image hr.png --out /tmp/sr
  python examples/super_resolution.py --tiny --out /tmp/sr        # seconds

The low-resolution image is the high-resolution one through the operator:
the DIP paper's Lanczos-2 filter, then every 4th pixel. DIP looks for the
net output whose downsampling matches the low-resolution image; the net's
preference for natural images picks one of the many high-resolution images
that do. Bicubic upscaling of the low-resolution image is the baseline.

Writes into --out: lowres.png, bicubic.png, dip.png, comparison.png (crops
side by side) and summary.json. PSNRs are on the luminance (Y) with a
border of `factor` pixels cropped, as the SR literature scores them.
"""

import argparse
import json
import os

import jax.numpy as jnp
from matplotlib.figure import Figure  # no pyplot: no window, no backend
import numpy as np

import dip_jax
from dip_jax import metrics, operators


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--image", default="",
                 help="a high-resolution image (default: the built-in "
                      "photo); cropped to a multiple of the factor")
  p.add_argument("--out", default="out/sr", help="output folder")
  p.add_argument("--size", type=int, default=128,
                 help="side of the built-in photo (high resolution)")
  p.add_argument("--factor", type=int, default=4)
  p.add_argument("--steps", type=int, default=2000, help="optimizer steps")
  p.add_argument("--width", type=int, default=32,
                 help="channels per level of the net")
  p.add_argument("--levels", type=int, default=5,
                 help="levels of the encoder-decoder")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--tiny", action="store_true",
                 help="a 64 px photo, 3 levels of 16 channels, 300 steps")
  args = p.parse_args(argv)
  if args.tiny:
    args.size, args.levels, args.width, args.steps = 64, 3, 16, 300
  return args


def net_settings(width: int, levels: int) -> dict:
  """`levels` levels of `width` channels, 4 skip channels each."""
  return {"net.channels_down": (width,) * levels,
          "net.channels_up": (width,) * levels,
          "net.channels_skip": (4,) * levels,
          "input.channels": width}


def main(argv=None) -> dict:
  args = parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  if args.image:
    hr = dip_jax.images.load_image(args.image).pixels
  else:
    hr = dip_jax.images.sample_image(args.size)
  f = args.factor
  hr = hr[:hr.shape[0] // f * f, :hr.shape[1] // f * f]  # A needs multiples

  op = operators.downsample(f)  # Lanczos-2, as the paper; or kernel="bicubic"
  # Operators act on batches (N x H x W x C): add and drop the batch axis.
  lowres = np.asarray(op(jnp.asarray(hr)[None])[0])

  # The baseline and DIP through the same call: method="bicubic" is the
  # operator's classical answer (PIL's bicubic upscaling by the factor).
  bicubic = dip_jax.reconstruct(lowres, op, method="bicubic").reconstruction
  dip = dip_jax.reconstruct(
      lowres, op, method="dip", num_steps=args.steps, seed=args.seed,
      progress=not args.tiny,
      **net_settings(args.width, args.levels)).reconstruction

  psnr = lambda x: metrics.psnr_y(x, hr, border=f)
  scores = {"psnr_bicubic": psnr(bicubic), "psnr_dip": psnr(dip),
            # How well DIP's answer explains the data it was given: the
            # downsampled answer against the low-resolution input.
            "psnr_dip_lowres": metrics.psnr(
                np.asarray(op(jnp.asarray(dip)[None])[0]), lowres),
            "shape": list(dip.shape), "lowres_shape": list(lowres.shape)}
  for name, img in (("lowres", lowres), ("bicubic", bicubic), ("dip", dip)):
    dip_jax.images.save_image(os.path.join(args.out, f"{name}.png"),
                              np.clip(img, 0, 1))

  fig = Figure(figsize=(13, 3.8))
  axes = fig.subplots(1, 4)
  panels = ((lowres, f"low resolution (1/{f})"),
            (bicubic, f"bicubic {scores['psnr_bicubic']:.2f} dB"),
            (dip, f"DIP {scores['psnr_dip']:.2f} dB"), (hr, "original"))
  for ax, (img, title) in zip(axes, panels):
    # nearest: the low-resolution pixels stay visible as blocks.
    ax.imshow(np.clip(img, 0, 1).squeeze(), interpolation="nearest",
              cmap="gray" if img.shape[-1] == 1 else None)
    ax.set_title(title)
    ax.axis("off")
  fig.tight_layout()
  fig.savefig(os.path.join(args.out, "comparison.png"), dpi=80)

  with open(os.path.join(args.out, "summary.json"), "w") as fh:
    json.dump(scores, fh, indent=1)
  print(f"bicubic {scores['psnr_bicubic']:.2f} dB, DIP "
        f"{scores['psnr_dip']:.2f} dB (Y, border {f}); wrote {args.out}")
  return scores


if __name__ == "__main__":
  main()
