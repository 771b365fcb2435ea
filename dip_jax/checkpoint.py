"""Checkpoints of a fit: the only module that knows orbax.

A checkpoint holds the fit state (a pytree), the per-step history so far and
a little JSON (elapsed seconds). Saves are atomic (orbax writes to a
temporary directory and renames) and only the latest few are kept. A
checkpoint that cannot be read is reported and the next older one is tried,
so a run killed while saving still resumes.
"""

import os

import orbax.checkpoint as ocp
from absl import logging

from dip_jax.errors import InputError


class Checkpointer:
  """Save/restore `(state, history, meta)` under `directory/<step>/`."""

  def __init__(self, directory: str, keep: int = 2):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.LatestN(keep),
        # Synchronous: the fit state is small next to a step's compute, and a
        # save that has returned is on disk (what a SIGKILL test relies on).
        enable_async_checkpointing=False,
        create=True)
    try:
      self._mngr = ocp.CheckpointManager(self.directory, options=options)
    except OSError as e:
      raise InputError(f"cannot use checkpoint directory {self.directory}: "
                       f"{e.strerror or e}") from None

  def steps(self) -> list[int]:
    return sorted(self._mngr.all_steps())

  def save(self, step: int, state, history: dict, meta: dict) -> None:
    self._mngr.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        history=ocp.args.StandardSave(history),
        meta=ocp.args.JsonSave(meta)), force=True)
    self._mngr.wait_until_finished()

  def restore_latest(self, abstract_state):
    """(step, state, history, meta) of the newest readable checkpoint, or
    None when there is none. `abstract_state` gives shapes and dtypes.

    Raises InputError when checkpoints exist but none can be read: starting
    over would silently replace them, so the user decides.
    """
    steps = self.steps()
    for step in reversed(steps):
      try:
        out = self._mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            history=ocp.args.StandardRestore(),
            meta=ocp.args.JsonRestore()))
      except Exception as e:  # orbax raises many types for corrupt files
        logging.warning("checkpoint %d in %s is unreadable (%s: %s); trying "
                        "an older one", step, self.directory,
                        type(e).__name__, str(e).splitlines()[0][:200])
        print(f"warning: checkpoint {step} in {self.directory} is "
              f"unreadable; trying an older one", flush=True)
        continue
      return step, out["state"], dict(out["history"]), dict(out["meta"])
    if steps:
      raise InputError(f"no checkpoint in {self.directory} can be read "
                       f"(steps {steps}); delete that folder to start the "
                       f"fit over")
    return None

  def close(self) -> None:
    self._mngr.close()
