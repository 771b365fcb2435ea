"""What the early-stopping detectors cost per fit step, and in memory.

Three programs of the same fit (configs/denoise.py's skip-5, or its
`:quick` 32-channel net with --quick; the built-in photo at --size px):
no detector, ES-WMV (window of W outputs, running sums) and ES-EMV. All
three are compiled in this one process and then run taking turns, chunk by
chunk (each turn: one untimed chunk to re-warm the caches, one timed), so
the machine's drift hits them alike; the table gives each one's median
s/step and its ratio to the no-detector program, plus the detector state's
size (the WMV window is W x H x W x C floats per restart).

  python benchmarks/early_stopping.py [--size 128] [--quick] [--rounds 12]
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # pylint: disable=wrong-import-position
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from dip_jax import problem as problem_lib  # pylint: disable=wrong-import-position
from dip_jax import run  # pylint: disable=wrong-import-position
from dip_jax.priors import dip  # pylint: disable=wrong-import-position
from dip_jax.paper_configs import load_task_config  # pylint: disable=wrong-import-position


class Program:
  """One compiled fit chunk with its state, run as run.fit runs it."""

  def __init__(self, args, detector: str):
    cfg = load_task_config("denoise.py", "quick" if args.quick else None)
    cfg.sample_size, cfg.image = args.size, ""
    cfg.log_every, cfg.num_steps = args.chunk, 10 ** 6
    cfg.early_stopping.kind = detector
    cfg.early_stopping.halt = False  # never skip steps: time the same work
    problem = problem_lib.build_problem(cfg)
    spec, self.data, init_keys, self.keys = run.build_fit(cfg, problem)
    init_fn, chunk_fn, _ = dip.compile_fit(spec)
    self.state = jax.block_until_ready(init_fn(init_keys, self.data["z"]))
    self.exe = chunk_fn.lower(self.state, self.data, self.keys,
                              jnp.int32(1)).compile()
    self.n = jnp.int32(args.chunk)
    self.steps = args.chunk
    self.stop_mib = sum(np.asarray(x).nbytes for x in
                        jax.tree.leaves(self.state.stop)) / 2 ** 20

  def chunk(self) -> float:
    t0 = time.perf_counter()
    self.state, metrics = self.exe(self.state, self.data, self.keys, self.n)
    np.asarray(jax.device_get(metrics["loss"]))  # as run.fit fetches them
    jax.block_until_ready(self.state)
    return (time.perf_counter() - t0) / self.steps


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--size", type=int, default=128)
  p.add_argument("--quick", action="store_true",
                 help="the :quick 32-channel net instead of the paper's")
  p.add_argument("--chunk", type=int, default=4)
  p.add_argument("--warmup", type=int, default=2, help="chunks per program")
  p.add_argument("--rounds", type=int, default=12,
                 help="timed turns per program")
  args = p.parse_args()
  names = ("none", "wmv", "emv")
  progs = {}
  for name in names:
    print(f"compiling {name} ...", file=sys.stderr, flush=True)
    progs[name] = Program(args, name)
    for _ in range(args.warmup):
      progs[name].chunk()
  times = {name: [] for name in names}
  for _ in range(args.rounds):
    for name in names:
      progs[name].chunk()  # re-warm after the other programs' turns
      times[name].append(progs[name].chunk())
  base = statistics.median(times["none"])
  net = "skip-5 128 ch" if not args.quick else "skip-5 32 ch (:quick)"
  print(f"\n{args.size} px, {net}, {jax.default_backend()}, jax "
        f"{jax.__version__}; median of {args.rounds} turns of "
        f"{args.chunk} steps each, programs taking turns\n")
  print("| detector | s/step | vs none | detector state MiB |")
  print("|---|---:|---:|---:|")
  for name in names:
    med = statistics.median(times[name])
    print(f"| {name} | {med:.4f} | {med / base:.3f} | "
          f"{progs[name].stop_mib:.1f} |")
  # Spread of the no-detector program against itself: the noise floor.
  pairs = times["none"]
  print(f"\nnoise floor: the no-detector turns ranged "
        f"{min(pairs) / base:.3f}-{max(pairs) / base:.3f} x their median")


if __name__ == "__main__":
  main()
