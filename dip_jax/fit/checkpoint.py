"""Checkpoints of a fit: the only module that knows orbax.

A checkpoint holds the fit state (a pytree), the per-step history so far and
a little JSON (elapsed seconds). Saves are atomic (orbax writes to a
temporary directory and renames) and only the latest few are kept; the
temporary folder of a save that was killed is removed when the next run
opens the directory (the workdir lock says no one else is writing).

A checkpoint that cannot be read is moved aside to `damaged-<step>` and the
next older one is restored, so the fit runs on past that step (left in
place, it would be listed again, and saving that step again fails). A
checkpoint whose arrays have other shapes is another config's: that is
refused, never restored or moved.
"""

import collections
import os

import jax
import orbax.checkpoint as ocp
from absl import logging

from dip_jax.errors import InputError

DAMAGED = "damaged-"


class Checkpointer:
  """Save/restore `(state, history, meta)` under `directory/<step>/`."""

  def __init__(self, directory: str, keep: int = 2):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.LatestN(keep),
        # Synchronous: the fit state is small next to a step's compute, and a
        # save that has returned is on disk (what a SIGKILL test relies on).
        enable_async_checkpointing=False,
        cleanup_tmp_directories=True,
        create=True)
    try:
      # Handlers named up front: item_metadata of a fresh manager is None
      # for items it has not yet saved or restored.
      self._mngr = ocp.CheckpointManager(
          self.directory, options=options, item_handlers=dict(
              state=ocp.StandardCheckpointHandler(),
              history=ocp.StandardCheckpointHandler(),
              meta=ocp.JsonCheckpointHandler()))
    except OSError as e:
      raise InputError(f"cannot use checkpoint directory {self.directory}: "
                       f"{e.strerror or e}") from None

  def steps(self) -> list[int]:
    return sorted(self._mngr.all_steps())

  def save(self, step: int, state, history: dict, meta: dict) -> None:
    """Saves step `step`; a failed save (a full disk) raises InputError in
    one line and leaves the older checkpoints as they were."""
    try:
      self._mngr.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state),
          history=ocp.args.StandardSave(history),
          meta=ocp.args.JsonSave(meta)), force=True)
      self._mngr.wait_until_finished()
    except Exception as e:  # orbax and tensorstore wrap OSError variously
      logging.info("saving checkpoint %d in %s failed", step,
                   self.directory, exc_info=True)
      raise InputError(f"cannot save checkpoint {step} in {self.directory}: "
                       f"{_reason(e)}; the older checkpoints are kept") \
          from None

  def restore_latest(self, abstract_state):
    """(step, state, history, meta) of the newest readable checkpoint, or
    None when there is none. `abstract_state` gives shapes and dtypes.

    Unreadable newer checkpoints are moved aside (see the module
    docstring). Raises InputError when checkpoints exist but none can be
    read (starting over would silently replace them, so the user decides),
    and when one was saved by another config.
    """
    steps = self.steps()
    damaged = []
    for step in reversed(steps):
      self._refuse_other_config(step, abstract_state)
      try:
        out = self._mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            history=ocp.args.StandardRestore(),
            meta=ocp.args.JsonRestore()))
      except Exception as e:  # orbax raises many types for corrupt files
        logging.info("checkpoint %d in %s is unreadable (%s: %s)", step,
                     self.directory, type(e).__name__, _reason(e))
        damaged.append(step)
        continue
      for bad in damaged:
        moved = self._move_aside(bad)
        print(f"warning: checkpoint {bad} in {self.directory} is unreadable; "
              f"moved it to {moved} and resuming from step {step}",
              flush=True)
      return step, out["state"], dict(out["history"]), dict(out["meta"])
    if steps:
      raise InputError(f"no checkpoint in {self.directory} can be read "
                       f"(steps {steps}); delete that folder to start the "
                       f"fit over")
    return None

  def _refuse_other_config(self, step: int, abstract_state) -> None:
    """Raises InputError when the saved state's array shapes differ from
    `abstract_state`'s. Unreadable metadata is left to the restore (that
    checkpoint is damaged, not foreign)."""
    try:
      saved = self._mngr.item_metadata(step)["state"]
      saved_shapes = collections.Counter(
          tuple(leaf.shape)
          for leaf in jax.tree.leaves(getattr(saved, "tree", saved)))
    except Exception:  # pylint: disable=broad-except
      return
    if not saved_shapes:
      return  # orbax gives None for metadata it cannot parse
    wanted = collections.Counter(
        tuple(leaf.shape) for leaf in jax.tree.leaves(abstract_state))
    if saved_shapes != wanted:
      raise InputError(f"checkpoint {step} in {self.directory} holds a fit "
                       f"of another config (its arrays have other shapes); "
                       f"choose another --workdir")

  def _move_aside(self, step: int) -> str:
    """Renames step `step`'s folder to damaged-<step> (-2, -3 ... when
    taken), so orbax no longer lists it; returns the new path."""
    source = os.path.join(self.directory, str(step))
    target, n = os.path.join(self.directory, f"{DAMAGED}{step}"), 1
    while os.path.exists(target):
      n += 1
      target = os.path.join(self.directory, f"{DAMAGED}{step}-{n}")
    os.rename(source, target)
    self._mngr.reload()
    return target

  def close(self) -> None:
    self._mngr.close()


def _reason(e: BaseException) -> str:
  """One short line for a failure deep inside orbax: the OS error in its
  chain when there is one, or a known OS message inside tensorstore's text
  (e.g. 'No space left on device'), else the first line of its message."""
  seen, depth = e, 0
  while seen is not None and depth < 20:
    if isinstance(seen, OSError) and seen.strerror:
      return seen.strerror
    seen, depth = seen.__cause__ or seen.__context__, depth + 1
  for marker in ("No space left on device", "Read-only file system",
                 "Permission denied", "Disk quota exceeded"):
    if marker in str(e):
      return marker
  lines = str(e).strip().splitlines()
  return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__
