"""The task pages' before/after pictures, made by the `:quick` configs.

Each task below is one ordinary run of its `:quick` config on the built-in
photo (no data files needed, so any checkout remakes the same pictures),
through the CLI's path (`dip_jax.cli.run.reconstruct`). A run's
comparison.png (the observation, the TV baseline, DIP and the clean image,
each titled with its PSNR) becomes docs/<task>_quick.png, and with --record
the PSNRs in those titles are written to results/task_pictures/, so every
number a page shows, even inside a picture, has its record.

  python experiments/task_pictures.py --record      # minutes per task on 2 cores
  python experiments/task_pictures.py --tasks=flash --workdir=/tmp/pics

One image and one seed per task: the pictures show what a run gives; they
are no comparison of DIP with TV (docs/methods.md says where one exists).
"""

import argparse
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax.cli import run  # pylint: disable=wrong-import-position
from dip_jax.io import records  # pylint: disable=wrong-import-position

# Page name (docs/tasks/<name>.md) -> the config that makes its picture.
TASKS = {
    "denoising": "denoise.py:quick",
    "super_resolution": "sr.py:quick",
    "deblurring": "deblur.py:quick",
    "flash": "flash.py:quick",
}
# The numbers of a row, from the run's summary.json.
KEYS = ("psnr", "corrupted_psnr", "bicubic_psnr", "steps", "seconds")


def picture_path(task: str, docs_dir: str) -> str:
  return os.path.join(docs_dir, f"{task}_quick.png")


def make_picture(task: str, workdir: str, docs_dir: str,
                 steps: int = 0, size: int = 0) -> dict:
  """Runs `task`'s config into workdir/<task>/ and copies its comparison
  figure into the docs; returns the record row. `steps` and `size` (0:
  the config's own) shrink the run for a test."""
  spec = TASKS[task]
  config = config_lib.task_config(spec)
  if steps:
    config.num_steps = steps
  if size:
    config.sample_size = size
  config.snapshot_every = 0
  work = os.path.join(workdir, task)
  summary = run.reconstruct(config, work)
  os.makedirs(docs_dir, exist_ok=True)
  shutil.copyfile(os.path.join(work, "comparison.png"),
                  picture_path(task, docs_dir))
  tv = summary.get("tv") or {}
  return {"task": task, "config": spec, "image": summary.get("image"),
          "seed": config.seed, "tv_psnr": tv.get("psnr"),
          **{k: summary.get(k) for k in KEYS}}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--tasks", default=",".join(TASKS),
                 help=f"comma-separated, of {', '.join(TASKS)}")
  p.add_argument("--workdir", default="",
                 help="where the runs go (default: a fresh temporary "
                      "folder); a rerun into the same folder resumes")
  p.add_argument("--docs", default=os.path.join(ROOT, "docs"),
                 help="where the pictures go")
  p.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
  p.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
  records.add_flag(p)
  args = p.parse_args(argv)
  tasks = [t for t in args.tasks.split(",") if t]
  unknown = sorted(set(tasks) - set(TASKS))
  if unknown:
    p.error(f"unknown task {unknown[0]!r} (known: {', '.join(TASKS)})")
  workdir = args.workdir or tempfile.mkdtemp(prefix="task_pictures_")
  rows = [make_picture(t, workdir, args.docs, args.steps, args.size)
          for t in tasks]
  for r in rows:
    print(f"{r['task']}: {picture_path(r['task'], args.docs)}  "
          f"DIP {r['psnr']:.2f} dB, TV {r['tv_psnr']:.2f} dB")
  records.record(
      args.record, "task_pictures", rows,
      config={"tasks": {t: TASKS[t] for t in tasks}},
      seeds=sorted({r["seed"] for r in rows}),
      argv=sys.argv if argv is None else ["experiments/task_pictures.py",
                                          *argv])


if __name__ == "__main__":
  main()
