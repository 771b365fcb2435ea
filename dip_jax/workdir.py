"""A run's workdir: refuse, resume or finish.

A workdir holds one run. `summary.json` (written last) marks it finished: the
same command again does nothing, a different config is refused, and a run
that has checkpoints but no summary is resumed by the driver.
"""

import json
import os

from dip_jax.errors import InputError

SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
SNAPSHOTS = "snapshots"


def check(workdir: str, config_json: dict) -> dict | None:
  """Returns the summary of a finished identical run, or None when the
  workdir is free (or holds this same run, unfinished). Refuses a workdir
  whose run, finished or not, had a different config."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise InputError(f"workdir {workdir} exists and is not a directory")
  config_path = os.path.join(workdir, "config.json")
  summary_path = os.path.join(workdir, SUMMARY)
  finished = os.path.exists(summary_path)
  started = os.path.isdir(os.path.join(workdir, CHECKPOINTS))
  if not (finished or started) or not os.path.exists(config_path):
    return None
  try:
    with open(config_path) as f:
      previous = json.load(f)
  except (OSError, ValueError):
    raise InputError(f"workdir {workdir} holds a run whose config.json "
                     f"cannot be read; choose another --workdir") from None
  if previous != config_json:
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


def prepare(workdir: str) -> None:
  """Creates the workdir (and its snapshots folder); refuses an unwritable
  one with one line."""
  try:
    os.makedirs(os.path.join(workdir, SNAPSHOTS), exist_ok=True)
  except OSError as e:
    raise InputError(f"cannot create workdir {workdir}: {e.strerror}") from None
  if not os.access(workdir, os.W_OK):
    raise InputError(f"workdir {workdir} is not writable")
