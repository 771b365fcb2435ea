r"""Sweeps: one config, many reconstructions (settings x images x seeds).

  python -m dip_jax.sweep --config=configs/sweeps/example.py --workdir=/tmp/sw \
      [--config.sweep.data_dir=DIR] [--config.KEY=VALUE ...] [--distributed]

A sweep config is a task config plus a `sweep` block (see `sweep_block`):

  sweep.images    tuple of glob patterns; relative ones are resolved against
                  sweep.data_dir when set, else against the current directory
  sweep.data_dir  "" or a directory
  sweep.seeds     tuple of ints
  sweep.settings  tuple of "name:key=value;key=value" strings: each a named
                  set of config overrides, e.g. "wide:net.channels_down=
                  (32,32,32);corruption.sigma=50" ("plain:" = no overrides).
                  Values are Python literals (strings may be bare); ";" splits
                  overrides so tuples keep their commas. From the command line:
                  --config.sweep.settings="('a:corruption.sigma=25',)"
  sweep.mode      "product": every setting x image x seed (the only mode)

Jobs are numbered in that nested order (images sorted within each pattern),
and job k (1-based) writes DIR/<setting>/<image stem>/seed<seed>/ through
`run.reconstruct`, so a finished job is skipped and an interrupted one resumes
from its checkpoint: to resume a sweep, run the same command again. With
--distributed, process p of P runs the jobs whose 0-based index i has
i % P == p; after a barrier process 0 writes DIR/results.csv and results.md.
A job with bad input (unreadable image, ...) is recorded as failed and the
sweep goes on; the exit code is then 1. Bad sweep input exits 2 at once.
Image paths are recorded as the glob returned them: resume a sweep with a
relative data_dir from the same directory.
"""

import ast
import copy
import csv
import dataclasses
import glob
import io
import json
import math
import os
import sys
import tempfile
import time
import zlib

from absl import app
from absl import flags
from absl import logging
import ml_collections
import numpy as np

from dip_jax import cli  # the --config/--workdir flags and their errors
from dip_jax.errors import InputError

FLAGS = flags.FLAGS
ERROR_FILE = "error.txt"  # in a job's directory while its last try failed
BARRIER = "dip_jax_sweep"
COLUMNS = ("setting", "image", "seed", "psnr", "ssim", "corrupted_psnr",
           "bicubic_psnr", "tv_psnr", "steps", "seconds", "device", "status",
           "path", "error")


def sweep_block(images=(), settings=("default:",), seeds=(0,),
                data_dir="") -> ml_collections.ConfigDict:
  """The `sweep` block of a sweep config, with every key it may hold."""
  return ml_collections.ConfigDict({
      "images": tuple(images), "data_dir": data_dir, "seeds": tuple(seeds),
      "settings": tuple(settings), "mode": "product"})


@dataclasses.dataclass(frozen=True)
class Job:
  index: int        # 0-based position in the sweep's job order
  setting: str
  image: str        # path, as the glob returned it
  seed: int
  overrides: tuple  # ((key, value), ...) of the setting

  @property
  def stem(self) -> str:
    return os.path.splitext(os.path.basename(self.image))[0]

  def dir(self, workdir: str) -> str:
    return os.path.join(workdir, self.setting, self.stem, f"seed{self.seed}")


def parse_setting(text: str, config) -> tuple[str, tuple]:
  """("name", ((key, value), ...)) from "name:k=v;k=v", each override tried
  on a copy of `config` so a typo fails before any job runs."""
  name, colon, body = str(text).partition(":")
  name = name.strip()
  if not colon or not name or name in (".", "..") or "/" in name:
    raise InputError(f"sweep.settings entry {text!r} must look like "
                     f"'name:key=value;key=value' (name: a directory name)")
  trial, overrides = copy.deepcopy(config), []
  for part in filter(None, (p.strip() for p in body.split(";"))):
    key, eq, raw = (s.strip() for s in part.partition("="))
    if not eq:
      raise InputError(f"setting {name!r}: {part!r} is not key=value")
    if key in ("image", "seed") or key.split(".")[0] == "sweep":
      raise InputError(f"setting {name!r}: {key!r} is set by the sweep itself")
    node, *path = trial, *key.split(".")
    for field in path:
      if not isinstance(node, ml_collections.ConfigDict) or field not in node:
        raise InputError(f"setting {name!r}: unknown config key {key!r}")
      node = node[field]
    if isinstance(node, ml_collections.ConfigDict):
      raise InputError(f"setting {name!r}: {key!r} is a group; set its fields")
    value = _parse_value(raw, node)
    try:
      _set(trial, key, value)  # the ConfigDict checks the type
    except (TypeError, ValueError):
      value = None  # refused: same message as unparseable
    if value is None:
      raise InputError(f"setting {name!r}: cannot read {key}={raw!r} as a "
                       f"{type(node).__name__}")
    overrides.append((key, value))
  return name, tuple(overrides)


def _parse_value(raw: str, current):
  """A value typed like the field it replaces: strings may go unquoted, bools
  take true/false/1/0, everything else is a Python literal (None if not)."""
  if isinstance(current, bool) and raw.lower() in ("true", "false", "1", "0"):
    return raw.lower() in ("true", "1")
  if isinstance(current, str):
    quoted = len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""
    return raw[1:-1] if quoted else raw
  try:
    value = ast.literal_eval(raw)
  except (ValueError, SyntaxError):
    return None
  return tuple(value) if isinstance(value, list) else value


def _set(config, key: str, value) -> None:
  # ml_collections walks the dotted key and casts/checks the type.
  config.update_from_flattened_dict({key: value})


def find_images(sweep) -> list[str]:
  """Every image the patterns match, sorted within a pattern, no repeats."""
  if not sweep.images:
    raise InputError("sweep.images is empty")
  found = {}
  for pattern in sweep.images:
    full = os.path.expanduser(pattern)
    if sweep.data_dir and not os.path.isabs(full):
      full = os.path.join(os.path.expanduser(sweep.data_dir), full)
    matches = sorted(p for p in glob.glob(full) if os.path.isfile(p))
    if not matches:
      where = f" (looked for {full!r})" if full != pattern else ""
      raise InputError(f"sweep.images pattern {pattern!r} matches no file"
                       + where)
    found.update(dict.fromkeys(matches))
  return list(found)


def enumerate_jobs(config) -> list[Job]:
  """All jobs in their fixed order; validates the whole sweep block."""
  if "sweep" not in config:
    raise InputError("the config has no `sweep` block; see dip_jax/sweep.py")
  sweep = config.sweep
  if sweep.mode != "product":
    raise InputError(f"sweep.mode must be 'product', got {sweep.mode!r}")
  settings = [parse_setting(s, config) for s in sweep.settings]
  names = [n for n, _ in settings]
  if not settings or len(set(names)) != len(names):
    raise InputError(f"sweep.settings needs distinct names, got {names}")
  seeds = list(dict.fromkeys(sweep.seeds))
  if not seeds or not all(isinstance(s, int) for s in seeds):
    raise InputError(f"sweep.seeds must be a non-empty tuple of ints, "
                     f"got {sweep.seeds!r}")
  images, stems = find_images(sweep), {}
  for path in images:  # the stem names the job's directory: it must be unique
    other = stems.setdefault(os.path.splitext(os.path.basename(path))[0], path)
    if other != path:
      raise InputError(f"images {other} and {path} have the same name; "
                       f"their outputs would collide")
  combos = [(s, i, k) for s in settings for i in images for k in seeds]
  return [Job(n, name, image, seed, ov)
          for n, ((name, ov), image, seed) in enumerate(combos)]


def job_config(config, job: Job, single_device: bool = False):
  """The task config of one job. The sweep block is dropped so the job's
  config.json equals a single run's: a finished job is found again after
  the sweep grows, and can be rerun alone with dip_jax.main."""
  c = copy.deepcopy(config)
  with c.unlocked():
    del c["sweep"]
  c.image, c.seed = job.image, job.seed
  for key, value in job.overrides:
    _set(c, key, value)
  if single_device and c.num_restarts > 1:
    # run.py's restart mesh takes jax.devices()[:n], which in a multi-process
    # run are process 0's devices: a job must stay on this process's device.
    c.num_devices = 1
  return c


def prepare_workdir(workdir: str) -> None:
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"workdir {workdir} exists and is not a directory")
  try:
    os.makedirs(workdir, exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass  # a real write: os.access says yes to root on a read-only mount
  except OSError as e:
    raise InputError(f"workdir {workdir} is not writable: {e.strerror}") \
        from None


def run_jobs(config, workdir, jobs, process, processes) -> int:
  """This process's share of `jobs`; returns how many failed."""
  from dip_jax import run  # imports JAX: after jax.distributed.initialize
  failed = 0
  for job in jobs[process::processes]:
    where = (f"[{process}/{processes}] job {job.index + 1}/{len(jobs)} "
             f"{job.setting} {job.stem} seed {job.seed}")
    job_dir = job.dir(workdir)
    error_path = os.path.join(job_dir, ERROR_FILE)
    was_finished = os.path.exists(os.path.join(job_dir, run.SUMMARY))
    start = time.perf_counter()
    try:
      summary = run.reconstruct(
          job_config(config, job, processes > 1), job_dir,
          stream=io.StringIO() if was_finished else None)
    except (InputError, FloatingPointError) as e:
      failed += 1
      print(f"{where}: failed: {e}", flush=True)
      try:
        os.makedirs(job_dir, exist_ok=True)
        _write_atomic(error_path, f"{e}\n")
      except OSError:
        pass  # the line above is the record then
      continue
    if os.path.exists(error_path):
      os.remove(error_path)
    if was_finished:
      print(f"{where}: already finished", flush=True)
    else:
      print(f"{where}: done in {time.perf_counter() - start:.2f} s, PSNR "
            f"{_fmt(summary.get('psnr'))}", flush=True)
  return failed


def collect(workdir: str, jobs) -> list[dict]:
  """One results row per job, from the files the jobs left."""
  rows = []
  for job in jobs:
    error_path, summary_path = (os.path.join(job.dir(workdir), name)
                                for name in (ERROR_FILE, "summary.json"))
    row = dict.fromkeys(COLUMNS, "") | dict(
        setting=job.setting, image=job.stem, seed=job.seed, path=job.image,
        status="missing")  # no trace: its process never got to it
    try:
      if os.path.exists(error_path):  # checked first: a summary.json beside
        with open(error_path) as f:   # it is another config's (refused) run
          row.update(status="failed", error=f.read().strip())
      elif os.path.exists(summary_path):
        with open(summary_path) as f:
          s = json.load(f)
        row.update({k: s.get(k, "") for k in COLUMNS[3:11]}, status="done",
                   tv_psnr=s.get("tv", {}).get("psnr", ""))
    except (OSError, ValueError) as e:
      row.update(status="unreadable", error=str(e))
    rows.append(row)
  return rows


def results_markdown(rows) -> str:
  """Per setting: per-image means over seeds, then the mean over images."""
  done = sum(r["status"] == "done" for r in rows)
  out = [f"# Sweep results\n\n{done} of {len(rows)} jobs done.\n"]
  for setting in dict.fromkeys(r["setting"] for r in rows):
    mine = [r for r in rows if r["setting"] == setting]
    base = "bicubic" if any(r["bicubic_psnr"] != "" for r in mine) \
        else "corrupted"
    cols = ("psnr", "ssim", "tv_psnr", f"{base}_psnr", "seconds")
    digits = (2, 3, 2, 2, 1)
    out += [f"## {setting}\n",
            f"| image | PSNR | SSIM | TV PSNR | {base} PSNR | seconds | "
            f"seeds done |", "|---" * 7 + "|"]
    means = []
    for image in dict.fromkeys(r["image"] for r in mine):
      ok = [r for r in mine if r["image"] == image and r["status"] == "done"]
      m = [_mean(r[c] for r in ok) for c in cols]
      means.append(m)
      total = sum(r["image"] == image for r in mine)
      out.append(f"| {image} | " + " | ".join(map(_fmt, m, digits))
                 + f" | {len(ok)}/{total} |")
    mean = [_mean(m[i] for m in means) for i in range(len(cols))]
    done = sum(r["status"] == "done" for r in mine)
    out.append("| **mean** | " + " | ".join(map(_fmt, mean, digits))
               + f" | {done}/{len(mine)} jobs |")
    failed = [f"- failed: {r['image']} seed {r['seed']}: {r['error']}"
              for r in mine if r["status"] == "failed"]
    out += ([""] + failed if failed else []) + [""]
  return "\n".join(out)


def write_results(workdir: str, rows) -> None:
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  _write_atomic(os.path.join(workdir, "results.csv"), text.getvalue())
  _write_atomic(os.path.join(workdir, "results.md"), results_markdown(rows))


def _write_atomic(path: str, text: str) -> None:
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def _mean(values) -> float:
  vals = [float(v) for v in values if v != "" and v is not None]
  vals = [v for v in vals if math.isfinite(v)]
  return sum(vals) / len(vals) if vals else math.nan


def _fmt(v, digits: int = 2) -> str:
  if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
    return "n/a"
  return f"{v:.{digits}f}"


def _fail(message: str, code: int = 2):
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(code)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # as dip_jax.main: quiet JAX INFO
  dist_args = {k: FLAGS[k].value for k in
               ("coordinator_address", "num_processes", "process_id")}
  if not FLAGS.distributed and any(v is not None for v in dist_args.values()):
    _fail("--coordinator_address/--num_processes/--process_id need "
          "--distributed")
  config = cli.load_config()
  workdir = cli.WORKDIR.value
  import jax  # after flag parsing, as in dip_jax.main
  from jax.experimental import multihost_utils
  if FLAGS.distributed:
    # First: it must precede any JAX computation. With no arguments JAX finds
    # the coordinator itself (TPU VM metadata, SLURM, ... env vars).
    try:
      jax.distributed.initialize(
          **{k: v for k, v in dist_args.items() if v is not None})
    except (RuntimeError, ValueError) as e:  # incl. XlaRuntimeError
      _fail(f"jax.distributed.initialize failed: {str(e).splitlines()[0]}")
  process, processes = jax.process_index(), jax.process_count()
  try:
    jobs, error = enumerate_jobs(config), ""
    prepare_workdir(workdir)
  except InputError as e:
    jobs, error = [], str(e)
  if processes > 1:
    # Every process validates on its own (its own filesystem view): agree on
    # the outcome and on the job list, so no process waits for a dead peer.
    key = "\n".join(f"{j.setting}|{j.image}|{j.seed}" for j in jobs)
    mine = [int(not error), len(jobs), zlib.crc32(key.encode())]
    everyone = multihost_utils.process_allgather(np.asarray(mine, np.uint32))
    if not error and (everyone[:, 0] == 0).any():
      error = "another process refused the sweep input (see its error)"
    elif not error and (everyone != everyone[0]).any():
      error = "processes see different job lists (is the data shared?)"
  if error:
    _fail(error)
  failed = run_jobs(config, workdir, jobs, process, processes)
  if processes > 1:
    multihost_utils.sync_global_devices(BARRIER)
  if process == 0:
    rows = collect(workdir, jobs)
    write_results(workdir, rows)
    bad = sum(r["status"] != "done" for r in rows)
    print(f"[0/{processes}] wrote {os.path.join(workdir, 'results.csv')} and "
          f"results.md: {len(rows) - bad} of {len(rows)} jobs done", flush=True)
    failed += bad
  if failed:
    sys.exit(1)


def run_main():
  # Flags defined here, not at import: a sweep config imports this module for
  # `sweep_block` while it also runs as __main__, and absl refuses a flag
  # defined twice.
  flags.DEFINE_bool("distributed", False, "Split the jobs over the processes "
                    "of a jax.distributed run (e.g. every host of a TPU pod).")
  flags.DEFINE_string("coordinator_address", None, "host:port of process 0 "
                      "(only for --distributed; not needed on TPU VMs).")
  flags.DEFINE_integer("num_processes", None, "Processes (--distributed).")
  flags.DEFINE_integer("process_id", None, "This process (--distributed).")
  app.run(main, flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run_main()
