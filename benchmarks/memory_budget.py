"""The budget check's memory estimate against the peak RSS a fit reaches.

For each size, a fresh process builds the fit of a task config at S x S px
(`methods.dip.build_fit`, which compiles the chunk program from shapes and
estimates its peak with XLA's memory analysis), then runs a few steps and
reports how far its RSS rose during the first chunk above what it was once
the program was compiled (RSS polled every 2 ms: the compiler's own peak is
not the fit's). The table prints both and their ratio (measured / estimate); the
budget check refuses fits whose need (budget.Estimate.gib: the estimate
with the runtime's overhead) exceeds the free memory, so "measured" should
stay below "need".

  python benchmarks/memory_budget.py [--sizes 128,256,512] [--config configs/denoise.py:quick]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(config_path: str, size: int, steps: int) -> dict:
  """In this process: estimate, then the measured peak RSS growth."""
  import importlib.util  # pylint: disable=import-outside-toplevel
  import jax  # pylint: disable=import-outside-toplevel
  from dip_jax import data as data_lib
  from dip_jax.fit import driver  # pylint: disable=import-outside-toplevel
  from dip_jax.methods import dip as dip_method  # pylint: disable=import-outside-toplevel

  path, _, arg = config_path.partition(":")
  spec = importlib.util.spec_from_file_location("task_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(arg or None)
  config.sample_size, config.image, config.tv.enabled = size, "", False
  config.steps_per_dispatch = steps
  problem = data_lib.build_problem(config)
  page = os.sysconf("SC_PAGE_SIZE")

  def rss():  # current, not peak: the compile's own peak must not count
    with open("/proc/self/statm") as f:
      return int(f.read().split()[1]) * page

  fit = dip_method.build_fit(config, problem)  # compiles, allocates z
  before, peak, done = rss(), [0], threading.Event()

  def poll():
    while not done.is_set():
      peak[0] = max(peak[0], rss())
      time.sleep(0.002)
  watcher = threading.Thread(target=poll)
  watcher.start()
  runner = driver.Runner(fit)
  runner.chunk(steps)
  jax.block_until_ready(runner.state)
  done.set()
  watcher.join()
  grown = peak[0] - before
  return {"size": size, "estimate_mib": fit.estimate.peak_bytes / 2 ** 20,
          "measured_mib": grown / 2 ** 20,
          "ratio": grown / max(fit.estimate.peak_bytes, 1),
          "need_mib": fit.estimate.gib * 1024}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--sizes", default="128,256,512")
  p.add_argument("--config", default=os.path.join(ROOT, "configs/denoise.py:quick"))
  p.add_argument("--steps", type=int, default=2)
  p.add_argument("--one", type=int, help=argparse.SUPPRESS)
  args = p.parse_args()
  if args.one:
    print(json.dumps(measure(args.config, args.one, args.steps)))
    return
  rows = []
  for size in [int(s) for s in args.sizes.split(",")]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(size), "--config", args.config,
         "--steps", str(args.steps)], capture_output=True, text=True,
        check=True, cwd=ROOT)
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
  print(f"memory estimate vs peak RSS growth ({args.config}, "
        f"{args.steps} steps)\n")
  print("| size | XLA estimate MiB | need MiB | measured MiB | "
        "measured / estimate |")
  print("|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['size']} | {r['estimate_mib']:.1f} | {r['need_mib']:.1f} | "
          f"{r['measured_mib']:.1f} | {r['ratio']:.2f} |")
  print(json.dumps(rows))


if __name__ == "__main__":
  sys.path.insert(0, ROOT)
  main()
