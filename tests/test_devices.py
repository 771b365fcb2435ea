"""Restarts split over several (CPU) devices give the results of one device."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from test_cli import ROOT, TINY

ARGS = ["--config.num_restarts=4", "--config.num_steps=30",
        "--config.log_every=15", "--config.snapshot_every=0"]


def _run(workdir, devices, *extra):
  env = dict(os.environ, JAX_NUM_CPU_DEVICES="4", JAX_PLATFORMS="cpu")
  cmd = [sys.executable, "-m", "dip_jax.main", f"--config={TINY}",
         f"--workdir={workdir}", f"--config.num_devices={devices}", *ARGS,
         *extra]
  return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                        env=env, timeout=600)


def test_four_devices_match_one(tmp_path):
  one, four = _run(tmp_path / "one", 1), _run(tmp_path / "four", 4)
  assert one.returncode == 0, one.stderr
  assert four.returncode == 0, four.stderr
  a = np.load(tmp_path / "one" / "history.npz")
  b = np.load(tmp_path / "four" / "history.npz")
  assert a["loss"].shape == (30, 4)
  # The sharded program sums in another order, and Adam's normalised early
  # steps amplify float rounding: the first steps agree to float precision,
  # the first ten to 2 %. (Three steps, as tests/test_batch.py holds its
  # lanes: one install's rounding put a batch lane's fifth step 3e-5 off
  # the single run's.) Past that the gap is chaotic: the whole 30 steps
  # held to 2 % at LLVM -O3 and not at -O1 (one restart 13 % off at step
  # 20, the first gap over 2 % at step 15), so only the first ten and the
  # answers below are compared. (tests/test_whole_curves.py holds batch
  # lanes and restart groups for 100 steps with SGD and a smooth activation.)
  np.testing.assert_allclose(a["loss"][:3], b["loss"][:3], rtol=1e-5)
  np.testing.assert_allclose(a["loss"][:10], b["loss"][:10], rtol=2e-2)
  sa = json.load(open(tmp_path / "one" / "summary.json"))
  sb = json.load(open(tmp_path / "four" / "summary.json"))
  assert sa["psnr"] == pytest.approx(sb["psnr"], abs=0.1)


def test_uneven_split_is_refused(tmp_path):
  proc = _run(tmp_path / "w", 3)
  assert proc.returncode == 2
  assert "does not split evenly over 3 devices" in proc.stderr.splitlines()[-1]
