"""One machine-readable JSON record per experiment or benchmark run.

A record lives at results/<name>/<run-id>.json (committed) and holds what a
reader needs to trust and redo its numbers:

  name      the table the run feeds (results_pages.py renders it by name)
  run_id    UTC time stamp + a hash of the content: sorts by time, unique
  date      UTC ISO time of the run
  argv      sys.argv of the process that wrote it
  command   the command line that reproduces it (shown under the table)
  config    the settings, a plain dict
  seeds     the seed(s) used
  versions  python, jax, jaxlib, flax, optax, numpy (+ torch, bm3d and
            scikit-image when the process imported them, or given)
  device    the JAX device (platform, kind, count), the CPU model and cores
  rows      the numbers: a list of flat dicts (image, seed, method, metric..)

The text is strict JSON (non-finite numbers are null) with sorted keys, so
two runs' records diff line by line.

  record = records.make("step_speed", rows, config=vars(args), seeds=[0])
  records.write(record)               # results/step_speed/<run-id>.json
  records.load("step_speed")          # every record, oldest first
"""

import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import sys
import time

from dip_jax.errors import InputError

# The checkout: dip_jax/io/records.py -> dip_jax/io -> dip_jax -> root.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS_DIR = os.path.join(ROOT, "results")
# Versions every record names.
PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy")
# Module -> distribution of the packages some numbers rest on (the PyTorch
# reference, the CBM3D baseline, SSIM and the classical solvers): a record
# names them when its process imported them.
OPTIONAL = {"torch": "torch", "bm3d": "bm3d", "skimage": "scikit-image"}


def add_flag(parser) -> None:
  """Adds --record [DIR] to an argparse parser (experiments, benchmarks)."""
  parser.add_argument(
      "--record", nargs="?", const=RESULTS_DIR, default=None, metavar="DIR",
      help="also write a JSON record of this run to DIR/<name>/ (default "
           "DIR: the repository's results/, which the docs' tables are "
           "rendered from)")


def versions(extra: dict | None = None) -> dict:
  """The versions that decide the numbers: python, the JAX stack, numpy,
  those of OPTIONAL this process imported, plus `extra` (e.g. a
  subprocess's torch)."""
  out = {"python": platform.python_version()}
  imported = tuple(d for m, d in OPTIONAL.items() if m in sys.modules)
  for name in PACKAGES + imported:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  out.update(extra or {})
  return out


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo ("" where there is none)."""
  try:
    with open("/proc/cpuinfo") as f:
      return next((l.split(":", 1)[1].strip() for l in f
                   if l.startswith("model name")), "")
  except OSError:
    return ""


def device() -> dict:
  """The first JAX device and the host's CPU (what the timings ran on)."""
  import jax  # pylint: disable=g-import-not-at-top  # only when recording
  d = jax.devices()[0]
  return {"platform": d.platform, "kind": getattr(d, "device_kind", ""),
          "count": jax.device_count(), "cpu": cpu_model(),
          "cores": os.cpu_count()}


def default_command(argv) -> str:
  """`python <script> args`, the script relative to the repository when it
  lies inside it (so the command works from any checkout)."""
  argv = list(argv) or ["python"]
  script = os.path.abspath(argv[0])
  if script.startswith(ROOT + os.sep):
    argv[0] = os.path.relpath(script, ROOT)
  return shlex.join(["python"] + argv)


def make(name: str, rows: list[dict], config: dict | None = None,
         seeds=(), command: str | None = None, argv=None,
         extra_versions: dict | None = None) -> dict:
  """A record of one run.

  Args:
    name: the results table it feeds: letters, digits, '_' and '-'.
    rows: the numbers, one flat dict per (image, seed, method, ...).
    config: the run's settings (JSON-able values).
    seeds: the seed(s) the run used.
    command: the command that reproduces it; default: argv joined.
    argv: the command line; default sys.argv.
    extra_versions: versions measured elsewhere (a worker's torch).

  Returns:
    The record, a dict ready for `write`.
  """
  if not name or not all(c.isalnum() or c in "_-" for c in name):
    raise InputError(f"record name {name!r}: use letters, digits, _ and -")
  argv = list(sys.argv if argv is None else argv)
  now = time.gmtime()
  record = {
      "name": name, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", now),
      "argv": argv, "command": command or default_command(argv),
      "config": dict(config or {}), "seeds": list(seeds),
      "versions": versions(extra_versions), "device": device(),
      "rows": [dict(r) for r in rows]}
  from dip_jax.io import report  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256(report.json_text(record).encode()).hexdigest()
  record["run_id"] = time.strftime("%Y%m%dT%H%M%SZ", now) + "-" + digest[:6]
  return record


def write(record: dict, results_dir: str | None = None) -> str:
  """Writes the record as results_dir/<name>/<run_id>.json; its path."""
  folder = os.path.join(results_dir or RESULTS_DIR, record["name"])
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, record["run_id"] + ".json")
  from dip_jax.io import report  # pylint: disable=g-import-not-at-top
  # Light imports only at the top: benchmarks' workers import this module
  # and measure their own memory.
  report.write_json(path, record)
  return path


def record(results_dir: str | None, name: str, rows: list[dict],
           **kwargs) -> str | None:
  """`make` + `write` when --record gave a folder (else nothing); prints
  and returns the path written."""
  if not results_dir:
    return None
  path = write(make(name, rows, **kwargs), results_dir)
  print(f"record: {path}", file=sys.stderr, flush=True)
  return path


def load(name: str, results_dir: str | None = None) -> list[dict]:
  """Every record of `name`, oldest first ([] when there is none)."""
  folder = os.path.join(results_dir or RESULTS_DIR, name)
  if not os.path.isdir(folder):
    return []
  out = []
  for file in sorted(f for f in os.listdir(folder) if f.endswith(".json")):
    path = os.path.join(folder, file)
    try:
      with open(path) as f:
        rec = json.load(f)
    except (OSError, ValueError) as e:
      raise InputError(f"{path}: not a readable JSON record ({e})") from e
    if not isinstance(rec, dict) or not isinstance(rec.get("rows"), list):
      raise InputError(f"{path}: not a record (no list of rows)")
    out.append(rec)
  return sorted(out, key=lambda r: r.get("run_id", ""))
