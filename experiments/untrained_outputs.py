r"""What each architecture draws before any fitting: f_theta0(z) at random init.

The paper's supplementary figure shows "outputs of untrained, randomly
initialized U-nets": the deeper the hourglass, the larger and smoother the
structures the net produces from noise, which is the bias the prior rests
on. This draws f_theta0(z) for every preset in dip_jax/nets/presets.py
(hourglass-1/3/5, skip-5 with bilinear and nearest upsampling, the
encoder-decoder of depth 6, U-Net, ResNet-8, Deep Decoder) from one shared
input z (32 channels of 0.1 * U(0, 1), the paper's input), at full width and
with the engine's initialisers (PyTorch's defaults, as the paper's nets).

Besides the grid figure, the summary measures how rough each output is:
  std          the spread of the output's values;
  mean |grad|  the mean absolute difference of neighbouring pixels;
  roughness    mean |grad| / std: ~1.1 for i.i.d. noise, small for smooth
               images, so it compares nets whose outputs differ in contrast.

  python experiments/untrained_outputs.py --quick     # 128 px, ~1 min CPU
  python experiments/untrained_outputs.py             # 512 px, as the paper
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # pylint: disable=wrong-import-position

import jax  # pylint: disable=wrong-import-position,g-bad-import-order
import numpy as np  # pylint: disable=wrong-import-position

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax import nets  # pylint: disable=wrong-import-position
from dip_jax.fit import step as fit_core  # pylint: disable=wrong-import-position
from dip_jax.nets import presets  # pylint: disable=wrong-import-position

DEFAULT_PRESETS = ("hourglass-1", "hourglass-3", "hourglass-5", "skip-5",
                   "skip-5-nearest", "encoder-decoder-6", "unet", "resnet-8",
                   "deep-decoder")


def untrained_output(name: str, z: jax.Array, seed: int, width: int = 0):
  """(f_theta0(z) as H x W x 3, parameter count) for preset `name`."""
  c = config_lib.base_config()
  c.net.preset = name
  c.net.width = width
  net = nets.build_net(c.net, out_channels=3)
  depth = nets.net_depth(c.net)
  if z.shape[1] % 2 ** depth or z.shape[2] % 2 ** depth:
    raise ValueError(f"{name}: size {z.shape[1]} is not a multiple of "
                     f"2**{depth}")

  @jax.jit
  def draw(key):
    params = net.init(key, z)
    return net.apply(params, z)[0], nets.count_params(params)

  out, count = draw(jax.random.key(seed))
  return np.asarray(out), int(count)


def roughness(img: np.ndarray) -> tuple[float, float, float]:
  """(std, mean |neighbour difference|, their ratio) over H, W and channels."""
  img = np.asarray(img, np.float64)
  grad = np.concatenate([np.abs(np.diff(img, axis=0)).ravel(),
                         np.abs(np.diff(img, axis=1)).ravel()])
  std, g = float(img.std()), float(grad.mean())
  return std, g, g / max(std, 1e-12)


def main():
  p = common.parser("untrained_outputs", __doc__)
  p.add_argument("--size", type=int, default=0,
                 help="image side (default 128 with --quick, else 512)")
  p.add_argument("--presets", default=",".join(DEFAULT_PRESETS),
                 help="comma-separated preset names")
  p.add_argument("--width", type=int, default=0,
                 help="cap every net's channels (0 = the preset's widths)")
  args = p.parse_args()
  size = args.size or (128 if args.quick else 512)
  names = [n.strip() for n in args.presets.split(",") if n.strip()]
  for n in names:
    presets.preset(n)  # refuses unknown names before any work
  # One z for all nets: the differences in the figure are the nets'.
  z = fit_core.make_input(jax.random.key(args.seed + 1), "uniform", 32, size, size,
                     0.1)
  panels, rows = [], []
  for name in names:
    t0 = time.perf_counter()
    img, count = untrained_output(name, z, args.seed, args.width)
    std, grad, ratio = roughness(img)
    print(f"{name}: {count:,} parameters, std {std:.4f}, mean |grad| "
          f"{grad:.4f}, roughness {ratio:.3f} ({time.perf_counter() - t0:.1f} s)",
          flush=True)
    # Stretched to [0, 1] per panel for display: at init the outputs vary by
    # only ~0.1 around 0.5 (std column), which would show as flat grey.
    lo, hi = float(img.min()), float(img.max())
    panels.append((f"{name} ({count / 1e6:.2f}M)",
                   (img - lo) / max(hi - lo, 1e-12)))
    rows.append([name, f"{count:,}", f"{std:.4f}", f"{grad:.4f}",
                 f"{ratio:.3f}"])
  white = np.random.default_rng(0).uniform(size=(size, size, 3))
  rows.append(["(i.i.d. U(0,1) noise, reference)", "—",
               *(f"{v:.4f}" if i < 2 else f"{v:.3f}"
                 for i, v in enumerate(roughness(white)))])

  os.makedirs(args.out, exist_ok=True)
  fig_path = os.path.join(args.out, "untrained_outputs.png")
  cols = 5 if len(panels) > 6 else 3
  common.image_grid(fig_path, panels, cols,
                    title=f"f_θ0(z) at random init, {size}×{size}, one shared "
                          f"z (32 ch, 0.1·U(0,1)), seed {args.seed}; each "
                          f"panel contrast-stretched",
                    panel_inches=2.4 if size <= 128 else 3.2,
                    dpi=100 if size <= 128 else 160)
  table = common.markdown_table(
      ["net", "parameters", "std", "mean abs grad", "roughness (grad/std)"],
      rows)
  text = (f"# Untrained outputs f_θ0(z) ({'quick, ' if args.quick else ''}"
          f"{size}×{size} px{', width cap ' + str(args.width) if args.width else ''})\n\n"
          f"Figure: untrained_outputs.png. Each net at its random init "
          f"(seed {args.seed}) applied to one shared input z; each panel is "
          f"min-max stretched for display, the numbers are of the raw "
          f"outputs.\n\n{table}\n\n"
          "Roughness = mean |neighbour difference| / std: i.i.d. noise is "
          "~1.1; lower means larger, smoother structures.\n\n"
          f"{common.device_line()}\n")
  common.write_summary(args.out, text)


if __name__ == "__main__":
  main()
