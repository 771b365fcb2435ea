"""Your own forward operator: reconstruct through it with DIP and with TV.

  python examples/custom_operator.py --out /tmp/op
  python examples/custom_operator.py --tiny --out /tmp/op   # seconds

The operator here is a measurement dip_jax does not ship: a horizontal
motion blur (a kernel of --length pixels, e.g. a camera panning), after
which only every other column is read out. It is written as a plain JAX
function on batches and wrapped in `operators.Operator`; nothing in the
package changes. Because it is linear (and says so), the same object gives
an adjoint, which TV needs; the script checks that adjoint with the
dot-product test <A x, y> = <x, A^T y> before fitting, the first thing to
check of any new linear operator.

Writes into --out: observed.png (the measurement, columns repeated to the
full width), dip.png, tv.png, comparison.png and summary.json.
"""

import argparse
import json
import os

import jax
import jax.numpy as jnp
from matplotlib.figure import Figure  # no pyplot: no window, no backend
import numpy as np

import dip_jax
from dip_jax import metrics, operators


def blur_and_skip_columns(x, kernel):
  """N x H x W x C -> N x H x W/2 x C: each row convolved with `kernel`
  (edges repeated, so the output keeps the width), then the even columns.

  Module level on purpose: the compiled fit is keyed on this function
  object, so every call with the same shapes reuses one program. The kernel
  comes in as `params` (an argument of the compiled fit, not a constant
  baked into it): another kernel of the same length compiles nothing new.
  """
  n = kernel.shape[0]
  width = x.shape[2]
  padded = jnp.pad(x, ((0, 0), (0, 0), (n // 2, n - 1 - n // 2), (0, 0)),
                   mode="edge")
  blurred = sum(kernel[j] * padded[:, :, j:j + width] for j in range(n))
  return blurred[:, :, 0::2]


def motion_kernel(length: int) -> np.ndarray:
  """A box of `length` taps that sums to 1 (a uniform pan)."""
  return np.full(length, 1.0 / length, np.float32)


def make_operator(shape, length: int) -> operators.Operator:
  """The measurement as dip_jax sees it. `linear=True` promises A(a x + b
  y) = a A(x) + b A(y); it gives `op.adjoint` (jax.linear_transpose) and
  lets method="tv" solve on it. `in_shape` is needed: y's shape alone does
  not tell x's (the width halves)."""
  return operators.Operator(
      apply=blur_and_skip_columns, params=jnp.asarray(motion_kernel(length)),
      in_shape=tuple(shape), linear=True, name=f"motion {length} + cols/2")


def adjoint_error(op, shape, seed: int = 0) -> float:
  """|<A x, y> - <x, A^T y>| / |<A x, y>| for random x and y: float
  rounding (~1e-7) for a correct adjoint, order 1 for a wrong one."""
  kx, ky = jax.random.split(jax.random.key(seed))
  x = jax.random.normal(kx, (1, *shape))
  ax = op(x)
  y = jax.random.normal(ky, ax.shape)
  lhs = jnp.vdot(ax, y)
  rhs = jnp.vdot(x[0], op.adjoint(y, shape))
  return float(jnp.abs(lhs - rhs) / jnp.abs(lhs))


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--out", default="out/custom_operator", help="output folder")
  p.add_argument("--size", type=int, default=128,
                 help="side of the built-in photo in pixels")
  p.add_argument("--length", type=int, default=5,
                 help="taps of the motion blur")
  p.add_argument("--sigma", type=float, default=2.0,
                 help="measurement noise std on the 0-255 scale")
  p.add_argument("--steps", type=int, default=2000, help="optimizer steps")
  p.add_argument("--width", type=int, default=32,
                 help="channels per level of the net")
  p.add_argument("--levels", type=int, default=5,
                 help="levels of the encoder-decoder")
  p.add_argument("--tv-lam", type=float, default=0.002,
                 help="TV's weight (small: the noise is small)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--tiny", action="store_true",
                 help="a 32 px photo, 3 levels of 16 channels, 400 steps")
  args = p.parse_args(argv)
  if args.tiny:
    args.size, args.levels, args.width, args.steps = 32, 3, 16, 400
  return args


def main(argv=None) -> dict:
  args = parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  clean = dip_jax.images.sample_image(args.size)
  op = make_operator(clean.shape, args.length)
  err = adjoint_error(op, clean.shape)
  if err > 1e-4:
    raise SystemExit(f"the operator's adjoint is off by {err:.1e}")

  rng = np.random.default_rng(args.seed)
  y = np.asarray(op(jnp.asarray(clean)[None])[0])
  y = (y + rng.normal(0, args.sigma / 255, y.shape)).astype(np.float32)

  dip = dip_jax.reconstruct(
      y, op, method="dip", clean=clean, num_steps=args.steps, seed=args.seed,
      progress=not args.tiny,
      **{"net.channels_down": (args.width,) * args.levels,
         "net.channels_up": (args.width,) * args.levels,
         "net.channels_skip": (4,) * args.levels,
         "input.channels": args.width}).reconstruction
  tv = dip_jax.reconstruct(y, op, method="tv", clean=clean,
                           **{"tv.lam": args.tv_lam}).reconstruction
  # What one would do without a method: every read-out column twice.
  naive = np.clip(np.repeat(y, 2, axis=1), 0, 1)

  scores = {"adjoint_rel_error": err,
            "psnr_naive": metrics.psnr(naive, clean),
            "psnr_tv": metrics.psnr(tv, clean),
            "psnr_dip": metrics.psnr(dip, clean),
            "shape": list(dip.shape), "observed_shape": list(y.shape)}
  for name, img in (("observed", naive), ("dip", dip), ("tv", tv)):
    dip_jax.images.save_image(os.path.join(args.out, f"{name}.png"), img)

  fig = Figure(figsize=(13, 3.8))
  axes = fig.subplots(1, 4)
  panels = ((naive, f"observed, columns x2 {scores['psnr_naive']:.2f} dB"),
            (tv, f"TV {scores['psnr_tv']:.2f} dB"),
            (dip, f"DIP {scores['psnr_dip']:.2f} dB"), (clean, "clean"))
  for ax, (img, title) in zip(axes, panels):
    ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
  fig.tight_layout()
  fig.savefig(os.path.join(args.out, "comparison.png"), dpi=80)

  with open(os.path.join(args.out, "summary.json"), "w") as fh:
    json.dump(scores, fh, indent=1)
  print(f"adjoint test {err:.1e}; naive {scores['psnr_naive']:.2f} dB, TV "
        f"{scores['psnr_tv']:.2f} dB, DIP {scores['psnr_dip']:.2f} dB; "
        f"wrote {args.out}")
  return scores


if __name__ == "__main__":
  main()
