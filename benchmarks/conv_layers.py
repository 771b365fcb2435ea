"""Per-layer forward+backward timing: conv2d (custom CPU VJP) vs conv2d_xla.

Layer shapes are those of the DIP skip-5 net (128 channels, 4 skip channels,
batch 1) at 128 and 256 px. Each timed call is a jitted value_and_grad of
sum(conv(x, w) * g) w.r.t. x and w. Prints a markdown table.

  python benchmarks/conv_layers.py [--sizes 128 256] [--runs 7]
"""

import argparse
import functools
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp

# Runnable from a checkout without installing the package.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
# pylint: disable-next=g-import-not-at-top
from dip_jax.nets.cpu_conv import conv2d, conv2d_xla


def layers(px):
  """(label, input shape incl. padding, kernel shape, stride) at px pixels."""
  c, skip = 128, 4
  return [
      (f"3x3 s1 {c}->{c} @{px}", (1, px + 2, px + 2, c), (3, 3, c, c), 1),
      (f"3x3 s2 {c}->{c} @{px}->{px // 2}", (1, px + 2, px + 2, c),
       (3, 3, c, c), 2),
      (f"3x3 s1 {c + skip}->{c} @{px}", (1, px + 2, px + 2, c + skip),
       (3, 3, c + skip, c), 1),
      (f"1x1 s1 {c}->{c} @{px}", (1, px, px, c), (1, 1, c, c), 1),
      (f"1x1 s1 {c}->{skip} @{px}", (1, px, px, c), (1, 1, c, skip), 1),
  ]


def time_pair(fns, args, runs):
  """Median seconds of each fn; runs interleave so both see the same load."""
  for fn in fns:
    jax.block_until_ready(fn(*args))  # Compile.
    jax.block_until_ready(fn(*args))  # Warm-up (first touch of buffers).
  times = [[] for _ in fns]
  for _ in range(runs):
    for fn, ts in zip(fns, times):
      t0 = time.perf_counter()
      jax.block_until_ready(fn(*args))
      ts.append(time.perf_counter() - t0)
  return [statistics.median(ts) for ts in times]


def make_step(conv, stride):
  def loss(x, w, g):
    return jnp.sum(conv(x, w, stride) * g)
  return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def temp_mib(step, args):
  mem = step.lower(*args).compile().memory_analysis()
  return mem.temp_size_in_bytes / 2**20 if mem is not None else float("nan")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
  parser.add_argument("--runs", type=int, default=7)
  args = parser.parse_args()

  print(f"jax {jax.__version__}, {jax.devices()[0].platform}, "
        f"{os.cpu_count()} CPUs, float32, median of {args.runs} runs, "
        f"load average {os.getloadavg()[0]:.2f} at start\n")
  print("| layer | ms xla | ms fast | speed-up | GFLOP/s xla | GFLOP/s fast "
        "| temp MiB xla | temp MiB fast |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|")
  tot_xla = tot_fast = 0.0
  key = jax.random.key(0)
  for px in args.sizes:
    for i, (label, xs, ws, s) in enumerate(layers(px)):
      kx, kw, kg = jax.random.split(jax.random.fold_in(key, px + i), 3)
      x = jax.random.normal(kx, xs, jnp.float32)
      w = jax.random.normal(kw, ws, jnp.float32) * 0.05
      y_shape = jax.eval_shape(functools.partial(conv2d_xla, stride=s), x,
                               w).shape
      g = jax.random.normal(kg, y_shape, jnp.float32)
      # forward + input grad + weight grad: 3 convs of the forward's FLOPs.
      gflop = 3 * 2 * y_shape[0] * y_shape[1] * y_shape[2] * ws[0] * ws[1] \
          * ws[2] * ws[3] / 1e9
      step_xla, step_fast = make_step(conv2d_xla, s), make_step(conv2d, s)
      t_xla, t_fast = time_pair((step_xla, step_fast), (x, w, g), args.runs)
      tot_xla += t_xla
      tot_fast += t_fast
      print(f"| {label} | {1e3 * t_xla:.1f} | {1e3 * t_fast:.1f} | "
            f"{t_xla / t_fast:.2f}x | {gflop / t_xla:.0f} | "
            f"{gflop / t_fast:.0f} | {temp_mib(step_xla, (x, w, g)):.0f} | "
            f"{temp_mib(step_fast, (x, w, g)):.0f} |", flush=True)
  print(f"| **total** | {1e3 * tot_xla:.1f} | {1e3 * tot_fast:.1f} | "
        f"{tot_xla / tot_fast:.2f}x | | | | |")
  print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
  main()
