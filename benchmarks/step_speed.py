"""Seconds per fit step and peak memory: dip_jax vs the same net in PyTorch.

Both sides run one DIP denoising step on the default skip-5 net (2,217,831
parameters, 32 input channels): z + fresh reg noise -> net -> MSE against the
noisy image -> backward -> Adam(lr 0.01), batch 1, float32, on the CPU.

- jax: dip_jax's real fit step (`methods.dip.build_fit` on `base_config()`
  and the built-in sample at S x S, `driver.Runner`, driven chunk by chunk as
  `run.reconstruct` does), with the EMA, divergence guard and PSNR metrics
  the real fit carries: elementwise work, small next to the convs.
- torch: benchmarks/torch_skip.SkipNetTorch, torch.optim.Adam, --threads.

- ceiling: a jitted 2048 x 2048 float32 matmul in jax (2 n^3 FLOPs per
  call), about the fastest float32 work XLA:CPU does on these cores (the
  convs of a step are matmuls underneath, plus memory-bound work). Each step's
  GFLOP/s is also given as a % of it: how far the step is from the hardware
  limit, a figure that, unlike s/step, can be compared across machines.

Every (framework, size) and every ceiling runs in a fresh subprocess, so its
peak RSS (ru_maxrss, imports and jax compilation included) is its own.
Measurements alternate (ceiling, torch 64, jax 64, ceiling, torch 128, ...)
so that drift in machine load biases neither side, and each size's % uses the
ceiling measured right before it; all are redone when other processes were
busy.

--bf16 adds dip_jax with config.precision = bfloat16 (docs/performance.md).

  python benchmarks/step_speed.py [--sizes 64,128,256] [--xla] [--bf16]
      [--json f] [--record [DIR]]

--record writes results/step_speed/<run-id>.json (dip_jax/io/records.py): one
row per measurement, the ceilings included, which docs/performance.md's
step_speed table is rendered from.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # torch_skip; dip_jax uninstalled
from dip_jax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from dip_jax.io import records  # pylint: disable=g-import-not-at-top,wrong-import-position

# torch_skip imports torch: it is imported in functions, off the jax RSS.

# 2048: the size that reached the highest GFLOP/s of 1024/2048/4096 on the
# project's CPU (~380, vs 348 and 320; /work/shared/perf-notes.md), ~45 ms a
# call there, so a measurement holds many calls.
MATMUL_N = 2048


def peak_mib() -> float:
  # Linux reports ru_maxrss in KiB.
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_busy_s() -> float:
  """CPU-seconds all processes have run since boot (Linux /proc/stat)."""
  with open("/proc/stat") as f:
    ticks = [int(v) for v in f.readline().split()[1:]]
  # Fields: user nice system idle iowait irq softirq steal ...; idle and
  # iowait are not work.
  return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
  r = resource.getrusage(resource.RUSAGE_CHILDREN)
  return r.ru_utime + r.ru_stime


def wait_for_idle(max_wait: float, threshold: float = 0.25):
  """Waits (up to max_wait s) until other processes use < threshold cores.

  On a 2-core machine, one core busy elsewhere made torch's 2-thread step
  ~40x slower at 64 px (its threads wait on each other), XLA's ~2x.
  """
  t_end = time.monotonic() + max_wait
  while True:
    b0, t0 = machine_busy_s(), time.monotonic()
    time.sleep(2.0)
    cores = (machine_busy_s() - b0) / (time.monotonic() - t0)
    if cores < threshold or time.monotonic() > t_end:
      return cores
    print(f"  waiting: other processes use {cores:.1f} cores",
          file=sys.stderr, flush=True)


def n_steps(args, t_est: float) -> int:
  """Steps to time: --steps, or enough for ~--min-seconds of measurement."""
  if args.steps:
    return args.steps
  return max(5, math.ceil(args.min_seconds / max(t_est, 1e-6)))


def torch_worker(args, cfg) -> dict:
  import torch  # pylint: disable=g-import-not-at-top
  import torch_skip  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  base_mib = peak_mib()
  device = "cuda" if args.device == "gpu" else "cpu"
  s, c = args.size, cfg.input.channels
  model = torch_skip.SkipNetTorch(
      in_ch=c, down=cfg.net.channels_down, up=cfg.net.channels_up,
      skip=cfg.net.channels_skip).train().to(device)
  opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.learning_rate)
  z = cfg.input.scale * torch.rand(1, c, s, s, device=device)
  # Speed does not depend on the pixel values: a random "noisy image".
  target = torch.rand(1, 3, s, s, device=device)
  std = cfg.input.reg_noise_std

  def step():
    t0 = time.perf_counter()
    out = model(z + std * torch.randn_like(z))
    loss = torch.nn.functional.mse_loss(out, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    # CPU torch is synchronous; on a GPU, float(loss) waits for the step
    # (the copy queues behind backward and Adam on the stream).
    value = float(loss)
    return time.perf_counter() - t0, value

  warm = [step()[0] for _ in range(args.warmup)]
  times, losses = zip(*(step() for _ in range(n_steps(args, warm[-1]))))
  return {"s_per_step": statistics.median(times), "steps": len(times),
          "mean_s": statistics.fmean(times), "min_s": min(times),
          "final_loss": losses[-1], "import_mib": base_mib,
          "peak_mib": peak_mib(), "threads": torch.get_num_threads(),
          "version": torch.__version__,
          **({"device_peak_mib": torch.cuda.max_memory_allocated() / 2 ** 20}
             if device == "cuda" else {})}


def jax_worker(args, cfg) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from dip_jax.fit import driver  # pylint: disable=g-import-not-at-top
  from dip_jax import data as data_lib
  from dip_jax.methods import dip as dip_method  # pylint: disable=g-import-not-at-top
  base_mib = peak_mib()
  # impl: the conv implementation, "+bfloat16" for config.precision's
  # bfloat16 compute (parameters and Adam stay float32).
  conv_impl, _, precision = args.impl.partition("+")
  cfg.sample_size, cfg.net.conv_impl = args.size, conv_impl
  cfg.precision = precision or "float32"
  # chunk = steps per dispatch: short enough that a measurement holds many
  # chunks (the median needs samples), long enough that dispatch is noise.
  chunk = args.chunk or max(1, 512 // args.size)
  cfg.log_every, cfg.num_steps = chunk, 10 ** 6
  cfg.steps_per_dispatch = chunk
  problem = data_lib.build_problem(cfg)
  fit = dip_method.build_fit(cfg, problem)
  t0 = time.perf_counter()
  runner = driver.Runner(fit)  # init, placement and the AOT compile
  init_s = time.perf_counter() - t0 - runner.compile_seconds
  compile_s = runner.compile_seconds
  compiled_mib = peak_mib()

  undone = []

  def run_chunk(state):
    del state
    t0 = time.perf_counter()
    # Metrics come back to the host every chunk, as in driver.run_fit. They
    # are (steps, num_restarts): one restart here, averaged as a scalar.
    m = runner.chunk(chunk)
    loss = float(np.mean(m["loss"][-1]))
    undone.append(int(np.sum(m["restored"])))
    jax.block_until_ready(runner.state)
    return runner.state, (time.perf_counter() - t0) / chunk, loss

  state = runner.state
  for _ in range(max(1, math.ceil(args.warmup / chunk))):
    state, t_est, _ = run_chunk(state)
  times = []
  for _ in range(math.ceil(n_steps(args, t_est) / chunk)):
    state, t, loss = run_chunk(state)
    times.append(t)
  return {"s_per_step": statistics.median(times), "steps": chunk * len(times),
          "chunk": chunk, "mean_s": statistics.fmean(times),
          "min_s": min(times), "final_loss": loss,
          "restores": sum(undone), "compile_s": compile_s,
          "init_s": init_s, "import_mib": base_mib,
          "after_compile_mib": compiled_mib, "peak_mib": peak_mib(),
          "conv_impl": args.impl, "version": jax.__version__,
          "backend": jax.default_backend(), **device_peak()}


def device_peak() -> dict:
  """The accelerator's peak memory in use (MiB), where it says; {} on CPU
  (there ru_maxrss is the figure)."""
  import jax  # pylint: disable=g-import-not-at-top
  device = jax.local_devices()[0]
  stats = (device.memory_stats() or {}) if device.platform != "cpu" else {}
  if "peak_bytes_in_use" not in stats:
    return {}
  return {"device_peak_mib": stats["peak_bytes_in_use"] / 2 ** 20}


def matmul_worker(args, cfg) -> dict:
  """Seconds per jitted float32 (n x n) @ (n x n) matmul, n = --size."""
  del cfg
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  base_mib = peak_mib()
  n = args.size
  ka, kb = jax.random.split(jax.random.key(0))
  a = jax.random.normal(ka, (n, n), jnp.float32)
  b = jax.random.normal(kb, (n, n), jnp.float32)
  matmul = jax.jit(jnp.matmul)
  jax.block_until_ready(matmul(a, b))  # Compile.

  def call():
    t0 = time.perf_counter()
    jax.block_until_ready(matmul(a, b))
    return time.perf_counter() - t0

  warm = [call() for _ in range(max(1, args.warmup))]
  times = [call() for _ in range(n_steps(args, warm[-1]))]
  flop = 2 * n ** 3
  # The median is what the % of ceiling uses: the steps' figures are medians
  # too, so the ratio compares like with like. The best is the closest to the
  # hardware's own limit; it is kept for reference.
  return {"s_per_step": statistics.median(times), "steps": len(times),
          "mean_s": statistics.fmean(times), "min_s": min(times), "n": n,
          "gflop_per_s": flop / statistics.median(times) / 1e9,
          "best_gflop_per_s": flop / min(times) / 1e9,
          "import_mib": base_mib, "peak_mib": peak_mib(),
          "version": jax.__version__, "backend": jax.default_backend()}


def run_worker(cmd, label: str, timeout: float, env=None) -> dict:
  """Runs a benchmark's worker subprocess and returns the JSON of its last
  "RESULT " line; on a failure its output goes to stderr and the error
  names `label`."""
  proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                        timeout=timeout, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  if proc.returncode or not lines:
    sys.stderr.write(proc.stdout + proc.stderr)
    raise RuntimeError(f"{label} failed (exit {proc.returncode})")
  return json.loads(lines[-1][len("RESULT "):])


def run_measured(cmd, label: str, timeout: float, idle_wait: float,
                 env=None) -> dict:
  """`run_worker` after waiting (up to idle_wait s) for an idle machine; the
  result gains `other_cores`, the cores other processes used meanwhile."""
  print(f"measuring {label} ...", file=sys.stderr, flush=True)
  if idle_wait:
    wait_for_idle(idle_wait)
  # Other processes on the machine skew timings. Machine-wide busy time minus
  # our worker's own CPU time is what everything else used meanwhile: it
  # says whether a figure can be trusted.
  b0, c0, t0 = machine_busy_s(), children_cpu_s(), time.monotonic()
  res = run_worker(cmd, label, timeout, env)
  foreign = ((machine_busy_s() - b0) - (children_cpu_s() - c0)) / (
      time.monotonic() - t0)
  res["other_cores"] = max(foreign, 0.0)
  return res


def measure(args, framework: str, size: int, impl: str = "") -> dict:
  """Runs one worker; remeasures (up to --retries times) when other processes
  took more than --max-other cores meanwhile, keeping the quietest run."""
  runs = []
  for attempt in range(args.retries + 1):
    runs.append(measure_once(args, framework, size, impl))
    if runs[-1]["other_cores"] <= args.max_other:
      break
    if attempt < args.retries:
      print("  contended: measuring again", file=sys.stderr, flush=True)
  return min(runs, key=lambda r: r["other_cores"])


def measure_once(args, framework: str, size: int, impl: str) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework,
         "--device", args.device,
         "--size", str(size), "--warmup", str(args.warmup),
         "--min-seconds", str(args.min_seconds), "--threads",
         str(args.threads), "--chunk", str(args.chunk)]
  if args.steps:
    cmd += ["--steps", str(args.steps)]
  if impl:
    cmd += ["--impl", impl]
  label = (f"{framework} {size}x{size}" if framework == "matmul" else
           f"{framework}{'/' + impl if impl else ''} {size}px")
  env = {**os.environ,
         "JAX_PLATFORMS": "cuda" if args.device == "gpu" else "cpu"}
  res = run_measured(cmd, label, args.timeout, args.idle_wait, env)
  res.update(framework=framework, size=size)
  what = "call" if framework == "matmul" else "step"
  rate = (f" ({res['gflop_per_s']:.0f} GFLOP/s)" if framework == "matmul"
          else "")
  print(f"  {res['s_per_step']:.4f} s/{what}{rate} over {res['steps']} "
        f"{what}s, peak {res['peak_mib']:.0f} MiB; other processes used "
        f"{res['other_cores']:.2f} cores meanwhile", file=sys.stderr,
        flush=True)
  return res


def add_rates(results, ceilings):
  """Adds each step's GFLOP/s and its fraction of its size's ceiling."""
  import torch_skip  # pylint: disable=g-import-not-at-top
  for r in results:
    r["gflop_per_s"] = (torch_skip.train_step_flops(r["size"]) / 1e9
                        / r["s_per_step"])
    r["ceiling_fraction"] = (r["gflop_per_s"]
                             / ceilings[r["size"]]["gflop_per_s"])


def table(results, sizes, impls) -> str:
  rows = ["| size | torch s/step | jax s/step | jax/torch | torch GFLOP/s "
          "| jax GFLOP/s | torch % of ceiling | jax % of ceiling "
          "| torch peak MiB | jax peak MiB | jax compile s |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for s in sizes:
    tr = next(r for r in results if r["framework"] == "torch"
              and r["size"] == s)
    for impl in impls:
      jr = next(r for r in results if r["framework"] == "jax"
                and r["size"] == s and r["conv_impl"] == impl)
      name = {"cpu": f"{s}", "cpu+bfloat16": f"{s} (bfloat16 compute)",
              "xla+bfloat16": f"{s} (bfloat16 compute)"
              }.get(impl, f"{s} ({impl} conv)")
      mem = lambda r: r.get("device_peak_mib", r["peak_mib"])
      rows.append(
          f"| {name} | {tr['s_per_step']:.4f} | {jr['s_per_step']:.4f} | "
          f"{jr['s_per_step'] / tr['s_per_step']:.2f} | "
          f"{tr['gflop_per_s']:.1f} | {jr['gflop_per_s']:.1f} | "
          f"{100 * tr['ceiling_fraction']:.0f} % | "
          f"{100 * jr['ceiling_fraction']:.0f} % | "
          f"{mem(tr):.0f} | {mem(jr):.0f} | "
          f"{jr['compile_s']:.1f} |")
  return "\n".join(rows)


def add_isolation_flags(p, timeout: float = 3600, idle_wait: float = 120,
                        redo: bool = True) -> None:
  """The flags that keep a measurement to itself: its subprocess's timeout,
  the wait for an idle machine, and (redo) the load of other processes
  above which it is redone, and how often."""
  p.add_argument("--timeout", type=float, default=timeout,
                 help="seconds per measurement subprocess")
  p.add_argument("--idle-wait", type=float, default=idle_wait,
                 help="wait up to this many s for an idle machine before "
                 "each measurement (0: don't)")
  if redo:
    p.add_argument("--max-other", type=float, default=0.15,
                   help="other processes' cores above which a run is redone")
    p.add_argument("--retries", type=int, default=2)


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--sizes", default="64,128,256",
                 help="comma-separated square sizes (multiples of 32, at "
                      "least 64)")
  p.add_argument("--xla", action="store_true",
                 help="also time dip_jax with net.conv_impl='xla' (slow)")
  p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                 help="gpu: both frameworks on the first GPU (jax with "
                 "XLA's convolutions); peak MiB is then the GPU's")
  p.add_argument("--bf16", action="store_true",
                 help="also time dip_jax with precision='bfloat16'")
  p.add_argument("--steps", type=int, default=0,
                 help="timed steps per measurement (default: ~min-seconds)")
  p.add_argument("--min-seconds", type=float, default=10.0)
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--chunk", type=int, default=0,
                 help="jax steps per dispatch (default: 512 // size)")
  p.add_argument("--threads", type=int, default=2, help="torch threads")
  add_isolation_flags(p)
  p.add_argument("--json", default="", help="also write results here")
  records.add_flag(p)
  p.add_argument("--worker", choices=("torch", "jax", "matmul"),
                 help=argparse.SUPPRESS)
  p.add_argument("--size", type=int, help=argparse.SUPPRESS)
  p.add_argument("--impl", default="cpu", help=argparse.SUPPRESS)
  args = p.parse_args()

  if args.worker:
    cfg = config_lib.base_config()
    fn = {"torch": torch_worker, "jax": jax_worker,
          "matmul": matmul_worker}[args.worker]
    print("RESULT " + json.dumps(fn(args, cfg)), flush=True)
    return

  sizes = [int(s) for s in args.sizes.split(",") if s]
  bad = [s for s in sizes if s < 64 or s % 32]
  if bad:
    # Five stride-2 levels leave a 1 x 1 map at 32 px, which the PyTorch
    # reference's reflection padding cannot pad.
    p.error(f"--sizes must be multiples of 32 and at least 64 (the skip-5 "
            f"net halves a map five times), got {bad}")
  if args.device == "gpu":
    # The CPU conv path is for XLA:CPU; cuDNN's convolutions need no help.
    impls = ["xla"] + (["xla+bfloat16"] if args.bf16 else [])
  else:
    impls = (["cpu"] + (["xla"] if args.xla else [])
             + (["cpu+bfloat16"] if args.bf16 else []))
  results, ceilings = [], {}
  for s in sizes:
    # Measured next to each size's pair, so that each % of ceiling divides
    # two figures taken under the same machine conditions.
    ceilings[s] = measure(args, "matmul", MATMUL_N)
    results.append(measure(args, "torch", s))
    for impl in impls:
      results.append(measure(args, "jax", s, impl))
  add_rates(results, ceilings)
  tr, jr = results[0], results[1]
  over = (f"{args.steps} steps (jax: whole chunks)" if args.steps else
          f">= {args.min_seconds:g} s of steps")
  print(f"\ntorch {tr['version']} ({tr['threads']} threads) vs jax "
        f"{jr['version']} ({jr['backend']}), {os.cpu_count()} CPUs, float32 "
        f"parameters, "
        f"batch 1, skip-5 (2,217,831 params); median s/step over {over} "
        f"after {args.warmup} warm-up steps.")
  print("GFLOP/s = analytic conv FLOPs of a training step / s/step: 3 x the "
        "forward's 2*Ho*Wo*k^2*Cin*Cout over all convs (forward, input grad, "
        "weight grad); BN, activations, upsampling, loss and Adam not "
        "counted. Peak MiB = ru_maxrss of the measuring process (imports and "
        "jax compilation included).")
  print(f"Ceiling: a jitted {MATMUL_N}x{MATMUL_N} float32 matmul in jax, "
        f"2*n^3 FLOPs / median s per call, measured before each size: "
        + ", ".join(f"{c['gflop_per_s']:.0f} GFLOP/s (best "
                    f"{c['best_gflop_per_s']:.0f}) at {s} px"
                    for s, c in ceilings.items())
        + ". % of ceiling = GFLOP/s / that size's ceiling.\n")
  print(table(results, sizes, impls))
  names = [f"{r['framework']}/{r['conv_impl']}" if "conv_impl" in r
           else r["framework"] for r in results]
  print("\nCPU cores used by other processes during each measurement "
        "(> ~0.1 means contended timings): " + ", ".join(
            f"{n} {r['size']}: {r['other_cores']:.2f}"
            for n, r in zip(names, results)) + ", " + ", ".join(
                f"ceiling before {s}: {c['other_cores']:.2f}"
                for s, c in ceilings.items()))
  if args.json:
    import torch_skip  # pylint: disable=g-import-not-at-top
    gflop = {s: torch_skip.train_step_flops(s) / 1e9 for s in sizes}
    with open(args.json, "w") as f:
      json.dump({"argv": sys.argv[1:], "train_step_gflop": gflop,
                 "ceiling": {"matmul_n": MATMUL_N, "by_size": ceilings},
                 "results": results}, f, indent=1)
  if args.record:
    record(args, results, ceilings)


# What a record keeps of each measurement (the rest is in --json).
RECORD_KEYS = ("framework", "conv_impl", "size", "s_per_step", "steps",
               "gflop_per_s", "ceiling_fraction", "peak_mib",
               "device_peak_mib", "compile_s", "other_cores", "threads")


def record(args, results, ceilings) -> None:
  """Writes the run's record: a row per step measurement and per ceiling
  (framework "matmul", `ceiling_for` the size it divides)."""
  rows = [{k: r[k] for k in RECORD_KEYS if k in r} for r in results]
  rows += [{**{k: c[k] for k in RECORD_KEYS if k in c},
            "ceiling_for": s} for s, c in ceilings.items()]
  torch_version = next(r["version"] for r in results
                       if r["framework"] == "torch")
  # The record names the device the workers ran on.
  os.environ["JAX_PLATFORMS"] = "cuda" if args.device == "gpu" else "cpu"
  config = {k: v for k, v in vars(args).items()
            if k not in ("worker", "size", "impl", "json", "record")}
  records.record(args.record, "step_speed", rows, config=config, seeds=[0],
                 extra_versions={"torch": torch_version})


if __name__ == "__main__":
  main()
