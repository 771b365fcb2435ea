"""`python -m dip_jax.sweep`: every job of a tiny sweep done once, resumable,
split over two processes, and bad sweep input refused before any job runs."""

import csv
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dip_jax import sweep
from dip_jax.errors import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "sweep_tiny.py")
JOB_LINE = re.compile(r"^\[(\d+)/(\d+)\] job (\d+)/(\d+) (\S+) (\S+) seed "
                      r"(\d+): (.*)$", re.M)


def run_sweep(workdir, data_dir, *flags):
  cmd = [sys.executable, "-m", "dip_jax.sweep", f"--config={TINY}",
         f"--workdir={workdir}", f"--config.sweep.data_dir={data_dir}", *flags]
  return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})


def finish(proc, timeout=240):
  """(returncode, stdout, stderr); a hang fails the test instead of CI."""
  try:
    out, err = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"sweep process timed out:\n{out}\n{err}")
  return proc.returncode, out, err


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  d = tmp_path_factory.mktemp("images")
  rng = np.random.default_rng(0)
  for name in ("cat", "dog"):
    img = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(d / f"{name}.png")
  return str(d)


def _jobs(stdout):
  return {int(m.group(3)): m.group(8) for m in JOB_LINE.finditer(stdout)}


def _results(workdir):
  with open(os.path.join(workdir, "results.csv")) as f:
    return list(csv.DictReader(f))


def test_one_process_then_rerun(tmp_path, data_dir):
  workdir = str(tmp_path / "sweep")
  code, out, err = finish(run_sweep(workdir, data_dir))
  assert code == 0, err
  jobs = _jobs(out)
  assert sorted(jobs) == [1, 2, 3, 4], out
  assert all(v.startswith("done in") for v in jobs.values()), out
  rows = _results(workdir)
  assert [(r["setting"], r["image"], r["seed"]) for r in rows] == [
      ("sigma25", "cat", "0"), ("sigma25", "dog", "0"),
      ("sigma50", "cat", "0"), ("sigma50", "dog", "0")]
  assert all(r["status"] == "done" and float(r["psnr"]) > 0
             and float(r["tv_psnr"]) > 0 and r["steps"] == "4" for r in rows)
  # The setting's override reached the job: sigma 50 makes a noisier input.
  assert float(rows[2]["corrupted_psnr"]) < float(rows[0]["corrupted_psnr"])
  config = json.load(open(os.path.join(workdir, "sigma50", "dog", "seed0",
                                       "config.json")))
  assert config["corruption"]["sigma"] == 50 and "sweep" not in config
  md = open(os.path.join(workdir, "results.md")).read()
  assert "## sigma25" in md and "## sigma50" in md and "**mean**" in md

  summaries = [os.path.join(workdir, s, i, "seed0", "summary.json")
               for s in ("sigma25", "sigma50") for i in ("cat", "dog")]
  before = {p: (os.path.getmtime(p), open(p).read()) for p in summaries}
  code, out, err = finish(run_sweep(workdir, data_dir))
  assert code == 0, err
  assert _jobs(out) == {i: "already finished" for i in (1, 2, 3, 4)}, out
  assert {p: (os.path.getmtime(p), open(p).read()) for p in summaries} == before
  assert len(_results(workdir)) == 4


def test_two_processes_split_the_jobs(tmp_path, data_dir):
  workdir = str(tmp_path / "sweep")
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  procs = [run_sweep(workdir, data_dir, "--distributed",
                     f"--coordinator_address=localhost:{port}",
                     "--num_processes=2", f"--process_id={i}")
           for i in range(2)]
  results = [finish(p) for p in procs]
  for code, out, err in results:
    assert code == 0, out + err
  ran = [set(_jobs(out)) for _, out, _ in results]
  assert ran[0].isdisjoint(ran[1]) and ran[0] | ran[1] == {1, 2, 3, 4}, ran
  assert ran == [{1, 3}, {2, 4}]  # 0-based index i runs on process i % 2
  assert "wrote" in results[0][1] and "wrote" not in results[1][1]
  rows = _results(workdir)
  assert len(rows) == 4 and all(r["status"] == "done" for r in rows)


@pytest.mark.parametrize("flags,needle", [
    (["--config.sweep.images=('*.jpg',)"],
     "sweep.images pattern '*.jpg' matches no file"),
    (["--config.sweep.settings=('wide:net.channels_dwn=(4,4,4)',)"],
     "unknown config key 'net.channels_dwn'"),
])
def test_bad_sweep_input_exits_2(tmp_path, data_dir, flags, needle):
  workdir = tmp_path / "sweep"
  code, _, err = finish(run_sweep(str(workdir), data_dir, *flags))
  lines = [l for l in err.splitlines() if l.strip()]
  assert code == 2 and "Traceback" not in err, err
  assert needle in lines[-1], err
  assert not list(workdir.glob("*/*"))  # no job started


def test_settings_are_checked_against_the_config():
  spec = importlib.util.spec_from_file_location("sweep_tiny", TINY)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)  # tests/ is not a package
  config = module.get_config()
  name, overrides = sweep.parse_setting(
      "wide:net.channels_down=(4, 4, 4);net.upsample=nearest;"
      "tv.enabled=false;corruption.sigma=50", config)
  assert name == "wide" and dict(overrides) == {
      "net.channels_down": (4, 4, 4), "net.upsample": "nearest",
      "tv.enabled": False, "corruption.sigma": 50}
  for bad in ("nocolon", "x:num_steps=many", "x:seed=3", "x:net=1",
              "x:tv.lam", "a/b:num_steps=2"):
    with pytest.raises(InputError):
      sweep.parse_setting(bad, config)
