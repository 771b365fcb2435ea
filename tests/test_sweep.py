"""`python -m dip_jax.cli.sweep`: a tiny sweep with one bad image among good
ones (the good jobs finish, the tables name the bad one, a rerun skips the
finished and retries the rest), any exception in a job recorded, the jobs
split over two processes, bad sweep input refused before any job runs, and
the settings built in Python (dip_jax.cli.hyper)."""

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

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep
from dip_jax.cli import tables
from dip_jax.errors import InputError
from dip_jax.io import results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "sweep_tiny.py")
# "[process/processes] job k/n SETTING IMAGE STEM seed K: what happened";
# an image stem may hold spaces.
JOB_LINE = re.compile(r"^\[(\d+)/(\d+)\] job (\d+)/(\d+) (\S+) (.+?) seed "
                      r"(\d+): (.*)$", re.M)


def run_sweep(workdir, data_dir, *flags):
  cmd = [sys.executable, "-m", "dip_jax.cli.sweep", f"--config={TINY}",
         f"--workdir={workdir}", f"--config.sweep.data_dir={data_dir}", *flags]
  return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, encoding="utf-8", cwd=ROOT,
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


def _save_images(folder, names):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  for name in names:
    img = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(folder / f"{name}.png")
  return str(folder)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return _save_images(tmp_path_factory.mktemp("images"), ("cat", "dog"))


def _jobs(stdout):
  return {int(m.group(3)): m.group(8) for m in JOB_LINE.finditer(stdout)}


def _results(workdir):
  with open(os.path.join(workdir, "results.csv"), encoding="utf-8") as f:
    return list(csv.DictReader(f))


def test_sweep_with_a_bad_image_then_rerun(tmp_path):
  """Two good images and a text file named .png, in folders whose names
  hold spaces and non-ASCII letters: the good jobs finish, the bad ones are
  recorded, the tables name them, exit 1; the rerun skips what finished,
  redoes a job whose run was cut short and retries the failed ones."""
  data_dir = _save_images(tmp_path / "my images ü", ("cat", "dog"))
  with open(os.path.join(data_dir, "bad é.png"), "w") as f:
    f.write("not an image\n")
  workdir = str(tmp_path / "sweep out é")
  code, out, err = finish(run_sweep(workdir, data_dir))
  assert code == 1 and "Traceback" not in err, out + err
  jobs = _jobs(out)
  # Images sorted: "bad é" first, in each of the two settings.
  assert sorted(jobs) == [1, 2, 3, 4, 5, 6], out
  assert all(jobs[k].startswith("failed: InputError: ") for k in (1, 4)), out
  assert all(jobs[k].startswith("done in") for k in (2, 3, 5, 6)), out
  rows = _results(workdir)
  assert [(r["setting"], r["image"], r["status"]) for r in rows] == [
      (s, i, "failed" if i == "bad é" else "done")
      for s in ("sigma=25", "sigma=50") for i in ("bad é", "cat", "dog")]
  bad_dir = os.path.join(workdir, "sigma=25", "bad é", "seed0")
  with open(os.path.join(bad_dir, sweep.ERROR_FILE), encoding="utf-8") as f:
    error = f.read()
  assert error.startswith("InputError: ") and error.count("\n") == 1
  assert rows[0]["error"] == error.strip() and rows[0]["psnr"] == ""
  done = [r for r in rows if r["status"] == "done"]
  assert all(float(r["psnr"]) > 0 and float(r["tv_psnr"]) > 0
             and r["steps"] == "4" for r in done)
  # The setting's override reached the job: sigma 50 makes a noisier input.
  assert float(done[2]["corrupted_psnr"]) < float(done[0]["corrupted_psnr"])
  config = json.load(open(os.path.join(workdir, "sigma=50", "dog", "seed0",
                                       "config.json")))
  assert config["corruption"]["sigma"] == 50 and "sweep" not in config
  with open(os.path.join(workdir, "results.md"), encoding="utf-8") as f:
    md = f.read()
  assert "## sigma=25" in md and "## sigma=50" in md and "**mean**" in md
  assert f"- failed: bad é seed 0: {error.strip()}" in md
  assert "| bad é | n/a |" in md and "| 2/3 jobs |" in md

  # A job cut short (no summary.json yet) is redone; finished ones stay.
  cut = os.path.join(workdir, "sigma=50", "cat", "seed0", "summary.json")
  os.remove(cut)
  kept = [os.path.join(workdir, s, i, "seed0", "summary.json")
          for s, i in (("sigma=25", "cat"), ("sigma=25", "dog"),
                       ("sigma=50", "dog"))]
  before = {p: (os.path.getmtime(p), open(p).read()) for p in kept}
  code, out, err = finish(run_sweep(workdir, data_dir))
  assert code == 1, out + err
  jobs = _jobs(out)
  assert [jobs[k].split(" ")[0] for k in range(1, 7)] == [
      "failed:", "already", "already", "failed:", "done", "already"], out
  assert {p: (os.path.getmtime(p), open(p).read()) for p in kept} == before
  assert results.Summary.read(cut).steps == 4
  assert [r["status"] for r in _results(workdir)] == [
      "failed", "done", "done"] * 2


def test_any_exception_in_a_job_is_recorded(tmp_path, monkeypatch):
  """Not only InputError: a bug's exception too is one line in error.txt
  (its traceback beside it), the next job runs, and a retry that works
  clears the record."""
  from dip_jax.cli import run  # pylint: disable=g-import-not-at-top
  data = _save_images(tmp_path / "data", ("a", "b"))
  config = _tiny_module().get_config()
  config.sweep.data_dir = data
  config.sweep.settings = ({},)
  jobs = sweep.enumerate_jobs(config)
  workdir = str(tmp_path / "w")

  broken = {"a.png"}

  def fake(job_config, job_dir, stream=None):
    del stream
    if os.path.basename(job_config.image) in broken:
      raise ZeroDivisionError("float division by zero\nmore detail")
    os.makedirs(job_dir, exist_ok=True)
    summary = results.Summary(psnr=30.0, steps=4, device="cpu")
    summary.write(os.path.join(job_dir, "summary.json"))
    return summary.to_dict()

  monkeypatch.setattr(run, "reconstruct", fake)
  assert sweep.run_jobs(config, workdir, jobs, 0, 1) == 1
  a_dir = jobs[0].dir(workdir)
  with open(os.path.join(a_dir, sweep.ERROR_FILE)) as f:
    assert f.read() == "ZeroDivisionError: float division by zero\n"
  with open(os.path.join(a_dir, sweep.TRACEBACK_FILE)) as f:
    assert "Traceback" in f.read()
  rows = tables.collect(workdir, jobs)
  assert [(r["status"], r["psnr"]) for r in rows] == [("failed", ""),
                                                        ("done", 30.0)]
  md = tables.results_markdown(rows)
  assert "- failed: a seed 0: ZeroDivisionError: float division by zero" \
      in md and "| **mean** | 30.00 |" in md

  broken.clear()  # the retry works: the record of the failure goes
  assert sweep.run_jobs(config, workdir, jobs, 0, 1) == 0
  assert sorted(os.listdir(a_dir)) == ["summary.json"]
  assert [r["status"] for r in tables.collect(workdir, jobs)] == [
      "done", "done"]


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
     "sweep.images pattern '*.jpg' matches no file in"),
    (["--config.sweep.settings=({'net.channels_dwn': (4, 4, 4)},)"],
     "unknown config key 'net.channels_dwn'"),
    (["--config.sweep.settings=('wide:net.width=4',)"],
     "sweep.settings entries are dicts of dotted config keys"),
])
def test_bad_sweep_input_exits_2(tmp_path, data_dir, flags, needle):
  workdir = tmp_path / "sweep"
  code, _, err = finish(run_sweep(str(workdir), data_dir, *flags))
  lines = [l for l in err.splitlines() if l.strip()]
  assert code == 2 and "Traceback" not in err and len(lines) == 1, err
  assert needle in lines[-1], err
  assert not list(workdir.glob("*/*"))  # no job started


def _tiny_module():
  spec = importlib.util.spec_from_file_location("sweep_tiny", TINY)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)  # tests/ is not a package
  return module


def test_settings_in_python():
  config = _tiny_module().get_config()
  settings = hyper.product([
      hyper.sweep("corruption.sigma", [25, 50]),
      hyper.zipit([hyper.sweep("net.channels_down", [[4, 4, 4], (8, 8, 8)]),
                   hyper.sweep("net.upsample", ["nearest", "bilinear"])]),
      hyper.fixed("tv.enabled", False)])
  checked = hyper.check(settings + (hyper.named("plain"),), config)
  assert [name for name, _ in checked] == [
      "sigma=25,channels_down=4-4-4,upsample=nearest,enabled=false",
      "sigma=25,channels_down=8-8-8,upsample=bilinear,enabled=false",
      "sigma=50,channels_down=4-4-4,upsample=nearest,enabled=false",
      "sigma=50,channels_down=8-8-8,upsample=bilinear,enabled=false",
      "plain"]
  assert dict(checked[0][1]) == {  # lists become the config's tuples
      "corruption.sigma": 25, "net.channels_down": (4, 4, 4),
      "net.upsample": "nearest", "tv.enabled": False}
  assert checked[-1][1] == ()
  assert hyper.spell({}) == "default"
  assert hyper.spell({"a.x": 1, "b.x": 2}) == "a.x=1,b.x=2"  # tails clash
  assert len(hyper.spell({"mask.text": "w" * 200})) == 80
  with pytest.raises(ValueError, match="set by two parts"):
    hyper.product([hyper.sweep("seed", [1]), hyper.sweep("seed", [2])])
  with pytest.raises(ValueError, match="one length"):
    hyper.zipit([hyper.sweep("a", [1, 2]), hyper.sweep("b", [1])])
  for bad, needle in [
      ("x:num_steps=2", "dicts of dotted config keys"),
      ({"num_steps": "many"}, "cannot set num_steps='many'"),
      ({"seed": 3}, "set by the sweep itself"),
      ({"net": 1}, "is a group"), ({"tv.lamb": 1.0}, "unknown config key"),
      ({"name": "a/b"}, "not a folder name"),
      ((), "is empty")]:
    with pytest.raises(InputError, match=re.escape(needle)):
      hyper.check(bad if isinstance(bad, tuple) else (bad,), config)
  with pytest.raises(InputError, match="names repeat"):
    hyper.check(({}, {}), config)
  # The job's config gets the overrides; the sweep block is gone.
  job = sweep.Job(0, checked[0][0], "x.png", 7, checked[0][1])
  c = sweep.job_config(config, job)
  assert c.net.channels_down == (4, 4, 4) and c.corruption.sigma == 25.0
  assert c.seed == 7 and "sweep" not in c


def test_readme_sweep_snippet_runs():
  with open(os.path.join(ROOT, "docs", "scaling.md"), encoding="utf-8") as f:
    section = f.read().split("## Sweeps", 1)[1]
  code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
  config = _tiny_module().get_config()
  exec(code, {"c": config, "sweep": sweep})  # pylint: disable=exec-used
  assert [name for name, _ in hyper.check(config.sweep.settings, config)] \
      == ["sigma=25,width=16", "sigma=25,width=32", "sigma=50,width=16",
          "sigma=50,width=32"]


def test_aseqdip_sweep_runs_the_task_and_what_aseqdip_config_runs():
  """configs/sweeps/aseqdip_vs_dip.py: its "dip" jobs are the denoising
  task as configs/denoise.py:quick sets it, its "aseqdip" jobs what
  configs/aseqdip.py:task=denoise,quick sets (no images needed: jobs are
  built by hand)."""
  load = config_lib.task_config
  config = load(os.path.join("sweeps", "aseqdip_vs_dip.py"))
  assert config.sweep.seeds == (0, 1, 2)
  assert config.sweep.data_dir == "../shared/data/denoise9"
  checked = dict(hyper.check(config.sweep.settings, config))
  assert list(checked) == ["dip", "aseqdip"]
  expected = {"dip": load("denoise.py", "quick"),
              "aseqdip": load("aseqdip.py", "task=denoise,quick")}
  for name, want in expected.items():
    job = sweep.Job(0, name, "x.png", 2, checked[name])
    got = sweep.job_config(config, job).to_dict()
    want = want.to_dict()
    want.update(image="x.png", seed=2, center_crop=128,
                quick_hint=got["quick_hint"])
    want["tv"]["enabled"] = False
    want.setdefault("aseqdip", got["aseqdip"])  # unread by DIP
    assert got == want, name


@pytest.mark.parametrize("task,file,arg", [
    ("denoise", "denoise.py", "quick"), ("sr", "sr.py", "quick"),
    ("restore", "restore.py", "half,quick")])
def test_successor_sweep_runs_what_each_task_arg_runs(task, file, arg):
  """configs/sweeps/successors_vs_dip.py: each setting's jobs are the task's
  `:quick,<method>` config on the 128 px crop, TV off."""
  load = config_lib.task_config
  config = load(os.path.join("sweeps", "successors_vs_dip.py"), f"task={task}")
  assert config.sweep.seeds == (0, 1, 2)
  checked = dict(hyper.check(config.sweep.settings, config))
  methods = ["dip", "dip_tv", "sgld", "deepred"]
  assert list(checked) == methods
  for name in methods:
    job = sweep.Job(0, name, "x.png", 1, checked[name])
    got = sweep.job_config(config, job).to_dict()
    want = load(file, arg + ("" if name == "dip" else f",{name}")).to_dict()
    want.update(image="x.png", seed=1, center_crop=128,
                quick_hint=got["quick_hint"])
    want["tv"]["enabled"] = False
    assert got == want, name


@pytest.mark.parametrize("task,file", [("deblur", "deblur.py"),
                                       ("jpeg", "jpeg.py")])
def test_dip_vs_tv_sweep_runs_the_task_quick_config(task, file):
  """configs/sweeps/dip_vs_tv.py: its one setting's jobs are the task's
  `:quick` config on a 128 px crop, TV left to record_sweep.py."""
  load = config_lib.task_config
  config = load(os.path.join("sweeps", "dip_vs_tv.py"), f"task={task}")
  assert config.sweep.seeds == (0, 1, 2)
  checked = dict(hyper.check(config.sweep.settings, config))
  assert list(checked) == ["dip"]
  job = sweep.Job(0, "dip", "x.png", 1, checked["dip"])
  got = sweep.job_config(config, job).to_dict()
  want = load(file, "quick").to_dict()
  want.update(image="x.png", seed=1, center_crop=128,
              quick_hint=got["quick_hint"])
  want["tv"]["enabled"] = False
  assert got == want
  with pytest.raises(ValueError, match="unknown task"):
    load(os.path.join("sweeps", "dip_vs_tv.py"), "task=sr")


def test_tune_recipes_sweep_tunes_off_the_reported_images():
  """configs/sweeps/tune_recipes.py: tuning runs on Kodak files that are
  not in the CBM3D set the denoising tables report on (kodim01, 02, 03 and
  12 are), and its `quick` setting is the task's :quick recipe as it is."""
  load = config_lib.task_config
  spec = os.path.join("sweeps", "tune_recipes.py")
  reported = {"kodim01.png", "kodim02.png", "kodim03.png", "kodim12.png"}
  for task in ("deblur", "jpeg"):
    config = load(spec, f"task={task}")
    assert config.sweep.data_dir.endswith("kodak24")
    assert len(config.sweep.images) == 5
    assert not reported & set(config.sweep.images)
  config = load(spec, "task=deblur,only=quick")
  checked = dict(hyper.check(config.sweep.settings, config))
  job = sweep.Job(0, "quick", "x.png", 0, checked["quick"])
  got = sweep.job_config(config, job).to_dict()
  want = load("deblur.py", "quick").to_dict()
  want.update(image="x.png", seed=0, center_crop=128,
              quick_hint=got["quick_hint"])
  want["tv"]["enabled"] = False
  assert got == want
  with pytest.raises(ValueError, match="no setting 'wide'"):
    load(spec, "task=jpeg,only=paper+wide")
