"""The README's first command, run as written, and its numbers recorded.

Runs `python -m dip_jax.main --config=configs/denoise.py:quick` (the
quickstart) in a fresh work folder, reads the run's summary.json and, with
--record, writes results/quickstart/<run-id>.json: the PSNR of the
reconstruction and of the noisy input, the steps and the seconds. The
quickstart table of docs/performance.md is rendered from that record
(`python -m dip_jax.io.results_pages`).

  python experiments/quickstart.py --record     # about a minute on 2 cores
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax.io import records  # pylint: disable=wrong-import-position

CONFIG = "configs/denoise.py:quick"
# The numbers the quickstart prints (and the table shows), from summary.json.
KEYS = ("psnr", "psnr_corrupted", "ssim", "steps", "seconds",
        "compile_seconds")


def machine_busy_s() -> float:
  """CPU-seconds all processes have run since boot (Linux /proc/stat)."""
  with open("/proc/stat") as f:
    ticks = [int(v) for v in f.readline().split()[1:]]
  # user nice system idle iowait irq softirq steal: idle, iowait are not work
  return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def run_quickstart(workdir: str) -> tuple[dict, dict, float]:
  """Runs the quickstart into `workdir`.

  Returns:
    Its summary.json and config.json as dicts, and the cores that other
    processes kept busy meanwhile (timings on a shared machine read high
    when that is well above 0).
  """
  cmd = [sys.executable, "-m", "dip_jax.main", f"--config={CONFIG}",
         f"--workdir={workdir}"]
  t0, b0 = time.monotonic(), machine_busy_s()
  c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
  proc = subprocess.run(cmd, cwd=ROOT, check=False)
  if proc.returncode:
    raise SystemExit(f"the quickstart failed (exit {proc.returncode})")
  c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
  own = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
  other = max(0.0, (machine_busy_s() - b0 - own)
              / (time.monotonic() - t0))
  out = []
  for name in ("summary.json", "config.json"):
    with open(os.path.join(workdir, name)) as f:
      out.append(json.load(f))
  return out[0], out[1], other


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--workdir", default="",
                 help="where the run goes (default: a fresh temporary "
                      "folder, so nothing is resumed)")
  records.add_flag(p)
  args = p.parse_args(argv)
  workdir = args.workdir or tempfile.mkdtemp(prefix="dip_quick_")
  summary, config, other = run_quickstart(workdir)
  row = {"image": summary.get("image"), "method": summary.get("method"),
         "seed": config.get("seed"), "other_cores": other,
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
