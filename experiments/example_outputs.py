"""What the scripts of examples/ print, as a record for docs/examples.md.

Each script is run as a user runs it (its file, its `main(argv)`, its own
defaults) at the sizes asked for: `tiny` (`--tiny`: a 32 or 64 px photo, a
narrow net, a few hundred steps; seconds once compiled) and `default` (the
script's defaults: 128 px, 5 levels of 32 channels; minutes each on a
2-core CPU). A row holds the scores its summary.json wrote, the photo's
side, the steps and the wall seconds (compilation included).

  python experiments/example_outputs.py --record                 # tiny
  python experiments/example_outputs.py --sizes=tiny,default --record
"""

import argparse
import json
import os
import runpy
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax.io import records  # pylint: disable=wrong-import-position

SCRIPTS = ("denoise", "inpaint", "super_resolution", "custom_operator",
           "snapshot_watcher")
SIZES = {"tiny": ["--tiny"], "default": []}


def row(script: str, size: str, summary: dict, args, seconds: float) -> dict:
  """The record row of one run: its scalar scores (and the first and last
  frame of the watcher), the photo's side and the steps it ran."""
  out = {"script": script, "size": size, "seconds": round(seconds, 1),
         "px": args.size, "steps": args.steps}
  out.update({k: v for k, v in summary.items()
              if k.startswith("psnr_") and isinstance(v, float)})
  if "frame_psnr" in summary:
    out.update(first_frame_step=summary["frame_steps"][0],
               first_frame_psnr=summary["frame_psnr"][0],
               last_frame_step=summary["frame_steps"][-1],
               last_frame_psnr=summary["frame_psnr"][-1])
  return out


def run_one(script: str, size: str, out: str) -> dict:
  """examples/<script>.py at `size` into `out`: its record row."""
  module = runpy.run_path(os.path.join(ROOT, "examples", f"{script}.py"))
  argv = [*SIZES[size], "--out", out]
  args = module["parse_args"](argv)  # the sizes the script will use
  start = time.perf_counter()
  module["main"](argv)
  seconds = time.perf_counter() - start
  with open(os.path.join(out, "summary.json")) as f:
    summary = json.load(f)
  return row(script, size, summary, args, seconds)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--scripts", default=",".join(SCRIPTS),
                 help=f"comma-separated, of {', '.join(SCRIPTS)}")
  p.add_argument("--sizes", default="tiny",
                 help=f"comma-separated, of {', '.join(SIZES)}")
  p.add_argument("--out", default="",
                 help="where the scripts write (default: a temporary folder)")
  records.add_flag(p)
  args = p.parse_args(argv)
  scripts = [s for s in args.scripts.split(",") if s]
  sizes = [s for s in args.sizes.split(",") if s]
  for given, known, what in ((scripts, SCRIPTS, "script"),
                             (sizes, SIZES, "size")):
    bad = [g for g in given if g not in known]
    if bad:
      p.error(f"unknown {what} {bad[0]!r} (known: {', '.join(known)})")
  out = args.out or tempfile.mkdtemp(prefix="example_outputs_")
  rows = []
  for size in sizes:
    for script in scripts:
      rows.append(run_one(script, size, os.path.join(out, size, script)))
      print(json.dumps(rows[-1]))
  records.record(args.record, "examples", rows,
                 config={"scripts": scripts, "sizes": sizes}, seeds=[0],
                 argv=sys.argv if argv is None else
                 ["experiments/example_outputs.py", *argv])
  return rows


if __name__ == "__main__":
  main()
