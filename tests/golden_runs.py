"""The golden set: ~10 fixed tiny runs whose outputs must not move when the
fit core is reshaped (tests/test_golden.py compares; `python
tests/golden_runs.py` records them anew, which only a change that is meant
to move results may do, saying so in its commit).

Each run is a task's quick config at 32 px and a few dozen steps, through
the path a user takes: the CLI's `run.reconstruct` (config + workdir) or
the Python API. The record keeps every run's answer (float32 array) and
its summary numbers, plus the install it was recorded under: bit-identity
is a promise for one install (jax/XLA builds round differently), so the
test compares exactly only under the install that recorded it.
"""

import json
import os
import platform
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RECORD = os.path.join(HERE, "golden", "golden.npz")
SUMMARY = os.path.join(HERE, "golden", "golden.json")
# Summary numbers that are measurements of the machine, not of the fit.
_TIMING = ("seconds", "compile_seconds", "seconds_per_step", "fit_seconds",
           "dncnn_seconds", "device", "date", "dip_jax_version")


def _task(name, arg, **over):
  from dip_jax import config_lib
  c = config_lib.task_config(name, arg)
  c.sample_size = 32
  c.num_steps = 30
  c.log_every = 10
  c.snapshot_every = 0
  c.tv.enabled = False  # the TV baseline is not the fit core's
  c.update_from_flattened_dict(over)
  return c


def _numbers(summary):
  keep = {}
  for k, v in summary.items():
    if k in _TIMING or k == "answer":
      continue
    if isinstance(v, (int, float)):
      keep[k] = v
  return keep


CASES = {}
LAST_HISTORY = {}  # case -> per-run histories, where a test reads them


def case(fn):
  CASES[fn.__name__] = fn
  return fn


def _cli(config, work):
  """run.reconstruct's summary, with the exact answer it wrote (the
  PNG is quantized: the array handed to `save_x` is kept instead)."""
  from dip_jax.cli import run
  kept = {}
  save_x = run.save_x

  def keep(stem, x, problem):
    if stem.endswith("reconstruction"):
      kept["x"] = np.asarray(x, np.float32)
    return save_x(stem, x, problem)

  run.save_x = keep
  try:
    with open(os.devnull, "w") as null:
      summary = run.reconstruct(config, work, stream=null)
  finally:
    run.save_x = save_x
  return {**summary, "answer": kept["x"]}


def _run_cli(config):
  work = tempfile.mkdtemp()
  try:
    return _cli(config, work)
  finally:
    shutil.rmtree(work, ignore_errors=True)


@case
def denoise_quick():
  return _run_cli(_task("denoise.py", "quick"))


@case
def sr_quick():
  return _run_cli(_task("sr.py", "quick"))


@case
def inpaint_quick():
  return _run_cli(_task("inpaint.py", "quick"))


@case
def ptycho_quick():
  return _run_cli(_task("ptycho.py", "quick"))


@case
def sgld_quick():
  return _run_cli(_task("denoise.py", "quick,sgld", **{
      "sgld.burn_in": 10, "sgld.sample_every": 5}))


@case
def deepred_quick():
  return _run_cli(_task("denoise.py", "quick,deepred", **{"deepred.every": 5}))


@case
def dip_tv_quick():
  return _run_cli(_task("denoise.py", "quick,dip_tv"))


@case
def two_restarts():
  return _run_cli(_task("denoise.py", "quick", num_restarts=2))


@case
def batch_of_three():
  import dip_jax
  from dip_jax import operators
  from dip_jax.io import images
  clean = [images.sample_image(32)[..., :3] * s for s in (1.0, 0.9, 0.8)]
  rng = np.random.default_rng(0)
  noisy = [c + rng.normal(0, 0.1, c.shape).astype(np.float32) for c in clean]
  cfg = _task("denoise.py", "quick")
  results = dip_jax.reconstruct_batch(noisy, operators.identity(),
                                      clean=clean, config=cfg)
  LAST_HISTORY["batch_of_three"] = [r.history for r in results]
  return [(r.reconstruction, r.info) for r in results]


@case
def resumed():
  """30 steps with checkpoints every 10, the last checkpoint and the
  summary removed, run again: it resumes at step 20 and ends at 30."""
  config = _task("denoise.py", "quick", checkpoint_every=10)
  work = tempfile.mkdtemp()
  try:
    _cli(config, work)
    os.remove(os.path.join(work, "summary.json"))
    shutil.rmtree(os.path.join(work, "checkpoints", "30"))
    return _cli(config, work)
  finally:
    shutil.rmtree(work, ignore_errors=True)


def install():
  """What the bit-identity promise is tied to."""
  import jax
  import jaxlib
  import flax
  import optax
  from dip_jax.io import records
  return {"python": platform.python_version(), "jax": jax.__version__,
          "jaxlib": jaxlib.__version__, "flax": flax.__version__,
          "optax": optax.__version__, "numpy": np.__version__,
          "machine": platform.machine(),
          # XLA:CPU compiles for the host's vector units: the same install
          # on an Intel Xeon (AVX-512 FP16) rounds every case differently
          # from the AMD EPYC that recorded the set.
          "cpu": records.cpu_model(),
          "xla_flags": os.environ.get("XLA_FLAGS", "")}


def run_case(name):
  """[(answer array, summary numbers)] of one golden case."""
  out = CASES[name]()
  if isinstance(out, list):
    return [(np.asarray(a, np.float32), _numbers(s)) for a, s in out]
  return [(np.asarray(out["answer"], np.float32), _numbers(out))]


def record(names=None):
  """Records `names` (default: every case) into the golden files; the
  other cases' records are kept as they are."""
  arrays, numbers = {}, {"install": install(), "cases": {}}
  if names and os.path.exists(RECORD):
    arrays = dict(np.load(RECORD))
    with open(SUMMARY) as f:
      numbers = json.load(f)
  for name in names or CASES:
    runs = run_case(name)
    for i, (a, s) in enumerate(runs):
      arrays[f"{name}/{i}"] = a
    numbers["cases"][name] = [s for _, s in runs]
    print(name, [round(s.get("psnr", float("nan")), 4) for _, s in runs],
          flush=True)
  os.makedirs(os.path.dirname(RECORD), exist_ok=True)
  np.savez_compressed(RECORD, **arrays)
  with open(SUMMARY, "w") as f:
    json.dump(numbers, f, indent=1, sort_keys=True)


if __name__ == "__main__":
  sys.path.insert(0, HERE)
  import conftest  # noqa: F401  (the suite's XLA flags and cache)
  record(sys.argv[1:] or None)
