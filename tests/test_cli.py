"""The command line: a finished run's outputs, and bad input handled as
one clear line with a non-zero exit that leaves finished results alone."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny_config.py")


def run_cli(workdir, *overrides):
  cmd = [sys.executable, "-m", "dip_jax.main", f"--config={TINY}",
         f"--workdir={workdir}", *overrides]
  return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                        timeout=300)


def _one_error_line(proc, needle):
  assert proc.returncode != 0
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) >= 1 and "Traceback" not in proc.stderr, proc.stderr
  assert needle in lines[-1], proc.stderr


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("finished"))
  proc = run_cli(workdir)
  assert proc.returncode == 0, proc.stderr
  return workdir


def test_outputs_of_a_finished_run(finished):
  for name in ("config.json", "corrupted.png", "reconstruction.png",
               "comparison.png", "metrics.jsonl", "summary.json",
               "history.npz", "curves.png", "snapshots/step_000002.png"):
    assert os.path.exists(os.path.join(finished, name)), name
  summary = json.load(open(os.path.join(finished, "summary.json")))
  for key in ("psnr", "psnr_corrupted", "steps", "seconds", "ssim"):
    assert key in summary
  assert summary["steps"] == 4
  assert len(open(os.path.join(finished, "metrics.jsonl")).readlines()) == 2


def test_rerun_of_a_finished_run_does_nothing(finished):
  before = os.path.getmtime(os.path.join(finished, "summary.json"))
  proc = run_cli(finished)
  assert proc.returncode == 0 and "nothing to do" in proc.stdout
  assert os.path.getmtime(os.path.join(finished, "summary.json")) == before


@pytest.mark.parametrize("override,needle", [
    ("--config.image=/nonexistent/x.png", "image file not found"),
    ("--config.corruption.sigma=nan", "corruption.sigma"),
    ("--config.num_steps=0", "num_steps"),
    ("--config.seed=1", "different config"),
])
def test_bad_input_leaves_finished_run_alone(finished, override, needle):
  files = {f: open(os.path.join(finished, f), "rb").read()
           for f in ("summary.json", "reconstruction.png", "config.json")}
  _one_error_line(run_cli(finished, override), needle)
  for f, content in files.items():
    assert open(os.path.join(finished, f), "rb").read() == content


def test_non_image_file(tmp_path):
  bad = tmp_path / "bad.png"
  bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
  _one_error_line(run_cli(str(tmp_path / "w"), f"--config.image={bad}"),
                  "cannot read image")
  assert not os.path.exists(tmp_path / "w" / "summary.json")


def test_unknown_config_key(tmp_path):
  proc = run_cli(str(tmp_path / "w"), "--config.num_stepz=3")
  assert proc.returncode != 0 and "num_stepz" in proc.stderr


def test_odd_sized_gray_image_keeps_its_size(tmp_path):
  arr = (np.random.default_rng(0).random((37, 53)) * 255).astype(np.uint8)
  path = str(tmp_path / "odd.png")
  Image.fromarray(arr).save(path)
  workdir = str(tmp_path / "w")
  proc = run_cli(workdir, f"--config.image={path}")
  assert proc.returncode == 0, proc.stderr
  out = Image.open(os.path.join(workdir, "reconstruction.png"))
  assert out.size == (53, 37) and out.mode == "L"


@pytest.mark.parametrize("override,needle", [
    ("--config.num_stepz=3", "unknown config key 'num_stepz'"),
    ("--config.net.upsample=cubic", "net.upsample must be one of"),
    ("--config.operator.name=warp", "unknown operator 'warp'"),
    ("--config.mask.kind=random --config.mask.kept_fraction=1.5",
     "kept_fraction"),
    ("--config.operator.name=downsample "
     "--config.operator.downsample.factor=0", "operator.downsample.factor"),
])
def test_bad_config_values_give_one_line(tmp_path, override, needle):
  proc = run_cli(str(tmp_path / "w"), *override.split())
  _one_error_line(proc, needle)
  assert proc.returncode == 2
  assert not (tmp_path / "w" / "config.json").exists()


def test_mask_file_problems(tmp_path):
  img = tmp_path / "img.png"
  Image.fromarray(np.full((32, 32, 3), 100, np.uint8)).save(img)
  small = tmp_path / "small.png"
  Image.fromarray(np.full((16, 32), 255, np.uint8)).save(small)
  gray = tmp_path / "gray.png"
  Image.fromarray(np.full((32, 32), 128, np.uint8)).save(gray)
  base = [f"--config.image={img}", "--config.mask.kind=file"]
  _one_error_line(run_cli(str(tmp_path / "a"), *base,
                          f"--config.mask.path={small}"), "but the image is")
  _one_error_line(run_cli(str(tmp_path / "b"), *base,
                          f"--config.mask.path={gray}"), "not binary")


def test_curves_mark_the_oracle_peak_and_each_detected_stop(tmp_path):
  from dip_jax.io import curves  # pylint: disable=g-import-not-at-top
  marks = curves.marks_of({"oracle_peak_step": 30, "oracle_peak_psnr": 25.0,
                         "detected_step": [12, 0, 40]})
  assert [(m[0], m[2]) for m in marks] == [(30, "--"), (12, ":"), (40, ":")]
  marks = curves.marks_of({"detected_step": 12, "answer_step": 111})
  assert [(m[0], m[2]) for m in marks] == [(12, ":"), (111, "-.")]
  history = {"loss": -np.linspace(1, 2, 50)[:, None],  # a maximization
             "psnr": np.linspace(10, 20, 100).reshape(50, 2)}
  assert curves.write_curves(str(tmp_path / "c.png"), history, {})
  assert Image.open(tmp_path / "c.png").size[0] > 500
  assert not curves.write_curves(str(tmp_path / "d.png"), {}, {})
