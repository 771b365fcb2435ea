"""Restarts (`num_restarts: R`): the average of R fits beats a single fit
(the paper's finding), a finished run with restarts is not redone, and
restart_group is checked. (Restart 0 of R is the R = 1 run and restart
groups are one fit: tests/test_whole_curves.py, for whole curves.)

The denoising runs use configs/denoise.py:quick (32-channel skip-5, sigma
25, built-in photo, seed 0) with three changes that keep them short: the
photo at 64 px instead of 128 (4x fewer FLOPs per step), 600 steps instead
of 2000, and no TV baseline. Margins are set well below what was measured
(numbers in the comments).
"""

import io
import os

import numpy as np
import pytest

from dip_jax import config_lib
from dip_jax.cli import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE, STEPS = 64, 600


def load_config(path, arg=None):
  """A config file loaded as `--config=path:arg` would load it."""
  return config_lib.load_config_file(os.path.join(ROOT, path), arg)


def denoise_quick(num_restarts, num_steps):
  c = load_config("configs/denoise.py", "quick")
  c.sample_size, c.num_steps, c.num_restarts = SIZE, num_steps, num_restarts
  c.seed = 0
  c.tv.enabled = False
  c.snapshot_every = c.checkpoint_every = 0
  return c


def test_four_restarts_on_denoising(tmp_path):
  """One 600-step R = 4 fit. (That restart 0 of R = 4 is the R = 1 run, and
  that restart groups change only the batching, tests/test_whole_curves.py
  holds for whole 100-step curves.)"""
  summary = run.reconstruct(denoise_quick(4, STEPS), str(tmp_path / "r4"))
  check_average_beats_a_single_run(summary)


def check_average_beats_a_single_run(summary):
  # Measured (64 px, 600 steps, jax 0.10.2 CPU), seed 0: average 25.26 dB;
  # restarts 24.86, 24.89, 24.51, 25.08 (mean 24.83): +0.43 dB over the
  # mean. Seed 1: 25.30 vs mean 24.85, +0.45 dB. 1000 steps, seed 0: 26.16
  # vs 25.64 (+0.52); 400 steps: 23.18 vs 22.91 (+0.27).
  # Not asserted: beating the *best* restart. It held (seed 0 +0.18 dB,
  # seed 1 +0.06 dB), but with a margin that another XLA's rounding, which
  # sends every restart down another path, could take away.
  assert len(summary["psnr_restarts"]) == 4
  assert summary["psnr_single_mean"] == pytest.approx(
      np.mean(summary["psnr_restarts"]))
  assert summary["psnr"] > summary["psnr_single_mean"] + 0.2, summary
  # Every restart fits the image (nothing diverged or stuck): the noisy
  # input is at 20.8 dB. Each restart's path depends on rounding: at LLVM
  # -O1 (the tests' level, conftest.py) they ended at 24.61, 24.63, 23.69
  # and 24.50 dB, the weakest +2.9 dB over the input where -O3's was +3.7;
  # a stuck or diverged restart stays at or below the input.
  assert min(summary["psnr_restarts"]) > summary["corrupted_psnr"] + 2.5


def test_finished_run_with_restarts_is_not_redone(tmp_path):
  config = load_config("tests/tiny_config.py")
  config.num_restarts, config.restart_group = 4, 4
  config.tv.enabled = False  # not what is tested; its compile costs seconds
  first = run.reconstruct(config, str(tmp_path), stream=io.StringIO())
  for r in range(4):
    assert (tmp_path / f"restart_{r}.png").exists()
  assert not (tmp_path / "restart_4.png").exists()
  assert len(first["psnr_restarts"]) == 4
  # The scored end-of-run variants a paper table reads.
  v = first["variants"]
  assert len(v["final_output"]) == len(v["output_average"]) == 4
  assert v["restarts_average"]["psnr"] == pytest.approx(first["psnr"],
                                                        abs=1e-6)
  assert [x["psnr"] for x in v["output_average"]] == pytest.approx(
      first["psnr_restarts"], abs=1e-6)
  summary_file = tmp_path / "summary.json"
  written = summary_file.stat().st_mtime_ns

  log = io.StringIO()
  again = run.reconstruct(config, str(tmp_path), stream=log)
  assert "already holds this finished run" in log.getvalue()
  assert again == first
  # Nothing was refitted or rewritten.
  assert summary_file.stat().st_mtime_ns == written


def test_auto_restart_group():
  from dip_jax.fit import restarts  # pylint: disable=g-import-not-at-top
  px = lambda s: s * s
  # CPU: all 8 at 64 px x 32 channels, 2 at a time at 128 px, 1 at 256 px.
  assert restarts.auto_restart_group(8, px(64), 32, "cpu") == 8
  assert restarts.auto_restart_group(8, px(128), 32, "cpu") == 2
  assert restarts.auto_restart_group(8, px(256), 32, "cpu") == 1
  assert restarts.auto_restart_group(6, px(128), 32, "cpu") == 2
  assert restarts.auto_restart_group(3, px(128), 32, "cpu") == 1  # divisor of R
  # GPU/TPU: always one vmapped group.
  assert restarts.auto_restart_group(8, px(512), 128, "gpu") == 8


def test_bad_restart_group_is_one_clear_error(tmp_path):
  import sys  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.join(ROOT, "tests"))
  from tiny_config import tiny_base  # pylint: disable=g-import-not-at-top
  from dip_jax.errors import InputError  # pylint: disable=g-import-not-at-top
  c = tiny_base()
  c.num_restarts, c.restart_group = 4, 3
  with pytest.raises(InputError, match="restart_group=3"):
    run.reconstruct(c, str(tmp_path / "bad"), stream=io.StringIO())
