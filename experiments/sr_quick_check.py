r"""Does `configs/sr.py:quick` beat bicubic on photos it was not tuned on?

The quick SR settings were once chosen on the built-in photo alone, and on
another 128 px photo they lost to bicubic. This runs the quick config (x4 by
default) on the 128 x 128 centre crop of every Set5 image and of five Kodak
photos outside the CBM3D denoising set (kodim05 bikes, kodim08 houses,
kodim13 river, kodim19 fence, kodim23 parrots: textures SR finds hard), and
prints per image DIP's answer beside bicubic, in Y PSNR with the factor's
border cropped (the paper's SR metric), and the worst margin.

  python experiments/sr_quick_check.py [--data_dir ../shared/data] \
      [--variant x4] [--set ema_decay=0 --set num_steps=2000] \
      [--no_set5 --kodak kodim06,kodim11]   # tuning crops
Each image is one run in OUT/<setting>/<image>/ (finished ones are reused,
so a rerun only prints); --set tries other settings (a setting's folder is
named after its overrides). ~25 s per image on 2 CPU cores.
"""

import argparse
import ast
import copy
import io
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax.cli import hyper  # pylint: disable=wrong-import-position
from dip_jax.cli import run  # pylint: disable=wrong-import-position
from dip_jax.io import results  # pylint: disable=wrong-import-position

KODAK = ("kodim05", "kodim08", "kodim13", "kodim19", "kodim23")
CROP = 128


def images(data_dir: str, kodak, with_set5: bool) -> list[str]:
  paths = []
  if with_set5:
    set5 = os.path.join(data_dir, "set5")
    paths = sorted(os.path.join(set5, f) for f in os.listdir(set5)
                   if f.endswith(".png"))
  paths += [os.path.join(data_dir, "kodak24", f"{k}.png") for k in kodak]
  missing = [p for p in paths if not os.path.isfile(p)]
  if missing:
    raise SystemExit(f"error: missing images under --data_dir: {missing}")
  return paths


def parse_set(items) -> dict:
  """--set KEY=VALUE pairs (Python literals, else strings) as overrides."""
  out = {}
  for item in items:
    key, eq, text = item.partition("=")
    if not eq:
      raise SystemExit(f"error: --set {item!r} is not KEY=VALUE")
    try:
      out[key] = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      out[key] = text
  return out


def score(workdir: str) -> tuple:
  """(DIP's answer, bicubic) in Y PSNR from a finished run's summary."""
  s = results.read_dir(workdir)
  return s.psnr_y, s.baselines["bicubic"].psnr_y


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--data_dir", default=os.path.join(ROOT, "..", "shared",
                                                    "data"))
  p.add_argument("--out", default=os.path.join(ROOT, "experiments", "out",
                                               "sr_quick_check"))
  p.add_argument("--variant", default="x4", choices=("x4", "x8"))
  p.add_argument("--kodak", default=",".join(KODAK),
                 help="Kodak files to add (tune on others than the default)")
  p.add_argument("--no_set5", action="store_true", help="Kodak crops only")
  p.add_argument("--set", action="append", default=[],
                 help="a config override KEY=VALUE (repeatable)")
  args = p.parse_args()
  overrides = parse_set(args.set)
  config = config_lib.task_config("sr.py", f"{args.variant},quick")
  config.center_crop = CROP
  name = hyper.spell(overrides)  # "default" without --set
  [(_, pairs)] = hyper.check((overrides,), config)
  for key, value in pairs:
    hyper.set_key(config, key, value)
  rows = []
  kodak = [k.strip() for k in args.kodak.split(",") if k.strip()]
  for path in images(args.data_dir, kodak, not args.no_set5):
    stem = os.path.splitext(os.path.basename(path))[0]
    workdir = os.path.join(args.out, args.variant, name, stem)
    job = copy.deepcopy(config)
    job.image = path
    s = run.reconstruct(job, workdir, stream=io.StringIO())
    dip, bicubic = score(workdir)
    rows.append((stem, dip, bicubic, s.get("seconds", float("nan"))))
    print(f"{stem:10s} DIP {dip:6.2f}  bicubic {bicubic:6.2f}  "
          f"{dip - bicubic:+.2f} dB  {rows[-1][3]:.0f} s", flush=True)
  gains = np.array([r[1] - r[2] for r in rows])
  print(f"\nconfigs/sr.py:{args.variant},quick [{name}] on {len(rows)} "
        f"128 px crops (Y PSNR): DIP mean {np.mean([r[1] for r in rows]):.2f}"
        f", bicubic {np.mean([r[2] for r in rows]):.2f}; margin mean "
        f"{gains.mean():+.2f}, worst {gains.min():+.2f} dB "
        f"({rows[int(gains.argmin())][0]}); beats bicubic on "
        f"{int((gains > 0).sum())}/{len(rows)}")
  return 0 if (gains > 0).all() else 1


if __name__ == "__main__":
  sys.exit(main())
