"""Checkpointer: a truncated latest checkpoint is moved aside and the
previous one restored, so the fit can save that step again; a leftover
temporary folder of a killed save is harmless; another config's checkpoint
and a directory with none readable are refused in one line."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax.errors import InputError
from dip_jax.fit import checkpoint


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
  # What a save killed midway leaves (the concurrent-run crash of issue 16).
  leftover = tmp_path / "3.orbax-checkpoint-tmp-1700000000"
  (leftover / "state").mkdir(parents=True)
  (leftover / "state" / "x").write_bytes(b"partial")
  ckpt = checkpoint.Checkpointer(str(tmp_path), keep=3)
  step, state, history, meta = ckpt.restore_latest(_state(0))
  assert step == 1 and int(state["step"]) == 1
  np.testing.assert_array_equal(state["w"], _state(1)["w"])
  assert meta["seconds"] == 1.0 and len(history["loss"]) == 1
  out = capsys.readouterr().out
  assert "checkpoint 2" in out and "unreadable" in out
  assert (tmp_path / "damaged-2").is_dir() and ckpt.steps() == [1]
  # The fit runs on past the damaged step: saving 2 and 3 again works.
  for step in (2, 3):
    ckpt.save(step, _state(step), {"loss": np.arange(step, dtype=np.float32)},
              {"seconds": float(step)})
  ckpt.close()
  step, state, _, _ = checkpoint.Checkpointer(
      str(tmp_path), keep=3).restore_latest(_state(0))
  assert step == 3 and int(state["step"]) == 3


def test_another_configs_checkpoint_is_refused(tmp_path):
  _save_two(str(tmp_path))
  other = {"w": jnp.zeros((16, 32), jnp.float32), "step": jnp.int32(0)}
  with pytest.raises(InputError, match="another config") as e:
    checkpoint.Checkpointer(str(tmp_path)).restore_latest(other)
  assert "\n" not in str(e.value)
  assert sorted(os.listdir(tmp_path)) == ["1", "2"]  # nothing moved aside


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
