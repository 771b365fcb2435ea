"""experiments/task_pictures.py: a run's comparison figure lands in the docs
folder and its PSNRs in the record, the numbers of the run's summary."""

import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from dip_jax.io import records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
import task_pictures  # pylint: disable=wrong-import-position


def test_one_task_writes_its_picture_and_record(tmp_path):
  docs, work, res = tmp_path / "docs", tmp_path / "work", tmp_path / "res"
  task_pictures.main(["--tasks=denoising", "--steps=10", "--size=32",
                      f"--docs={docs}", f"--workdir={work}",
                      f"--record={res}"])
  picture = docs / "denoising_quick.png"
  with Image.open(picture) as im:
    # Four panels (noisy, TV, DIP, clean) side by side.
    assert im.width > 3 * im.height
  # The figure is the run's own.
  assert picture.read_bytes() == (work / "denoising" /
                                  "comparison.png").read_bytes()
  (rec,) = records.load("task_pictures", str(res))
  (row,) = rec["rows"]
  summary = json.loads((work / "denoising" / "summary.json").read_text())
  assert row["task"] == "denoising" and row["config"] == "denoise.py:quick"
  assert row["psnr"] == summary["psnr"] and row["steps"] == 10
  assert row["tv_psnr"] == summary["tv"]["psnr"]
  assert np.isfinite([row["psnr"], row["tv_psnr"], row["corrupted_psnr"]]
                     ).all()


def test_an_unknown_task_is_refused(capsys):
  with pytest.raises(SystemExit) as e:
    task_pictures.main(["--tasks=denoising,colour"])
  assert e.value.code == 2
  assert "unknown task 'colour'" in capsys.readouterr().err
