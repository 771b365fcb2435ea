"""Where a fit step's time goes besides the convolutions: one part at a time.

The whole step of benchmarks/step_speed.py (the paper's skip-5 net, dip_jax's
real jitted chunk, CPU convolutions) is timed as it is and with one of its
memory-bound parts made cheaper or taken out:

  pad=zero        reflect padding before each conv -> zero padding
  upsample=nearest  the decoder's bilinear x2 -> nearest
  no merge BN     the BatchNorm after each level's concat -> identity
  no BN           every BatchNorm -> identity
  no LeakyReLU    every activation -> identity
  convs only      all of the above at once: what is left is the convs, their
                  biases, the concats, the head, the loss and Adam

A variant without BN or activations is no DIP net (its fit is meaningless);
it is here only to attribute time: full - variant is what that part costs
inside the fused program, and its share of the full step says what the most
a faster version of that part could save. Every (variant, size) runs in its
own subprocess; the variants take turns, round after round, so slow drift of
the machine's load spreads over all of them; each figure is the median
over rounds.

  python benchmarks/step_parts.py [--sizes 128,256] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # step_speed; dip_jax uninstalled
import step_speed  # pylint: disable=g-import-not-at-top,wrong-import-position

VARIANTS = ("full", "pad=zero", "upsample=nearest", "no merge BN", "no BN",
            "no LeakyReLU", "convs only")


def apply_variant(variant: str, cfg) -> None:
  """Changes the config or patches the layers for `variant` (worker only)."""
  from dip_jax.nets import layers  # pylint: disable=g-import-not-at-top
  parts = ({"pad=zero", "upsample=nearest", "no BN", "no LeakyReLU"}
           if variant == "convs only" else {variant})
  if "pad=zero" in parts:
    cfg.net.pad = "zero"
  if "upsample=nearest" in parts:
    cfg.net.upsample = "nearest"
  if "no LeakyReLU" in parts:
    layers.leaky_relu = lambda x: x   # looked up at call time by ConvBNAct
  if parts & {"no BN", "no merge BN"}:
    every = "no BN" in parts
    original = layers.BatchNorm.__call__

    def batch_norm(self, x):
      if every or self.name.startswith("merge"):
        return x
      return original(self, x)

    layers.BatchNorm.__call__ = batch_norm


def worker(args) -> dict:
  from dip_jax import config_lib  # pylint: disable=g-import-not-at-top
  cfg = config_lib.base_config()
  apply_variant(args.variant, cfg)
  run = argparse.Namespace(size=args.size, impl="cpu", chunk=0, warmup=3,
                           steps=0, min_seconds=args.min_seconds)
  return step_speed.jax_worker(run, cfg)


def measure(args, variant: str, size: int) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--variant",
         variant, "--size", str(size), "--min-seconds",
         str(args.min_seconds)]
  res = step_speed.run_measured(cmd, f"{variant} {size}px", args.timeout,
                                args.idle_wait,
                                {**os.environ, "JAX_PLATFORMS": "cpu"})
  res.update(variant=variant, size=size)
  print(f"  {res['s_per_step']:.4f} s/step, final loss "
        f"{res['final_loss']:.4g}, other processes "
        f"{res['other_cores']:.2f} cores", file=sys.stderr, flush=True)
  return res


def table(results, sizes) -> str:
  rows = ["| size | variant | s/step (median of rounds) | per round | "
          "full - variant s | share of the full step | peak MiB |",
          "|---|---|---:|---|---:|---:|---:|"]
  for s in sizes:
    med = {v: statistics.median(r["s_per_step"] for r in results
                                if r["variant"] == v and r["size"] == s)
           for v in VARIANTS}
    for v in VARIANTS:
      runs = [r for r in results if r["variant"] == v and r["size"] == s]
      saved = med["full"] - med[v]
      rows.append(
          f"| {s} | {v} | {med[v]:.4f} | "
          + " / ".join(f"{r['s_per_step']:.4f}" for r in runs) + " | "
          + ("—" if v == "full" else f"{saved:+.4f}") + " | "
          + ("—" if v == "full" else f"{100 * saved / med['full']:.0f} %")
          + f" | {max(r['peak_mib'] for r in runs):.0f} |")
  return "\n".join(rows)


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--sizes", default="128,256")
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--min-seconds", type=float, default=8.0)
  step_speed.add_isolation_flags(p, timeout=1800, idle_wait=60, redo=False)
  p.add_argument("--json", default="", help="also write results here")
  p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
  p.add_argument("--size", type=int, help=argparse.SUPPRESS)
  args = p.parse_args()
  if args.worker:
    print("RESULT " + json.dumps(worker(args)), flush=True)
    return
  sizes = [int(s) for s in args.sizes.split(",") if s]
  results = [measure(args, v, s) for _ in range(args.rounds)
             for s in sizes for v in VARIANTS]
  print(f"\nskip-5 (2,217,831 params) fit step, CPU convolutions, float32, "
        f"batch 1, {os.cpu_count()} CPUs; {args.rounds} rounds, variants "
        f"taking turns; s/step = each worker's median over >= "
        f"{args.min_seconds:g} s.\n")
  print(table(results, sizes))
  busy = max(r["other_cores"] for r in results)
  print(f"\nMost CPU used by other processes during a measurement: "
        f"{busy:.2f} cores (> ~0.1: contended timings).")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"argv": sys.argv[1:], "results": results}, f, indent=1)


if __name__ == "__main__":
  main()
