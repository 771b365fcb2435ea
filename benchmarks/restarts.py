"""Throughput of R restarts vmapped in one program vs run one after another.

`num_restarts: R` fits R nets (own init keys and inputs z) in one program:
the fit is jax.vmap'ed over a leading restart axis (dip.py `_per_restart`),
and on the CPU each batched conv runs as a lax.map over the restarts
(nets/cpu_conv.py). This measures what that buys over R separate fits.

- one program: the real fit step of `num_restarts=R` (`methods.dip.build_fit`
  on the denoising config, `driver.Runner`, driven chunk by chunk as
  `run.reconstruct` does, metrics fetched every chunk), s per step of all R.
  Its restarts are vmapped in groups of `restart_group` (default auto: on
  CPU by image size, so all 8 at 64 px, 2 at a time at 128 px; the groups
  run in a lax.map inside the same program). `--restart-group=8` (any R'
  >= R) forces all R vmapped at once, to see what the grouping buys.
- sequential: R separate fits of `num_restarts=1` take R x the R = 1 step
  time. That is not timed R times: the R = 1 program is measured once per
  size and multiplied, so its restart-steps/s is the same for every R.

Throughput is restart-steps/s: R / (vmapped s/step) vs 1 / (R = 1 s/step).
The net is configs/denoise.py:quick (skip-5, 32 channels), or with --full
configs/denoise.py's 128-channel skip-5; the built-in photo at each size.

Every (size, R) runs in a fresh subprocess, so its peak RSS (ru_maxrss,
imports and compilation included) is its own; the timing, the peak-memory
and the machine-load helpers are benchmarks/step_speed.py's. The host's
speed drifts between subprocesses, though, even on an idle machine: so
each R > 1 process then also times the R = 1 program taking turns with its
own, and reports that paired ratio too (--no-paired: not).

  python benchmarks/restarts.py [--sizes 64,128] [--restarts 1,2,4,8]
      [--full] [--restart-group G] [--json f]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]
# step_speed's helpers, not copies: both benchmarks then wait for an idle
# machine and account for other processes the same way.
from step_speed import (  # pylint: disable=g-import-not-at-top,wrong-import-position
    add_isolation_flags, peak_mib, run_measured)


class Fit:
  """One compiled fit program and its state, run chunk by chunk as
  driver.run_fit runs it: configs/denoise.py (`:quick` unless `full`) on the built-in photo
  at `size` px with `num_restarts` R; `configure(cfg)` may change more.
  benchmarks/early_stopping.py times its programs with this too."""

  def __init__(self, size: int, chunk: int, full: bool, num_restarts: int = 1,
               restart_group: int = 0, configure=None):
    from dip_jax import config_lib  # pylint: disable=g-import-not-at-top
    from dip_jax.fit import driver  # pylint: disable=g-import-not-at-top
    from dip_jax import data as data_lib
    from dip_jax.methods import dip as dip_method  # pylint: disable=g-import-not-at-top
    cfg = config_lib.task_config("denoise.py", None if full else "quick")
    cfg.sample_size, cfg.image, cfg.num_restarts = size, "", num_restarts
    # The fit's own step: the config's early stopping (on for denoising)
    # only where `configure` asks for it.
    cfg.early_stopping.kind = "none"
    cfg.restart_group = min(restart_group, num_restarts)
    # The same chunk for every program: dispatch and metric fetches then
    # cost them alike per dispatch.
    cfg.log_every, cfg.num_steps = chunk, 10 ** 6
    cfg.steps_per_dispatch = chunk
    if configure is not None:
      configure(cfg)
    fit = dip_method.build_fit(cfg, data_lib.build_problem(cfg))
    self.group = fit.spec.restart_group
    # The driver's runner: compiled ahead of time, so no timed chunk
    # includes compilation.
    self.runner = driver.Runner(fit)
    self.compile_s = self.runner.compile_seconds
    self.steps = chunk
    self.loss = None
    self.restores = 0  # per restart, steps the guard undid

  @property
  def state(self):
    return self.runner.state

  def chunk(self):
    """Runs one chunk; returns (wall s/step, CPU s/step)."""
    import jax  # pylint: disable=g-import-not-at-top
    import numpy as np  # pylint: disable=g-import-not-at-top
    t0, c0 = time.perf_counter(), time.process_time()
    # As run_fit does: every chunk's metrics come back to the host.
    metrics = self.runner.chunk(self.steps)
    self.loss = np.asarray(metrics["loss"])[-1]
    self.restores = self.restores + np.sum(np.asarray(metrics["restored"]),
                                           axis=0)
    jax.block_until_ready(self.state)
    # CPU time too: on a shared machine wall time grows with the other
    # processes' load, CPU time less (it still counts XLA's threads
    # spinning while they wait on each other).
    return ((time.perf_counter() - t0) / self.steps,
            (time.process_time() - c0) / self.steps)


def timed(args, step_fn):
  """Calls step_fn until --min-seconds have passed (and >= 5 times, so a
  median has samples) or for --steps steps; returns its results."""
  # By the clock, not for a step count estimated from the warm-up: one slow
  # warm-up chunk then cannot shrink the measurement.
  out, t_end = [], time.perf_counter() + args.min_seconds
  while (len(out) * args.chunk < args.steps if args.steps else
         time.perf_counter() < t_end or len(out) < 5):
    out.append(step_fn())
  return out


def worker(args) -> dict:
  """Times the fit of one (size, R) in this process; returns its numbers."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  base_mib = peak_mib()
  r = args.num_restarts
  fit = Fit(args.size, args.chunk, args.full, r, args.restart_group)
  compiled_mib = peak_mib()
  warm_chunks = max(1, math.ceil(args.warmup / args.chunk))
  for _ in range(warm_chunks):
    fit.chunk()
  times, cpu_times = zip(*timed(args, fit.chunk))
  n_params = sum(int(np.prod(p.shape))
                 for p in jax.tree.leaves(fit.state.params))
  res = {"s_per_step": statistics.median(times),
         "steps": args.chunk * len(times), "chunk": args.chunk,
         "mean_s": statistics.fmean(times), "min_s": min(times),
         "cpu_s_per_step": statistics.median(cpu_times),
         # Per restart: a diverged (NaN) fit would time different work.
         "final_loss": np.atleast_1d(fit.loss).tolist(),
         "restores": np.atleast_1d(fit.restores).tolist(),
         "params_per_restart": n_params // r,
         "compile_s": fit.compile_s, "import_mib": base_mib,
         "after_compile_mib": compiled_mib,
         # Read before the paired phase below builds a second program: the
         # peak of the R program alone.
         "peak_mib": peak_mib(),
         "restart_group": fit.group,
         "version": jax.__version__, "backend": jax.default_backend()}
  if args.paired and r > 1:
    # The host's speed drifts by tens of percent over minutes even with no
    # other process running (an R = 1 step at 128 px measured 0.022 s in
    # one subprocess and 0.031 s in the next), so R = 1 and R timed in
    # separate subprocesses can be far apart for that reason alone. Here
    # the R = 1 program runs in this same process, taking turns with the R
    # program: both see the same drift, and the ratio of each adjacent pair
    # cancels it.
    one = Fit(args.size, args.chunk, args.full)
    for _ in range(warm_chunks):
      one.chunk()

    def turn(f):
      # The first chunk after a switch runs with the other program's data
      # in the caches: measured 6-21 % slower for R = 1 after an R = 2..8
      # chunk, a bias for the vmapped side. R separate fits each run warm,
      # so that chunk is run untimed and the next one timed.
      f.chunk()
      return f.chunk()[0]

    pairs = timed(args, lambda: (turn(one), turn(fit)))
    res.update(
        paired_ratio=statistics.median(r * a / b for a, b in pairs),
        paired_r1_s_per_step=statistics.median(a for a, _ in pairs),
        paired_s_per_step=statistics.median(b for _, b in pairs),
        paired_pairs=len(pairs))
  return res


def measure(args, size: int, restarts: int) -> dict:
  """One (size, R) in a subprocess; redone (up to --retries times) when other
  processes took more than --max-other cores meanwhile, keeping the
  quietest run."""
  runs = []
  for _ in range(args.retries + 1):
    runs.append(measure_once(args, size, restarts))
    if runs[-1]["other_cores"] <= args.max_other or len(runs) > args.retries:
      break
    print("  contended: measuring again", file=sys.stderr, flush=True)
  best = min(runs, key=lambda r: r["other_cores"])
  best["attempts"] = len(runs)
  return best


def measure_once(args, size: int, restarts: int) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), "--worker",
         "--size", str(size), "--num-restarts", str(restarts),
         "--chunk", str(args.chunk), "--warmup", str(args.warmup),
         "--min-seconds", str(args.min_seconds)]
  if args.steps:
    cmd += ["--steps", str(args.steps)]
  cmd += ["--restart-group", str(args.restart_group)]
  if args.full:
    cmd.append("--full")
  if not args.paired:
    cmd.append("--no-paired")
  res = run_measured(cmd, f"{size}px R={restarts}", args.timeout,
                     args.idle_wait)
  res.update(size=size, restarts=restarts)
  paired = (f"; paired ratio {res['paired_ratio']:.2f}"
            if "paired_ratio" in res else "")
  print(f"  {res['s_per_step']:.4f} s/step ({res['cpu_s_per_step']:.4f} "
        f"CPU-s/step) over {res['steps']} steps{paired}, "
        f"peak {res['peak_mib']:.0f} MiB; other processes used "
        f"{res['other_cores']:.2f} cores meanwhile", file=sys.stderr,
        flush=True)
  return res


def table(results, sizes, restarts) -> str:
  rows = ["| size | R | vmapped together | s/step (one program) "
          "| restart-steps/s one program | restart-steps/s sequential "
          "| one program/sequential | peak MiB | paired ratio |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for s in sizes:
    by_r = {r["restarts"]: r for r in results if r["size"] == s}
    # Sequential = R fits of the R = 1 program, one after another: R x its
    # step time for R restart-steps, i.e. 1 / t1 restart-steps/s for any R.
    seq = 1.0 / by_r[1]["s_per_step"]
    for r in restarts:
      vm = r / by_r[r]["s_per_step"]
      paired = by_r[r].get("paired_ratio", 1.0 if r == 1 else None)
      group = by_r[r].get("restart_group", r) or r
      rows.append(f"| {s} | {r} | {group} | {by_r[r]['s_per_step']:.4f} | "
                  f"{vm:.1f} | "
                  f"{seq:.1f} | {vm / seq:.2f} | "
                  f"{by_r[r]['peak_mib']:.0f} | "
                  f"{'-' if paired is None else f'{paired:.2f}'} |")
  return "\n".join(rows)


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--sizes", default="64,128",
                 help="comma-separated square sizes (multiples of 32)")
  p.add_argument("--restarts", default="1,2,4,8",
                 help="comma-separated restart counts (1 is always added: "
                 "it is the sequential baseline)")
  p.add_argument("--full", action="store_true",
                 help="the 128-channel skip-5 instead of the :quick 32")
  p.add_argument("--chunk", type=int, default=4,
                 help="steps per dispatch, the same for every R")
  p.add_argument("--steps", type=int, default=0,
                 help="timed steps per measurement, whole chunks (default: "
                 "chunks until --min-seconds have passed)")
  p.add_argument("--min-seconds", type=float, default=6.0)
  p.add_argument("--warmup", type=int, default=4,
                 help="steps run before timing (whole chunks)")
  add_isolation_flags(p)
  p.add_argument("--no-paired", dest="paired", action="store_false",
                 help="skip the paired R=1-vs-R timing in each R>1 process")
  p.add_argument("--restart-group", type=int, default=0,
                 help="config.restart_group for R > 1 (0 = auto; R: all "
                      "vmapped at once)")
  p.add_argument("--json", default="", help="also write results here")
  p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--size", type=int, help=argparse.SUPPRESS)
  p.add_argument("--num-restarts", type=int, help=argparse.SUPPRESS)
  args = p.parse_args()

  if args.worker:
    print("RESULT " + json.dumps(worker(args)), flush=True)
    return

  sizes = [int(s) for s in args.sizes.split(",") if s]
  restarts = sorted({1, *(int(r) for r in args.restarts.split(",") if r)})
  results = [measure(args, s, r) for s in sizes for r in restarts]
  first = results[0]
  net = "128-channel (full)" if args.full else "32-channel (:quick)"
  over = (f"{args.steps} steps" if args.steps else
          f">= {args.min_seconds:g} s of steps")
  print(f"\njax {first['version']} ({first['backend']}), {os.cpu_count()} "
        f"CPUs, float32; configs/denoise.py {net} skip-5, "
        f"{first['params_per_restart']:,} params per restart; median s/step "
        f"over {over} in chunks of {args.chunk} steps per dispatch, after "
        f"{args.warmup} warm-up steps, compilation excluded.")
  print("one program: num_restarts=R, vmapped in groups of 'vmapped together' "
        "restarts, the groups in turn (s/step = one step of all R). sequential: R separate num_restarts=1 fits one after another, "
        "i.e. R x the R=1 step time -- the R=1 program measured once per size "
        "and multiplied, not timed R times. Peak MiB = ru_maxrss of the "
        "measuring process (imports and compilation included), before the "
        "paired phase. Paired ratio: the vmapped/sequential ratio again, "
        "with the R=1 program run in the same process taking turns with "
        "the R program (each turn: a chunk to re-warm the caches, then a "
        "timed chunk; median of R x t1 / tR over adjacent turns): far less "
        "sensitive to the host's speed drifting between subprocesses than "
        "the column before it.\n")
  print(table(results, sizes, restarts))
  print("\nCPU cores used by other processes during each measurement "
        "(> ~0.1 means contended timings): " + ", ".join(
            f"{r['size']}px R={r['restarts']}: {r['other_cores']:.2f}"
            for r in results))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"argv": sys.argv[1:], "results": results}, f, indent=1)


if __name__ == "__main__":
  main()
