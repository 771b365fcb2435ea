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


_LANES_SCRIPT = r"""
import json, sys
import numpy as np
import dip_jax
from dip_jax import operators
from dip_jax.fit import sharding

meshes = []
_lane_mesh = sharding.lane_mesh
sharding.lane_mesh = lambda *a: meshes.append(_lane_mesh(*a)) or meshes[-1]
clean = dip_jax.images.sample_image(32)
rng = np.random.default_rng(0)
ys = [np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
      for _ in range(4)]
kw = {"num_steps": 8, "log_every": 4, "input.channels": 8,
      "net.channels_down": (8, 8), "net.channels_up": (8, 8),
      "net.channels_skip": (4, 4)}
out = {}
for n in (1, 4):
  rs = dip_jax.reconstruct_batch(ys, operators.identity(), num_devices=n,
                                 progress=False, **kw)
  out[n] = [np.asarray(r.history["loss"]).tolist() for r in rs]
print(json.dumps({"loss": out, "meshes": [
    None if m is None else dict(m.shape) for m in meshes]}))
"""


def test_a_batch_splits_its_lanes_over_devices(tmp_path):
  """B > 1 images on 4 devices: one lane per device, the losses those of
  the batch on one device."""
  env = dict(os.environ, JAX_NUM_CPU_DEVICES="4", JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", _LANES_SCRIPT],
                        capture_output=True, text=True, cwd=ROOT, env=env,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr
  got = json.loads(proc.stdout.strip().splitlines()[-1])
  assert got["meshes"] == [None, {"lane": 4}]
  # Sharded lanes run the same per-lane program on other devices; measured
  # 1.2e-6 largest relative gap over the 8 steps (rtol 1e-5 leaves 8x).
  np.testing.assert_allclose(np.asarray(got["loss"]["4"]),
                             np.asarray(got["loss"]["1"]), rtol=1e-5)
