"""What the early-stopping detectors cost per fit step, and in memory.

Four programs of the same fit (configs/denoise.py's skip-5, or its
`:quick` 32-channel net with --quick; the built-in photo at --size px):
no detector, ES-WMV (window of W outputs, running sums), ES-EMV and the
discrepancy stop (the data fit against the noise level). All four are
compiled in this one process and then run taking turns, chunk by
chunk (each turn: one untimed chunk to re-warm the caches, one timed), so
the machine's drift hits them alike; the table gives each one's median
s/step and its ratio to the no-detector program, plus the detector state's
size (the WMV window is W x H x W x C floats per restart).

  python benchmarks/early_stopping.py [--size 128] [--quick] [--rounds 12]
      [--record [DIR]]   # + DIR/early_stopping/<run-id>.json (records.py)
"""

import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
# The restarts benchmark's compiled-program driver, not a copy of it.
from restarts import Fit  # pylint: disable=wrong-import-position

from dip_jax.io import records  # pylint: disable=wrong-import-position,g-bad-import-order


def program(args, detector: str) -> Fit:
  """The fit with `detector` ("none", "wmv", "emv", "discrepancy")
  watching it."""
  def configure(cfg):
    cfg.early_stopping.kind = detector
    cfg.early_stopping.halt = False  # never skip steps: time the same work
    if detector == "discrepancy":   # its threshold: the noise level
      cfg.early_stopping.fit_gate = 1.0
      cfg.early_stopping.lag = -1
  return Fit(args.size, args.chunk, full=not args.quick, configure=configure)


def state_mib(fit: Fit) -> float:
  return sum(np.asarray(x).nbytes
             for x in jax.tree.leaves(fit.state.watch.get("stop"))) / 2 ** 20


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--size", type=int, default=128)
  p.add_argument("--quick", action="store_true",
                 help="the :quick 32-channel net instead of the paper's")
  p.add_argument("--chunk", type=int, default=4)
  p.add_argument("--warmup", type=int, default=2, help="chunks per program")
  p.add_argument("--rounds", type=int, default=12,
                 help="timed turns per program")
  records.add_flag(p)
  args = p.parse_args()
  names = ("none", "wmv", "emv", "discrepancy")
  progs = {}
  for name in names:
    print(f"compiling {name} ...", file=sys.stderr, flush=True)
    progs[name] = program(args, name)
    for _ in range(args.warmup):
      progs[name].chunk()
  times = {name: [] for name in names}
  for _ in range(args.rounds):
    for name in names:
      progs[name].chunk()  # re-warm after the other programs' turns
      times[name].append(progs[name].chunk()[0])
  base = statistics.median(times["none"])
  net = "skip-5 128 ch" if not args.quick else "skip-5 32 ch (:quick)"
  print(f"\n{args.size} px, {net}, {jax.default_backend()}, jax "
        f"{jax.__version__}; median of {args.rounds} turns of "
        f"{args.chunk} steps each, programs taking turns\n")
  print("| detector | s/step | vs none | detector state MiB |")
  print("|---|---:|---:|---:|")
  rows = []
  for name in names:
    med = statistics.median(times[name])
    rows.append({"detector": name, "s_per_step": med, "vs_none": med / base,
                 "state_mib": state_mib(progs[name]),
                 "min_s": min(times[name]), "max_s": max(times[name])})
    print(f"| {name} | {med:.4f} | {med / base:.3f} | "
          f"{state_mib(progs[name]):.1f} |")
  # Spread of the no-detector program against itself: the noise floor.
  pairs = times["none"]
  print(f"\nnoise floor: the no-detector turns ranged "
        f"{min(pairs) / base:.3f}-{max(pairs) / base:.3f} x their median")
  config = {k: v for k, v in vars(args).items() if k != "record"}
  records.record(args.record, "early_stopping", rows,
                 config={**config, "net": net}, seeds=[0])


if __name__ == "__main__":
  main()
