r"""Sweeps: one config, many reconstructions (settings x images x seeds).

  python -m dip_jax.cli.sweep --config=configs/sweeps/example.py --workdir=/tmp/sw \
      [--config.sweep.data_dir=DIR] [--config.KEY=VALUE ...] [--distributed]

A sweep config is a task config plus a `sweep` block (see `sweep_block`):

  sweep.images    tuple of glob patterns; relative ones are resolved against
                  sweep.data_dir when set, else against the current directory
  sweep.data_dir  "" or a directory (taken literally: no glob characters)
  sweep.seeds     tuple of ints
  sweep.batch     fits per compiled program (dip_jax/fit/batch.py): DIP jobs of
                  one setting and image size run B at a time; 0 = auto
                  (1 on a CPU, up to AUTO_BATCH on a GPU/TPU, memory
                  permitting); each job of a batch keeps its own
                  checkpoints, so a cut batch resumes
  sweep.settings  tuple of settings, each a dict of dotted config keys to
                  values, built in Python with dip_jax.cli.hyper, e.g.
                  hyper.product([hyper.sweep("corruption.sigma", [25, 50]),
                                 hyper.sweep("net.width", [32, 64])]).
                  A setting's folder is its "name" key, else its overrides
                  spelled out ("sigma=25,width=32"); {} is "default". From
                  the command line, a Python literal:
                  --config.sweep.settings="({'corruption.sigma': 25},)"

Jobs are numbered setting x image x seed in that nested order (images
sorted within each pattern), and job k (1-based) writes
DIR/<setting>/<image stem>/seed<seed>/ through `run.reconstruct`, so a
finished job is skipped and an interrupted one resumes from its checkpoint:
to resume a sweep, run the same command again. With --distributed, process
p of P runs the jobs whose 0-based index i has i % P == p; after a barrier
process 0 writes DIR/results.csv and results.md (`cli.tables`).

A job that fails, for any reason, leaves one line in its folder's error.txt
(the error's type and message; a bug's traceback also goes to
error_traceback.txt) and the sweep goes on; the tables list it with its
error, the exit code is then 1, and a rerun tries it again. Bad sweep input
(a glob that matches nothing, an unknown key in a setting, ...) exits 2 at
once, in one line, before any job runs. Image paths are recorded as the glob
returned them: resume a sweep with a relative data_dir from the same
directory.
"""

import copy
import dataclasses
import glob
import io
import os
import sys
import time
import traceback
import zlib

from absl import app
from absl import flags
from absl import logging
import ml_collections
import numpy as np

from dip_jax.cli import flags as cli_flags  # the --config/--workdir flags and their errors
from dip_jax.cli import hyper
from dip_jax.cli import tables
from dip_jax.errors import InputError
from dip_jax.fit import signals
from dip_jax.io import workdir as workdir_lib

FLAGS = flags.FLAGS
ERROR_FILE = tables.ERROR_FILE
TRACEBACK_FILE = "error_traceback.txt"  # beside error.txt, for a bug
BARRIER = "dip_jax_sweep"
_MAX_ERROR = 400  # characters of an error line


def sweep_block(images=(), settings=({},), seeds=(0,),
                data_dir="", batch=0) -> ml_collections.ConfigDict:
  """The `sweep` block of a sweep config, with every key it may hold."""
  if isinstance(settings, dict):
    settings = (settings,)
  return ml_collections.ConfigDict({
      "images": tuple(images), "data_dir": data_dir, "seeds": tuple(seeds),
      "settings": tuple(dict(s) if isinstance(s, dict) else s
                        for s in settings),
      "batch": batch})


# Fits per program where sweep.batch is 0 (auto) on a GPU or TPU, fewer
# where the memory estimate says so (methods.dip.solve_batch).
AUTO_BATCH = 16


def batch_size(config) -> int:
  """sweep.batch resolved: 0 = auto, one fit at a time on the CPU (its
  cores are busy with one fit already: benchmarks/batch_images.py), else
  AUTO_BATCH."""
  b = config.sweep.get("batch", 0)
  if not isinstance(b, int) or b < 0:
    raise InputError(f"sweep.batch must be an integer >= 0 (0 = auto), got "
                     f"{b!r}")
  if b:
    return b
  import jax  # pylint: disable=g-import-not-at-top
  return 1 if jax.default_backend() == "cpu" else AUTO_BATCH


@dataclasses.dataclass(frozen=True)
class Job:
  index: int        # 0-based position in the sweep's job order
  setting: str      # the setting's name: its folder
  image: str        # path, as the glob returned it
  seed: int
  overrides: tuple  # ((key, value), ...) of the setting

  @property
  def stem(self) -> str:
    return os.path.splitext(os.path.basename(self.image))[0]

  def dir(self, workdir: str) -> str:
    return os.path.join(workdir, self.setting, self.stem, f"seed{self.seed}")


def find_images(sweep) -> list[str]:
  """Every image the patterns match, sorted within a pattern, no repeats."""
  if not sweep.images:
    raise InputError("sweep.images is empty")
  found = {}
  for pattern in sweep.images:
    full = os.path.expanduser(pattern)
    if sweep.data_dir and not os.path.isabs(full):
      # The folder is a path, not a pattern: "[x]" in it is literal.
      full = os.path.join(glob.escape(os.path.expanduser(sweep.data_dir)),
                          full)
    matches = sorted(p for p in glob.glob(full) if os.path.isfile(p))
    if not matches:
      where = (f" in {sweep.data_dir!r}"
               if sweep.data_dir and not os.path.isabs(pattern) else "")
      raise InputError(f"sweep.images pattern {pattern!r} matches no file"
                       + where)
    found.update(dict.fromkeys(matches))
  return list(found)


def enumerate_jobs(config) -> list[Job]:
  """All jobs in their fixed order; validates the whole sweep block."""
  if "sweep" not in config:
    raise InputError("the config has no `sweep` block; see dip_jax/cli/sweep.py")
  sweep = config.sweep
  settings = hyper.check(sweep.settings, config)
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
    hyper.set_key(c, key, value)
  if single_device and c.num_restarts > 1:
    # run.py's restart mesh takes jax.devices()[:n], which in a multi-process
    # run are process 0's devices: a job must stay on this process's device.
    c.num_devices = 1
  return c


def error_line(e: BaseException) -> str:
  """One line for a job's failure: the error's type and message."""
  lines = [l.strip() for l in str(e).splitlines() if l.strip()]
  text = f"{type(e).__name__}: {lines[0] if lines else '(no message)'}"
  return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR - 3] + "..."


def run_jobs(config, workdir, jobs, process, processes) -> int:
  """This process's share of `jobs`; returns how many failed. A job's
  failure of any kind is recorded in its folder and the next job runs;
  only an interrupt (signals.Interrupted, KeyboardInterrupt: both
  BaseExceptions) ends the sweep."""
  from dip_jax.cli import run  # imports JAX: after jax.distributed.initialize
  mine = jobs[process::processes]
  failed, singles = 0, mine
  if batch_size(config) > 1:
    groups, singles = _batches(config, workdir, mine, processes)
    for group in groups:
      failed += _run_batch(config, workdir, group, jobs, process, processes)
  for job in singles:
    where = (f"[{process}/{processes}] job {job.index + 1}/{len(jobs)} "
             f"{job.setting} {job.stem} seed {job.seed}")
    job_dir = job.dir(workdir)
    was_finished = os.path.exists(os.path.join(job_dir, run.SUMMARY))
    start = time.perf_counter()
    try:
      summary = run.reconstruct(
          job_config(config, job, processes > 1), job_dir,
          stream=io.StringIO() if was_finished else None)
    except Exception as e:  # pylint: disable=broad-except
      failed += 1
      line = error_line(e)
      print(f"{where}: failed: {line}", flush=True)
      _record_failure(job_dir, line, _trace(e))
      continue
    _clear_failure(job_dir)
    if was_finished:
      print(f"{where}: already finished", flush=True)
    else:
      print(f"{where}: done in {time.perf_counter() - start:.2f} s, PSNR "
            f"{tables.fmt(summary.get('psnr'))}", flush=True)
  return failed


def _batches(config, workdir, jobs, processes):
  """(groups, singles): the unfinished DIP jobs that can share a program,
  grouped by setting and image size; every other job runs alone (a job
  whose problem cannot even be built fails there, with its own record)."""
  from dip_jax import methods  # pylint: disable=g-import-not-at-top
  from dip_jax import data as data_lib
  from dip_jax.cli import run  # pylint: disable=g-import-not-at-top
  groups, singles = {}, []
  for job in jobs:
    c = job_config(config, job, processes > 1)
    if (not methods.batches(c.method)
        or os.path.exists(os.path.join(job.dir(workdir), run.SUMMARY))):
      singles.append(job)
      continue
    try:
      # From the header first: a photo too large for the fit is not
      # decoded here (its own run refuses it in one line).
      run.check_before_decoding(c)
      shape = data_lib.build_problem(c).out_shape
    except Exception:  # pylint: disable=broad-except
      singles.append(job)
      continue
    groups.setdefault((job.setting, shape), []).append(job)
  batched = [g for g in groups.values() if len(g) > 1]
  singles += [g[0] for g in groups.values() if len(g) == 1]
  return batched, sorted(singles, key=lambda j: j.index)


def _run_batch(config, workdir, group, jobs, process, processes) -> int:
  """One group of jobs through run.reconstruct_batch; returns how many
  failed (all of them when the shared fit fails)."""
  from dip_jax.cli import run  # pylint: disable=g-import-not-at-top
  where = (f"[{process}/{processes}] jobs "
           f"{', '.join(str(j.index + 1) for j in group)}/{len(jobs)} "
           f"{group[0].setting}")
  start = time.perf_counter()
  print(f"{where}: {len(group)} images in one program (sweep.batch "
        f"{batch_size(config)})", flush=True)
  try:
    summaries = run.reconstruct_batch(
        [job_config(config, j, processes > 1) for j in group],
        [j.dir(workdir) for j in group], max_batch=batch_size(config),
        # Progress (one line a chunk) and resumes, as a single job prints.
        say=lambda text: print(f"{where}: {text}", flush=True))
  except Exception as e:  # pylint: disable=broad-except
    line = error_line(e)
    print(f"{where}: failed: {line}", flush=True)
    for job in group:
      _record_failure(job.dir(workdir), line, _trace(e))
    return len(group)
  for job, summary in zip(group, summaries):
    _clear_failure(job.dir(workdir))
    print(f"{where}: {job.stem} seed {job.seed}: PSNR "
          f"{tables.fmt(summary.get('psnr'))}", flush=True)
  print(f"{where}: done in {time.perf_counter() - start:.2f} s", flush=True)
  return 0


def _trace(e: BaseException) -> str | None:
  """The traceback to keep beside error.txt: none for bad input (its one
  line says it all), the whole of it for a bug."""
  return None if isinstance(e, InputError) else traceback.format_exc()


def _clear_failure(job_dir: str) -> None:
  """Removes a job's record of an earlier failure (it finished now)."""
  for name in (ERROR_FILE, TRACEBACK_FILE):
    path = os.path.join(job_dir, name)
    if os.path.exists(path):
      os.remove(path)


def _record_failure(job_dir: str, line: str, trace: str | None) -> None:
  try:
    os.makedirs(job_dir, exist_ok=True)
    tables.write_atomic(os.path.join(job_dir, ERROR_FILE), line + "\n")
    trace_path = os.path.join(job_dir, TRACEBACK_FILE)
    if trace:
      tables.write_atomic(trace_path, trace)
    elif os.path.exists(trace_path):
      os.remove(trace_path)
  except OSError:
    pass  # a full or read-only disk: the printed line is the record then


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # as dip_jax.main: quiet JAX INFO
  dist_args = {k: FLAGS[k].value for k in
               ("coordinator_address", "num_processes", "process_id")}
  if not FLAGS.distributed and any(v is not None for v in dist_args.values()):
    cli_flags.fail("--coordinator_address/--num_processes/--process_id need "
             "--distributed")
  config = cli_flags.load_config()
  workdir = cli_flags.WORKDIR.value
  import jax  # after flag parsing, as in dip_jax.main
  from jax.experimental import multihost_utils
  if FLAGS.distributed:
    # First: it must precede any JAX computation. With no arguments JAX finds
    # the coordinator itself (TPU VM metadata, SLURM, ... env vars).
    try:
      jax.distributed.initialize(
          **{k: v for k, v in dist_args.items() if v is not None})
    except (RuntimeError, ValueError) as e:  # incl. XlaRuntimeError
      cli_flags.fail(f"jax.distributed.initialize failed: "
               f"{str(e).splitlines()[0]}")
  process, processes = jax.process_index(), jax.process_count()
  try:
    jobs, error = enumerate_jobs(config), ""
    batch_size(config)  # validated before any job runs
    workdir_lib.prepare(workdir, subdirs=())
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
    cli_flags.fail(error)
  try:
    with signals.handled():  # as dip_jax.main: one line, resumable
      failed = run_jobs(config, workdir, jobs, process, processes)
  except signals.Interrupted as e:  # no tables: the rerun writes them
    cli_flags.fail(f"sweep {e}", e.exit_code)
  if processes > 1:
    multihost_utils.sync_global_devices(BARRIER)
  if process == 0:
    rows = tables.collect(workdir, jobs)
    tables.write_results(workdir, rows)
    bad = sum(r["status"] != "done" for r in rows)
    print(f"[0/{processes}] wrote {os.path.join(workdir, 'results.csv')} and "
          f"results.md: {len(rows) - bad} of {len(rows)} jobs done"
          + (f", {bad} not (listed there with why)" if bad else ""),
          flush=True)
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
  app.run(main, flags_parser=cli_flags.parse_flags)


if __name__ == "__main__":
  run_main()
