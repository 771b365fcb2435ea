"""Images per hour: B denoising fits in one program (dip_jax/fit/batch.py).

Each B runs B copies of configs/denoise.py:quick (skip-5, 32 channels, one
restart, early stopping off so every lane runs every step) on the built-in
photo at --size with its own noise draw, through `methods.dip.solve_batch`
-> `driver.run_fits`: the one fit loop, metrics fetched every chunk.
Timed: --steps steps after a warm-up chunk (compilation excluded); images
per hour = B x 3600 / (s per batched step x the config's num_steps). B = 1
is the same loop with one lane, so the ratio is what batching buys.

Every B runs in a fresh subprocess, so its peak RSS (ru_maxrss, imports and
compilation included) is its own; the Bs alternate with a repeat of B = 1
in between (--no-paired: not), so that drift in machine load shows.

  python benchmarks/batch_images.py [--size 128] [--batch 1,4,16]
      [--steps 40] [--json f]
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
import step_speed  # pylint: disable=g-import-not-at-top,wrong-import-position


def worker(args) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from configs import denoise  # pylint: disable=g-import-not-at-top
  from dip_jax.fit import driver  # pylint: disable=g-import-not-at-top
  from dip_jax.io import images  # pylint: disable=g-import-not-at-top
  from dip_jax import data as data_lib
  from dip_jax import problem as problem_lib  # pylint: disable=g-import-not-at-top
  from dip_jax.methods import dip as dip_method  # pylint: disable=g-import-not-at-top
  cfg = denoise.get_config("quick")
  cfg.early_stopping.kind = "none"
  cfg.sample_size = args.size
  steps_per_image = int(cfg.num_steps)
  clean = images.sample_image(args.size)
  operator = data_lib.build_problem(cfg).operator
  problems = []
  for b in range(args.b):
    y = clean + np.random.default_rng(b).normal(0, 25 / 255, clean.shape)
    problems.append(problem_lib.Problem(
        observed=np.clip(y, 0, 1).astype(np.float32), clean=clean,
        mask=None,
        out_shape=clean.shape,
        operator=operator, objective="mse"))
  fits = [dip_method.build_fit(cfg, p, compile_chunk=False) for p in problems]
  chunk = fits[0].spec.chunk
  # Warm-up (compiles, runs one chunk), then the timed steps: the driver's
  # own loop, its fit_seconds are per lane.
  t0 = time.perf_counter()
  quiet = [driver.Hooks(progress=False) for _ in fits]
  driver.run_fits(fits, chunk, quiet)
  first_s = time.perf_counter() - t0
  runs = driver.run_fits(fits, args.steps, quiet)
  s_per_step = runs[0][2]["fit_seconds"] * args.b / args.steps
  jax.block_until_ready(runs[0][0].params)
  return {"b": args.b, "size": args.size, "s_per_step": s_per_step,
          "images_per_hour": args.b * 3600 / (s_per_step * steps_per_image),
          "steps_per_image": steps_per_image, "first_call_s": first_s,
          "peak_mib": step_speed.peak_mib(), "backend": jax.default_backend(),
          "version": jax.__version__}


def measure(args, b: int) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--b", str(b),
         "--size", str(args.size), "--steps", str(args.steps)]
  print(f"measuring B = {b} ...", file=sys.stderr, flush=True)
  res = step_speed.run_worker(cmd, f"B = {b}", args.timeout)
  print(f"  {res['s_per_step']:.4f} s per batched step, "
        f"{res['images_per_hour']:.1f} images/hour, peak "
        f"{res['peak_mib']:.0f} MiB", file=sys.stderr, flush=True)
  return res


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--size", type=int, default=128)
  p.add_argument("--batch", default="1,4,16")
  p.add_argument("--steps", type=int, default=40,
                 help="timed steps per B (after a warm-up chunk)")
  p.add_argument("--no-paired", action="store_true",
                 help="do not repeat B = 1 between the other Bs")
  p.add_argument("--timeout", type=float, default=3600)
  p.add_argument("--json", default="")
  p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--b", type=int, help=argparse.SUPPRESS)
  args = p.parse_args()
  if args.worker:
    print("RESULT " + json.dumps(worker(args)), flush=True)
    return
  sizes = [int(b) for b in args.batch.split(",") if b]
  results, singles = [], []
  for b in sizes:
    results.append(measure(args, b))
    if b != 1 and not args.no_paired:
      singles.append(measure(args, 1))
  base = min((r for r in results + singles if r["b"] == 1),
             key=lambda r: r["s_per_step"], default=None)
  rows = ["| B | s per batched step | s per image-step | images/hour "
          "| x B = 1 | peak MiB |", "|---:|---:|---:|---:|---:|---:|"]
  for r in results:
    gain = (f"{r['images_per_hour'] / base['images_per_hour']:.2f}"
            if base else "—")
    rows.append(f"| {r['b']} | {r['s_per_step']:.4f} | "
                f"{r['s_per_step'] / r['b']:.4f} | "
                f"{r['images_per_hour']:.1f} | {gain} | "
                f"{r['peak_mib']:.0f} |")
  r0 = results[0]
  print(f"{r0['size']} px, denoise :quick ({r0['steps_per_image']} steps "
        f"an image), {r0['backend']}, jax {r0['version']}; x B = 1 against "
        f"the fastest B = 1 run"
        + (" (B = 1 repeated: " + ", ".join(
            f"{s['s_per_step']:.4f}" for s in singles) + " s/step)"
           if singles else ""))
  print("\n".join(rows))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"results": results, "singles": singles}, f, indent=1)


if __name__ == "__main__":
  main()
