"""A run killed with SIGKILL mid-fit and run again finishes with exactly the
reconstruction of an uninterrupted run (CPU, same program, same chunks)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from test_cli import ROOT, TINY

STEPS = ["--config.num_steps=1000", "--config.log_every=50",
         "--config.checkpoint_every=100", "--config.snapshot_every=0"]


def _cmd(workdir):
  return [sys.executable, "-m", "dip_jax.main", f"--config={TINY}",
          f"--workdir={workdir}", *STEPS]


def _wait_for_checkpoint(proc, ckpt_dir, timeout=240):
  t0 = time.time()
  while time.time() - t0 < timeout:
    if proc.poll() is not None:
      raise AssertionError("run finished before it could be killed")
    if os.path.isdir(ckpt_dir) and any(
        d.isdigit() for d in os.listdir(ckpt_dir)):
      return
    time.sleep(0.05)
  raise AssertionError("no checkpoint appeared")


def test_killed_run_resumes_to_the_same_result(tmp_path):
  reference = tmp_path / "reference"
  subprocess.run(_cmd(reference), check=True, capture_output=True, cwd=ROOT,
                 timeout=600)

  killed = tmp_path / "killed"
  proc = subprocess.Popen(_cmd(killed), cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  _wait_for_checkpoint(proc, killed / "checkpoints")
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (killed / "summary.json").exists()
  resumed = subprocess.run(_cmd(killed), capture_output=True, text=True,
                           cwd=ROOT, timeout=600)
  assert resumed.returncode == 0, resumed.stderr
  assert "resuming from the checkpoint at step" in resumed.stdout

  a = np.load(reference / "history.npz")
  b = np.load(killed / "history.npz")
  for key in a.files:
    np.testing.assert_array_equal(a[key], b[key])
  assert ((reference / "reconstruction.png").read_bytes()
          == (killed / "reconstruction.png").read_bytes())
