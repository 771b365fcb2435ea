"""A run's workdir: refuse, resume or finish; one process at a time.

A workdir holds one run. `summary.json` (written last) marks it finished: the
same command again does nothing, a different config is refused, and a run
that has checkpoints but no summary is resumed by the driver.

A run holds `locked(workdir)` from before its first write to its end: an
advisory `flock` on `.lock`, which holds the owner's pid. A second run on
the same workdir is refused at once, naming that pid. The kernel drops the
lock when its process dies, however it dies, so a crash never leaves a
stale lock behind.
"""

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time

from dip_jax.config_lib import RENAMED_KEYS
from dip_jax.errors import InputError

SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
SNAPSHOTS = "snapshots"
LOCK = ".lock"


# Config keys added after runs were written, with the value that does what
# those runs did: a workdir whose config lacks one of them is the same run
# when this config holds that value (old sweeps resume, old results count).
ADDED_KEYS = {"precision": "float32",
              # DIP+DnCNN's block; only method=dip_dncnn reads it.
              "dncnn": {"dip_weight": 0.5, "variant": "auto",
                        "self_ensemble": True, "weights": ""},
              # The optimizer's schedule and clipping (fit/optim.py).
              "optim": {"schedule": "constant", "warmup_steps": 0,
                        "decay_steps": 0, "end_factor": 0.0,
                        "clip_norm": 0.0},
              # A noisy image saved as a JPEG (data/corruptions.py).
              "corruption": {"save_jpeg": 0},
              # The discrepancy stop's band (fit/watchers/stopping.py).
              "early_stopping": {"band": 0.0, "slots": 16}}


def _as_before(previous: dict, config_json: dict,
               added: dict = ADDED_KEYS) -> dict:
  """config_json without the `added` keys (ADDED_KEYS, nested blocks
  included) that `previous` lacks and that hold the value of the old
  behaviour."""
  kept = {}
  for k, v in config_json.items():
    if k in added and k not in previous and v == added[k]:
      continue
    if (k in added and isinstance(added[k], dict) and isinstance(v, dict)
        and isinstance(previous.get(k), dict)):
      v = _as_before(previous[k], v, added[k])
    kept[k] = v
  return kept


def check(workdir: str, config_json: dict) -> dict | None:
  """Returns the summary of a finished identical run, or None when the
  workdir is free (or holds this same run, unfinished). Refuses a workdir
  whose run, finished or not, had a different config."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"workdir {workdir} exists and is not a directory")
  config_path = os.path.join(workdir, "config.json")
  summary_path = os.path.join(workdir, SUMMARY)
  finished = os.path.exists(summary_path)
  started = _has_checkpoints(os.path.join(workdir, CHECKPOINTS))
  if not (finished or started):
    return None
  if not os.path.exists(config_path):
    # config.json is written before the first checkpoint, so its absence
    # means someone removed it: resuming those checkpoints under this
    # config could continue another run's fit.
    raise InputError(f"workdir {workdir} holds a run but no config.json, so "
                     f"its config is unknown; choose another --workdir")
  try:
    with open(config_path) as f:
      previous = json.load(f)
  except (OSError, ValueError):
    raise InputError(f"workdir {workdir} holds a run whose config.json "
                     f"cannot be read; choose another --workdir") from None
  # Keys renamed since (config_lib.RENAMED_KEYS) read as their new names.
  previous = {RENAMED_KEYS.get(k, k): v for k, v in previous.items()}
  if previous != _as_before(previous, config_json):
    state = "finished" if finished else "unfinished"
    raise InputError(f"workdir {workdir} already holds a {state} run with a "
                     f"different config; choose another --workdir")
  if not finished:
    return None
  try:
    with open(summary_path) as f:
      return json.load(f)
  except (OSError, ValueError):
    raise InputError(f"workdir {workdir} holds a finished run whose "
                     f"summary.json cannot be read") from None


def _has_checkpoints(directory: str) -> bool:
  """True when `directory` holds a saved step."""
  return latest_checkpoint_step(directory) > 0


def latest_checkpoint_step(directory: str | None) -> int:
  """The newest saved step in a checkpoint folder, read from its folder
  names without opening anything (a leftover temporary folder of an
  interrupted save does not count): 0 when there is none."""
  try:
    return max((int(n) for n in os.listdir(directory or "") if n.isdigit()),
               default=0)
  except OSError:
    return 0


def prepare(workdir: str, subdirs=(SNAPSHOTS,)) -> None:
  """Creates the workdir (and `subdirs` in it: a run's snapshots folder);
  refuses an unwritable one with one line."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"workdir {workdir} exists and is not a directory")
  existed = os.path.isdir(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
    for sub in subdirs:
      os.makedirs(os.path.join(workdir, sub), exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass  # a real write: os.access says yes to root on a read-only mount
  except OSError as e:
    if not existed:
      raise InputError(f"cannot create workdir {workdir}: "
                       f"{e.strerror}") from None
    raise InputError(f"workdir {workdir} is not writable: {e.strerror}") \
        from None


@contextlib.contextmanager
def locked(workdir: str):
  """Creates `workdir` and holds its lock while inside.

  Raises InputError (one line, with the owner's pid) when another process
  holds it. Where the filesystem has no flock the run goes on unlocked,
  with a warning: refusing would make such a workdir unusable.
  """
  prepare(workdir)
  path = os.path.join(workdir, LOCK)
  try:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise InputError(f"cannot create the lock file {path}: "
                     f"{e.strerror}") from None
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        print(f"warning: cannot lock workdir {workdir} ({e.strerror}); "
              f"make sure no other run uses it", flush=True)
      else:
        raise InputError(f"workdir {workdir} is in use by another run (pid "
                         f"{_owner(fd)}); wait for it to end or choose "
                         f"another --workdir") from None
    # The lock is the flock, not the file: it is never deleted (a process
    # could be holding the old file open), only rewritten with our pid.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    yield
  finally:
    os.close(fd)  # releases the flock


def _owner(fd: int) -> str:
  """The pid written by the lock's holder. It writes it just after taking
  the lock, so a run that lost the race by microseconds waits a moment."""
  for _ in range(20):
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    if text:
      return text
    time.sleep(0.025)
  return "unknown"
