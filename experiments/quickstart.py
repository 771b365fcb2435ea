"""The README's first command, run as written, and its numbers recorded.

Runs `python -m dip_jax.main --config=configs/denoise.py:quick` (the
quickstart) in a fresh work folder, reads the run's summary.json and, with
--record, writes results/quickstart/<run-id>.json: the PSNR of the
reconstruction and of the noisy input, the steps and the seconds. The
quickstart table of docs/performance.md is rendered from that record
(`python -m dip_jax.results_pages`).

  python experiments/quickstart.py --record     # about a minute on 2 cores
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax import records  # pylint: disable=wrong-import-position

CONFIG = "configs/denoise.py:quick"
# The numbers the quickstart prints (and the table shows), from summary.json.
KEYS = ("psnr", "psnr_corrupted", "ssim", "steps", "seconds",
        "compile_seconds")


def run_quickstart(workdir: str) -> dict:
  """Runs the quickstart into `workdir`; its summary.json as a dict."""
  cmd = [sys.executable, "-m", "dip_jax.main", f"--config={CONFIG}",
         f"--workdir={workdir}"]
  proc = subprocess.run(cmd, cwd=ROOT, check=False)
  if proc.returncode:
    raise SystemExit(f"the quickstart failed (exit {proc.returncode})")
  with open(os.path.join(workdir, "summary.json")) as f:
    return json.load(f)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--workdir", default="",
                 help="where the run goes (default: a fresh temporary "
                      "folder, so nothing is resumed)")
  records.add_flag(p)
  args = p.parse_args(argv)
  workdir = args.workdir or tempfile.mkdtemp(prefix="dip_quick_")
  summary = run_quickstart(workdir)
  row = {"image": summary.get("image"), "method": summary.get("prior"),
         "seed": summary.get("seed", 0),
         **{k: summary.get(k) for k in KEYS}}
  print(json.dumps(row, indent=1))
  records.record(
      args.record, "quickstart", [row],
      config={"config": CONFIG,
              "readme_command": "python -m dip_jax.main "
                                f"--config={CONFIG} --workdir=/tmp/dip_quick"},
      seeds=[row["seed"]], command="python experiments/quickstart.py --record",
      argv=sys.argv if argv is None else ["experiments/quickstart.py", *argv])


if __name__ == "__main__":
  main()
