r"""Region inpainting with three architectures: the paper's Fig. 8 (library).

The paper fills the large regions of library.png with a deep encoder-decoder
(depth 6, no skips), a ResNet and a U-Net, and finds the deep hourglass
clearly best: skips let the net reproduce the input's local statistics
without the long-range structure the holes need.

Each net is one ordinary dip_jax run (`run.reconstruct`, resumable) of
configs/inpaint.py:library on DATA_DIR/dip/inpainting/library.png with
library_mask.png (white = known pixel), scored against the full image:
  encoder-decoder-6  the library config's net; Adam lr 0.01 (paper)
  resnet-8           8 blocks x 32 channels; lr 0.001 (the paper code's)
  unet               nets/unet.py, [16..128]; lr 0.001 (the paper code's)
Common: 1-channel input z = 0.1 * U(0, 1), no input perturbation, no EMA,
MSE on the known pixels. The TV-regularised solution (the first run's
baseline) is shown too. PSNR is reported over the whole image and over the
missing pixels only (psnr_missing), where the architectures differ.

  --quick   128 x 128 centre crop of image and mask, nets capped at 64
            channels (ResNet-8 stays at its 32), 1000 steps
  (full)    the whole 704 x 448 image, paper widths, 3000 steps (GPU)

  python experiments/inpainting_architectures.py --quick
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # pylint: disable=wrong-import-position

import jax  # pylint: disable=wrong-import-position,g-bad-import-order
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from dip_jax import nets  # pylint: disable=wrong-import-position
from dip_jax.cli import run  # pylint: disable=wrong-import-position
from dip_jax.io import images  # pylint: disable=wrong-import-position
from dip_jax.nets import presets  # pylint: disable=wrong-import-position

# name -> (label, Adam learning rate the paper's notebook used for it)
NETS = {"encoder-decoder-6": ("encoder-decoder, depth 6", 0.01),
        "resnet-8": ("ResNet-8", 0.001),
        "unet": ("U-Net", 0.001)}
IMAGE, MASK = "library.png", "library_mask.png"


def prepare_inputs(data_dir: str, out: str, crop: int) -> tuple[str, str]:
  """Paths of the image and mask to use: the originals, or their centre
  crops written to OUT/inputs (the crop keeps image and mask aligned)."""
  src = os.path.join(data_dir, "dip", "inpainting")
  image, mask = os.path.join(src, IMAGE), os.path.join(src, MASK)
  for path in (image, mask):
    if not os.path.exists(path):
      sys.exit(f"error: {path} not found (set --data_dir)")
  if not crop:
    return image, mask
  from PIL import Image  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
  paths = []
  for path in (image, mask):
    with Image.open(path) as im:
      w, h = im.size
      if crop > min(w, h):
        sys.exit(f"error: --crop {crop} exceeds {path} ({w}x{h})")
      left, top = (w - crop) // 2, (h - crop) // 2
      target = os.path.join(out, "inputs", os.path.basename(path))
      im.crop((left, top, left + crop, top + crop)).save(target)
      paths.append(target)
  return paths[0], paths[1]


def net_config(name: str, image: str, mask: str, args, first: bool):
  """configs/inpaint.py:library with preset `name` and the run's sizes."""
  c = common.load_config("inpaint.py", "library")
  presets.apply(c.net, name)
  c.image, c.corrupted = image, False
  c.mask.kind, c.mask.path = "file", mask
  c.optim.learning_rate = args.lr or NETS[name][1]
  c.num_steps = args.steps
  c.net.width = args.width
  c.seed = args.seed
  c.snapshot_every = 0
  c.tv.enabled = first  # the TV baseline does not depend on the net
  return c


def param_count(config) -> int:
  net = nets.build_net(config.net, out_channels=3)
  s = 2 ** (nets.net_depth(config.net) + 1)
  shapes = jax.eval_shape(lambda: net.init(
      jax.random.key(0), jnp.zeros((1, s, s, config.input.channels))))
  return nets.count_params(shapes)


def verdict(rows: list[dict]) -> str:
  """One honest sentence: does the deep encoder-decoder lead, by how much?"""
  best = max(rows, key=lambda r: r["psnr_missing"])
  encdec = next(r for r in rows if r["name"] == "encoder-decoder-6")
  others = [r for r in rows if r is not encdec]
  margins = ", ".join(f"{encdec['psnr_missing'] - r['psnr_missing']:+.2f} dB "
                      f"vs {r['label']}" for r in others)
  if best is encdec:
    return ("Agrees with the paper (Fig. 8): the depth-6 encoder-decoder "
            f"fills the missing region best ({encdec['psnr_missing']:.2f} dB; "
            f"{margins}).")
  return ("Disagrees with the paper (Fig. 8), where the deep encoder-decoder "
          f"is clearly best: here {best['label']} leads on the missing pixels "
          f"({best['psnr_missing']:.2f} dB vs the encoder-decoder's "
          f"{encdec['psnr_missing']:.2f} dB; encoder-decoder {margins}).")


def tv_note(rows: list[dict], tv_summary: dict) -> str:
  """How the hand-crafted TV fill compares, in the same numbers."""
  best = max(rows, key=lambda r: r["psnr_missing"])
  gap = tv_summary["psnr_missing"] - best["psnr_missing"]
  text = (f"The TV baseline scores {tv_summary['psnr_missing']:.2f} dB on the "
          f"missing pixels, {abs(gap):.2f} dB {'above' if gap > 0 else 'below'}"
          f" the best net ({best['label']})")
  if gap > 0:
    text += (": PSNR rewards TV's flat, mean-coloured fill, which shows none "
             "of the scene's structure (see the figure)")
  return text + "; the paper shows Fig. 8 as images only, without numbers."


def main():
  p = common.parser("inpainting_architectures", __doc__)
  p.add_argument("--data_dir", default=common.DATA_DIR)
  p.add_argument("--crop", type=int, default=-1,
                 help="centre crop side (128 quick / 0 = whole image)")
  p.add_argument("--steps", type=int, default=0,
                 help="fit steps (1000 quick / 3000 full)")
  p.add_argument("--width", type=int, default=-1,
                 help="channel cap (64 quick / 0 = paper widths)")
  p.add_argument("--lr", type=float, default=0.0,
                 help="one learning rate for all nets (0 = the paper's)")
  p.add_argument("--nets", default=",".join(NETS))
  args = p.parse_args()
  args.crop = args.crop if args.crop >= 0 else (128 if args.quick else 0)
  args.steps = args.steps or (1000 if args.quick else 3000)
  args.width = args.width if args.width >= 0 else (64 if args.quick else 0)
  names = [n.strip() for n in args.nets.split(",") if n.strip()]
  for n in names:
    if n not in NETS:
      sys.exit(f"error: unknown net {n!r}; known: {', '.join(NETS)}")

  image, mask = prepare_inputs(args.data_dir, args.out, args.crop)
  rows, recon, tv = [], {}, None
  for i, name in enumerate(names):
    config = net_config(name, image, mask, args, first=(i == 0))
    print(f"== {name}: lr {config.optim.learning_rate}, {args.steps} steps, "
          f"width cap {args.width or 'none'}", flush=True)
    workdir = os.path.join(args.out, name)
    s = run.reconstruct(config, workdir)
    # A finished run is recognised by its summary.json; its checkpoints only
    # served resuming and take ~30 MB per net, so they go.
    shutil.rmtree(os.path.join(workdir, run.CHECKPOINTS), ignore_errors=True)
    recon[name] = images.load_image(
        os.path.join(workdir, "reconstruction.png")).pixels
    if "tv" in s:
      tv = (s["tv"], images.load_image(os.path.join(workdir, "tv.png")).pixels,
            images.load_image(os.path.join(workdir, "corrupted.png")).pixels)
    rows.append({"name": name, "label": NETS[name][0], "params":
                 param_count(config), "lr": config.optim.learning_rate,
                 "psnr": s["psnr"], "psnr_missing": s["psnr_missing"],
                 "ssim": s["ssim"], "seconds": s["seconds"],
                 "input_psnr_missing": s.get("corrupted_psnr_missing")})

  clean = images.load_image(image).pixels
  known = images.load_image(mask).pixels
  missing_fraction = float(np.mean(known < 0.5))
  panels = []
  if tv is not None:
    panels.append(("input (missing = grey)", tv[2]))
  panels += [(f"{r['label']}\n{r['psnr']:.2f} dB, missing {r['psnr_missing']:.2f}",
              recon[r["name"]]) for r in rows]
  if tv is not None:
    panels.append((f"TV\n{tv[0]['psnr']:.2f} dB, missing "
                   f"{tv[0]['psnr_missing']:.2f}", tv[1]))
  panels.append(("clean", clean))
  h, w = clean.shape[:2]
  common.image_grid(os.path.join(args.out, "inpainting_architectures.png"),
                    panels, cols=3 if w > h * 1.2 else len(panels),
                    panel_inches=3.4 if w > 256 else 2.3,
                    dpi=100 if w <= 256 else 140)

  table = common.markdown_table(
      ["net", "parameters", "Adam lr", "PSNR whole image", "PSNR missing px",
       "SSIM", "seconds"],
      [[r["label"], f"{r['params']:,}", r["lr"], f"{r['psnr']:.2f}",
        f"{r['psnr_missing']:.2f}", f"{r['ssim']:.3f}", f"{r['seconds']:.0f}"]
       for r in rows]
      + ([["TV (λ 0.01)", "—", "—", f"{tv[0]['psnr']:.2f}",
           f"{tv[0]['psnr_missing']:.2f}", f"{tv[0]['ssim']:.3f}",
           f"{tv[0]['seconds']:.0f}"]] if tv is not None else []))
  region = (f"{args.crop}x{args.crop} centre crop" if args.crop
            else f"whole image ({w}x{h})")
  text = (
      f"# Inpainting the library image with three architectures "
      f"({'quick' if args.quick else 'full'})\n\n"
      f"{region} of library.png, {100 * missing_fraction:.1f} % of pixels "
      f"missing; {args.steps} steps; width cap "
      f"{args.width or 'none (paper widths)'}; seed {args.seed}; 1-channel "
      f"input, no input noise, no EMA (configs/inpaint.py:library).\n\n"
      f"{table}\n\n{verdict(rows) if 'encoder-decoder-6' in names else ''}"
      f"{' ' + tv_note(rows, tv[0]) if tv is not None else ''}"
      f"\n\nFigure: inpainting_architectures.png; per-net runs in "
      f"<net>/ (comparison.png, summary.json). {common.device_line()}\n")
  common.write_summary(args.out, text)


if __name__ == "__main__":
  main()
