"""Runs that are stopped and run again finish with exactly the result of an
uninterrupted run (CPU, same program, same chunks): after SIGKILL, after
SIGTERM (one line, exit 143), past a damaged newest checkpoint, and while a
second run on the same workdir is refused."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import tiny_config
from dip_jax.fit import driver
from dip_jax.fit import signals
from dip_jax.methods import dip as dip_method
from test_cli import ROOT, TINY
from test_fit import _problem

STEPS = ["--config.num_steps=1000", "--config.log_every=50",
         "--config.checkpoint_every=100", "--config.snapshot_every=0"]
# Progress lines must reach the test as they are printed.
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def _cmd(workdir):
  return [sys.executable, "-m", "dip_jax.main", f"--config={TINY}",
          f"--workdir={workdir}", *STEPS]


def _start(workdir, **kwargs):
  return subprocess.Popen(_cmd(workdir), cwd=ROOT, env=ENV, text=True,
                          **kwargs)


def _saved_steps(ckpt_dir):
  if not os.path.isdir(ckpt_dir):
    return []
  return sorted(int(d) for d in os.listdir(ckpt_dir) if d.isdigit())


def _wait_for_checkpoint(proc, ckpt_dir, timeout=240):
  t0 = time.time()
  while time.time() - t0 < timeout:
    if proc.poll() is not None:
      raise AssertionError("run finished before it could be killed")
    if _saved_steps(ckpt_dir):
      return
    time.sleep(0.05)
  raise AssertionError("no checkpoint appeared")


def _terminate_after_step(proc, step):
  """Sends SIGTERM once a progress line at `step` or later is printed;
  returns (stdout, stderr) after the process ended."""
  out = []
  for line in proc.stdout:
    out.append(line)
    words = line.split()
    if words[:1] == ["step"] and int(words[1].split("/")[0]) >= step:
      proc.send_signal(signal.SIGTERM)
      break
  else:
    raise AssertionError("the run ended before it could be stopped:\n"
                         + "".join(out))
  rest, err = proc.communicate(timeout=120)
  return "".join(out) + rest, err


def _damage(step_dir):
  """Overwrites every file of a checkpoint's saved state with garbage."""
  for root, _, files in os.walk(os.path.join(step_dir, "state")):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"not a checkpoint")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("reference")
  subprocess.run(_cmd(workdir), check=True, capture_output=True, cwd=ROOT,
                 timeout=600)
  return workdir


def test_stopped_runs_resume_to_the_same_result(reference, tmp_path):
  workdir = tmp_path / "stopped"
  ckpt_dir = workdir / "checkpoints"

  # SIGKILL once a checkpoint is on disk.
  proc = _start(workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  _wait_for_checkpoint(proc, ckpt_dir)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (workdir / "summary.json").exists()
  killed_at = _saved_steps(ckpt_dir)[-1]

  # Resumed, then SIGTERM late enough that two checkpoints exist.
  proc = _start(workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  out, err = _terminate_after_step(proc, killed_at + 150)
  assert f"resuming from the checkpoint at step {killed_at}" in out, out
  assert proc.returncode == 128 + signal.SIGTERM, err
  lines = [l for l in err.splitlines() if l.strip()]
  assert len(lines) <= 3 and "Traceback" not in err, err
  stopped_at = int(lines[-1].split("interrupted at step ")[1].split(";")[0])
  assert lines[-1].endswith("run the same command to resume"), err
  saved = _saved_steps(ckpt_dir)
  assert saved[-1] == stopped_at and len(saved) == 2, saved

  # The newest checkpoint damaged, and two runs started at the same moment:
  # one resumes from the older checkpoint and finishes, the other is
  # refused in one line naming the first's pid.
  _damage(ckpt_dir / str(stopped_at))
  pair = [_start(workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
          for _ in range(2)]
  results = [p.communicate(timeout=600) for p in pair]
  codes = sorted(p.returncode for p in pair)
  assert codes == [0, 2], results
  winner = [p.returncode for p in pair].index(0)
  out, _ = results[winner]
  _, refused = results[1 - winner]
  refused_lines = [l for l in refused.splitlines() if l.strip()]
  assert "Traceback" not in refused, refused
  assert (f"is in use by another run (pid {pair[winner].pid})"
          in refused_lines[-1]), refused
  assert f"resuming from the checkpoint at step {saved[0]}" in out, out
  assert f"moved it to {ckpt_dir / f'damaged-{stopped_at}'}" in out, out

  a = np.load(reference / "history.npz")
  b = np.load(workdir / "history.npz")
  for key in a.files:
    np.testing.assert_array_equal(a[key], b[key])
  assert ((reference / "reconstruction.png").read_bytes()
          == (workdir / "reconstruction.png").read_bytes())


def test_signal_between_chunks_saves_that_step(tmp_path):
  """A SIGINT (Ctrl-C) received mid-fit stops at the chunk's end with a
  checkpoint of that step (off the checkpoint grid), and the resumed fit
  equals an uninterrupted one bit for bit."""
  if threading.current_thread() is not threading.main_thread():
    pytest.skip("signal handlers need the main thread")
  config, problem = tiny_config(num_steps=30, log_every=5), _problem()

  def hooks(directory, on_snapshot=None):
    return driver.Hooks(progress=False, log_every=5,
                        checkpoint_dir=str(directory), checkpoint_every=20,
                        snapshot=on_snapshot, snapshot_every=5)

  def fit(directory, on_snapshot=None):
    return driver.run_fit(dip_method.build_fit(config, problem), 30,
                          hooks(directory, on_snapshot))

  def interrupt_at_10(step, image):
    del image
    if step == 10:
      os.kill(os.getpid(), signal.SIGINT)

  _, whole, _ = fit(tmp_path / "whole")
  with pytest.raises(signals.Interrupted) as stop:
    with signals.handled(), signals.deferred():
      fit(tmp_path / "stopped", interrupt_at_10)
  assert stop.value.step == 10 and stop.value.exit_code == 130
  assert "at step 10; run the same command to resume" in str(stop.value)
  assert _saved_steps(tmp_path / "stopped") == [10]
  _, resumed, _ = fit(tmp_path / "stopped")
  for key in whole:
    np.testing.assert_array_equal(whole[key], resumed[key])
