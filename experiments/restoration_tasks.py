r"""DIP and TV side by side on the paper's images, one row per task.

Tasks (images from a folder laid out like ../shared/data):
  denoise_f16      F16_GT.png + sigma 25 noise            configs/denoise.py
  jpeg_snail       snail.jpg as it is (no ground truth)    configs/jpeg.py
  inpaint_kate     kate.png masked by kate_mask.png        configs/inpaint.py
  restore_barbara  barbara.png, 50 % of pixels kept        configs/restore.py
  sr_zebra         zebra_GT.png, x4                        configs/sr.py

Each task is one ordinary run (`dip_jax.cli.run.reconstruct`) into
OUT/<task>/, which also solves the TV problem on the same operator, so its
comparison.png is the task's figure. The table (OUT/summary.md) gives PSNR,
SSIM and seconds for DIP, TV and the corrupted/bicubic baseline.

  python experiments/restoration_tasks.py --data_dir=../shared/data \
      --out=experiments/out/restoration_tasks            # paper settings (GPU)
  python experiments/restoration_tasks.py --quick --crop=128   # CPU: :quick
      # configs on centre crops (minutes per task on 2 cores)

A rerun skips finished tasks (each run's workdir is resumable).
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax.cli import run  # pylint: disable=wrong-import-position

TASKS = {
    "denoise_f16": ("denoise.py", {"image": "dip/denoising/F16_GT.png"}),
    "jpeg_snail": ("jpeg.py", {"image": "dip/denoising/snail.jpg",
                               "corrupted": True}),
    "inpaint_kate": ("inpaint.py", {"image": "dip/inpainting/kate.png",
                                    "mask.kind": "file",
                                    "mask.path": "dip/inpainting/kate_mask.png"}),
    "restore_barbara": ("restore.py",
                        {"image": "dip/restoration/barbara.png"}),
    "sr_zebra": ("sr.py", {"image": "dip/sr/zebra_GT.png"}),
}
PATH_KEYS = ("image", "mask.path")


def task_config(task: str, args):
  file, overrides = TASKS[task]
  config = config_lib.task_config(file, "quick" if args.quick else None)
  for key, value in overrides.items():
    if key in PATH_KEYS:
      value = os.path.join(args.data_dir, value)
    config.update_from_flattened_dict({key: value})
  if args.crop:
    config.center_crop = args.crop
  if args.steps:
    config.num_steps = args.steps
  config.snapshot_every = 0
  return config


def _f(summary, key, digits=2):
  v = summary
  for k in key.split("."):
    v = v.get(k) if isinstance(v, dict) else None
  return "—" if v is None else f"{v:.{digits}f}"


def table(rows) -> str:
  head = ("| task | size | steps | DIP PSNR | DIP SSIM | TV PSNR | TV SSIM | "
          "input/bicubic PSNR | DIP on missing px / Y | TV on missing px / Y "
          "| DIP s | TV s |")
  lines = [head, "|" + "---|" * 12]
  for task, size, s in rows:
    base = "bicubic_psnr" if "bicubic_psnr" in s else "corrupted_psnr"
    extra = "psnr_missing" if "psnr_missing" in s else "psnr_y"
    lines.append(
        f"| {task} | {size} | {s.get('steps', '—')} | {_f(s, 'psnr')} | "
        f"{_f(s, 'ssim', 3)} | {_f(s, 'tv.psnr')} | {_f(s, 'tv.ssim', 3)} | "
        f"{_f(s, base)} | {_f(s, extra)} | {_f(s, 'tv.' + extra)} | "
        f"{_f(s, 'seconds', 1)} | {_f(s, 'tv.seconds', 1)} |")
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=os.path.join(ROOT, "..", "shared",
                                                          "data"))
  parser.add_argument("--out", default=os.path.join(
      ROOT, "experiments", "out", "restoration_tasks"))
  parser.add_argument("--quick", action="store_true",
                      help="the :quick configs (narrow nets) for a CPU")
  parser.add_argument("--crop", type=int, default=0,
                      help="centre crop side in px (0 = whole image)")
  parser.add_argument("--steps", type=int, default=0,
                      help="override the configs' step counts")
  parser.add_argument("--tasks", default=",".join(TASKS))
  args = parser.parse_args()
  if not os.path.isdir(args.data_dir):
    sys.exit(f"error: --data_dir {args.data_dir} is not a directory")
  rows = []
  for task in args.tasks.split(","):
    if task not in TASKS:
      sys.exit(f"error: unknown task {task!r}; known: {', '.join(TASKS)}")
    config = task_config(task, args)
    workdir = os.path.join(args.out, task)
    print(f"== {task}: {config.image} ({'quick' if args.quick else 'paper'} "
          f"settings, {config.num_steps} steps)", flush=True)
    summary = run.reconstruct(config, workdir)
    size = "x".join(str(d) for d in _size(workdir))
    rows.append((task, size, summary))
  mode = ("quick configs" if args.quick else "paper settings") + (
      f", {args.crop} px centre crops" if args.crop else "")
  text = (f"# DIP vs TV on the paper's images ({mode})\n\n{table(rows)}\n\n"
          f"Figures: <task>/comparison.png. Device: "
          f"{rows[0][2].get('device', '?') if rows else '?'}.\n")
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "summary.md"), "w") as f:
    f.write(text)
  print(text)


def _size(workdir):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(os.path.join(workdir, "reconstruction.png")) as im:
    return im.size


if __name__ == "__main__":
  main()
