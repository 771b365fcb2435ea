"""Restarts (`num_restarts: R`): the average of R fits beats a single fit
(the paper's finding), restart 0 of R is the R = 1 run, and a finished run
with restarts is not redone.

The denoising runs use configs/denoise.py:quick (32-channel skip-5, sigma
25, built-in photo, seed 0) with three changes that keep them short: the
photo at 64 px instead of 128 (4x fewer FLOPs per step), 600 steps instead
of 2000, and no TV baseline. Measured on 2 CPU cores that other jobs were
also using: the file takes ~115 s wall and ~115 CPU-s (85 s for the
denoising test, 21 s of it compiling the R = 4 fit; 27 s for the tiny-net
one, nearly all compilation). Margins are set well below what was
measured (numbers in the comments).
"""

import io
import os

import numpy as np
import pytest

from dip_jax import config_lib
from dip_jax.cli import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE, STEPS, SHORT = 64, 600, 20


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
  """One 600-step R = 4 fit serves both checks. One test, not two sharing
  a module fixture: `pytest -n 2` may send two tests to two workers, and
  each would then run this, the costliest fit of the file, itself."""
  summary = run.reconstruct(denoise_quick(4, STEPS), str(tmp_path / "r4"))
  history = np.load(tmp_path / "r4" / "history.npz")
  check_average_beats_a_single_run(summary)
  check_restart_0_is_the_single_run(tmp_path / "r1", history)


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


def check_restart_0_is_the_single_run(workdir, four):
  """Restart r uses fold_in(key, r), so restart 0 of R = 4 has the init,
  z and input noise of the R = 1 run. A step's keys depend only on its
  number, so the first 20 steps of the 600-step R = 4 fit are what a
  20-step R = 4 fit would do: compared here without compiling one."""
  single = run.reconstruct(denoise_quick(1, SHORT), str(workdir))
  one = np.load(workdir / "history.npz")
  loss_1, loss_4 = one["loss"][:, 0], four["loss"][:SHORT, 0]
  # Same init, z and noise: the first forward pass agrees to float
  # precision (measured: bit-identical).
  np.testing.assert_allclose(loss_4[0], loss_1[0], rtol=1e-6)
  # After that the vmapped and the plain programs round differently (other
  # summation orders in the batched backward), and Adam amplifies it: its
  # early steps move a parameter by ~lr whatever its gradient's size, and
  # e.g. the conv biases in front of batch norm have pure-rounding
  # gradients (~1e-9, random sign). Measured relative loss gaps: step 1
  # 4.6e-5, step 2 8.8e-4, step 3 7.2e-3, step 5 3.2e-2, step 19 0.12: a
  # chaotic divergence, so only the first steps are compared closely. On
  # another CPU (the same versions) step 3 differed by 2.3e-2. With SGD and
  # a smooth activation the two agree for a whole 100-step curve to 1e-6
  # (tests/test_whole_curves.py, with restart_group below).
  np.testing.assert_allclose(loss_4[1], loss_1[1], rtol=1e-3)
  np.testing.assert_allclose(loss_4[2], loss_1[2], rtol=5e-2)
  # The answer after 20 steps, the EMA of the outputs (0.99 decay, so still
  # mostly the shared early outputs): measured 10.413 dB (R = 1) vs 10.438
  # dB (restart 0 of 4), a 0.026 dB gap.
  assert single["psnr"] == pytest.approx(float(one["psnr_ema"][-1, 0]),
                                         abs=1e-4)
  assert float(four["psnr_ema"][SHORT - 1, 0]) == pytest.approx(
      single["psnr"], abs=0.1)


def test_finished_run_with_restarts_is_not_redone(tmp_path):
  config = load_config("tests/tiny_config.py")
  # The restart-groups test's R = 4 program (same net, R and grouping), so
  # this test compiles nothing new when the cache has it.
  config.num_restarts, config.restart_group = 4, 4
  config.tv.enabled = False  # not what is tested; its compile costs seconds
  first = run.reconstruct(config, str(tmp_path), stream=io.StringIO())
  for r in range(4):
    assert (tmp_path / f"restart_{r}.png").exists()
  assert not (tmp_path / "restart_4.png").exists()
  assert len(first["psnr_restarts"]) == 4
  summary_file = tmp_path / "summary.json"
  written = summary_file.stat().st_mtime_ns

  log = io.StringIO()
  again = run.reconstruct(config, str(tmp_path), stream=log)
  assert "already holds this finished run" in log.getvalue()
  assert again == first
  # Nothing was refitted or rewritten.
  assert summary_file.stat().st_mtime_ns == written


def test_restart_groups_compute_the_same_fit(tmp_path):
  """restart_group only changes how the R restarts are batched (vmapped
  groups, run in turn by a lax.map): the fits must agree to float
  rounding with the all-vmapped program."""
  import sys  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.join(ROOT, "tests"))
  from tiny_config import tiny_base  # pylint: disable=g-import-not-at-top
  runs = {}
  # All vmapped, and one at a time (a lax.map over single restarts); a
  # group of 2 is the same code path as 4 (vmap inside the map).
  for group in (4, 1):
    c = tiny_base()
    c.num_restarts, c.restart_group = 4, group
    c.num_steps, c.log_every = 6, 3
    c.tv.enabled = False
    c.snapshot_every = c.checkpoint_every = 0
    summary = run.reconstruct(c, str(tmp_path / f"g{group}"),
                              stream=io.StringIO())
    runs[group] = (summary, np.load(tmp_path / f"g{group}" / "history.npz"))
  loss4 = runs[4][1]["loss"]
  assert loss4.shape == (6, 4)
  # The scored end-of-run variants a paper table reads.
  v = runs[4][0]["variants"]
  assert len(v["final_output"]) == len(v["output_average"]) == 4
  assert v["restarts_average"]["psnr"] == pytest.approx(runs[4][0]["psnr"],
                                                        abs=1e-6)
  assert [x["psnr"] for x in v["output_average"]] == pytest.approx(
      runs[4][0]["psnr_restarts"], abs=1e-6)
  for group in (1,):
    # Step 1 agrees to float rounding; then Adam's early, sign-like updates
    # amplify that rounding (measured 0.2 % apart by step 6), as between
    # device counts in test_devices.py.
    np.testing.assert_allclose(runs[group][1]["loss"][:1], loss4[:1],
                               rtol=1e-5)
    np.testing.assert_allclose(runs[group][1]["loss"], loss4, rtol=2e-2)
    np.testing.assert_allclose(runs[group][0]["psnr_restarts"],
                               runs[4][0]["psnr_restarts"], atol=0.05)


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
