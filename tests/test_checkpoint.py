"""Checkpointer: a truncated latest checkpoint falls back to the previous
one and says so; when none is readable the error says what to do."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax import checkpoint
from dip_jax.errors import InputError


def _state(v):
  return {"w": jnp.full((64, 32), v, jnp.float32), "step": jnp.int32(v)}


def _truncate_arrays(step_dir):
  """Cuts every non-empty file of a step's saved state to half its size."""
  cut = 0
  for root, _, files in os.walk(os.path.join(step_dir, "state")):
    for name in files:
      path = os.path.join(root, name)
      size = os.path.getsize(path)
      if size > 0:
        with open(path, "r+b") as f:
          f.truncate(size // 2)
        cut += 1
  assert cut, f"nothing to truncate under {step_dir}"


def _save_two(directory):
  ckpt = checkpoint.Checkpointer(directory, keep=3)
  for step in (1, 2):
    ckpt.save(step, _state(step), {"loss": np.arange(step, dtype=np.float32)},
              {"seconds": float(step)})
  ckpt.close()


def test_truncated_latest_falls_back_to_previous(tmp_path, capsys):
  _save_two(str(tmp_path))
  _truncate_arrays(str(tmp_path / "2"))
  ckpt = checkpoint.Checkpointer(str(tmp_path), keep=3)
  step, state, history, meta = ckpt.restore_latest(_state(0))
  assert step == 1 and int(state["step"]) == 1
  np.testing.assert_array_equal(state["w"], _state(1)["w"])
  assert meta["seconds"] == 1.0 and len(history["loss"]) == 1
  out = capsys.readouterr().out
  assert "checkpoint 2" in out and "unreadable" in out


def test_no_readable_checkpoint_is_one_clear_error(tmp_path):
  _save_two(str(tmp_path))
  for step in ("1", "2"):
    _truncate_arrays(str(tmp_path / step))
  ckpt = checkpoint.Checkpointer(str(tmp_path), keep=3)
  with pytest.raises(InputError, match="no checkpoint .* can be read"):
    ckpt.restore_latest(_state(0))


def test_untouched_checkpoints_restore_the_latest(tmp_path):
  _save_two(str(tmp_path))
  step, state, _, _ = checkpoint.Checkpointer(
      str(tmp_path)).restore_latest(_state(0))
  assert step == 2 and int(state["step"]) == 2
