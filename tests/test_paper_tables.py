"""Paper-table configs load in every variant, and the tables are built from
a sweep's files: per image, mean, the paper's row, missing jobs marked."""

import glob
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import paper_tables  # pylint: disable=g-import-not-at-top,wrong-import-position
from dip_jax import sweep  # pylint: disable=wrong-import-position

TABLES = sorted(os.path.splitext(os.path.basename(p))[0]
                for p in glob.glob(os.path.join(ROOT, "configs", "paper",
                                                "*.py")))


def test_every_paper_config_is_a_table():
  assert TABLES == sorted(paper_tables.TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_paper_config_variants(table, tmp_path):
  full, _ = paper_tables.load_table_config(table, None, str(tmp_path))
  quick, _ = paper_tables.load_table_config(table, "quick,restarts=3",
                                            str(tmp_path))
  assert full.center_crop == 0 and quick.center_crop == 128
  assert max(full.net.channels_down) == 128
  assert max(quick.net.channels_down) == 32
  assert quick.num_restarts == 3
  assert full.num_restarts == (2 if table == "denoise_cset9" else 1)
  assert full.ema_decay == quick.ema_decay == 0.99
  assert quick.sweep.data_dir == os.path.join(str(tmp_path),
                                              paper_tables.TABLES[table][1])
  # The settings name keeps quick/full and restart counts apart.
  assert full.sweep.settings != quick.sweep.settings


def _fake_sweep(tmp_path, table, images, psnrs):
  """A data folder with `images` and job folders holding summaries."""
  data = tmp_path / "data"
  folder = data / paper_tables.TABLES[table][1]
  folder.mkdir(parents=True)
  for name in images:
    (folder / name).write_bytes(b"")  # only globbed, never read here
  config, _ = paper_tables.load_table_config(table, "quick", str(data))
  workdir = str(tmp_path / "out")
  jobs = sweep.enumerate_jobs(config)
  metric = paper_tables.TABLES[table][2]
  for job, p in zip(jobs, psnrs):
    if p is None:
      continue
    os.makedirs(job.dir(workdir))
    score = lambda d: {metric: p + d}
    summary = {"seconds": 10.0, "device": "cpu", "steps": 5,
               "tv": score(-1.0), f"bicubic_{metric}": p - 2.0,
               "variants": {"final_output": [score(0.0), score(0.1)],
                            "output_average": [score(0.5), score(0.4)],
                            "restarts_average": score(0.8)}}
    with open(os.path.join(job.dir(workdir), "summary.json"), "w") as f:
      json.dump(summary, f)
    # A cached classical score (test_biharmonic_baseline_is_cached computes
    # one for real); the fake image files could not be read.
    with open(os.path.join(job.dir(workdir), paper_tables.CLASSICAL_FILE),
              "w") as f:
      json.dump({"psnr": p - 0.3}, f)
  return config, jobs, workdir


def test_sr_table_from_sweep_files(tmp_path):
  config, jobs, workdir = _fake_sweep(
      tmp_path, "sr_x4_set5", ["a.png", "b.png", "c.png"], [30.0, 28.0, None])
  rows = [paper_tables.row_of("sr_x4_set5", config, j, workdir) for j in jobs]
  assert [r["status"] for r in rows] == ["done", "done", "missing"]
  assert rows[0]["single"] == 30.0 and rows[0]["ema"] == 30.5
  assert rows[1]["classical"] == 26.0 and rows[1]["tv"] == 27.0
  text = paper_tables.markdown("sr_x4_set5", rows, True, 1, "cmd")
  lines = text.splitlines()
  mean = next(l for l in lines if l.startswith("| **mean"))
  # Means over the 2 done images; restarts column empty (R = 1).
  assert "(2/3)" in mean and "| 29.90 | 29.00 | 29.50 | — | 28.00 | 27.00 |" \
      in mean
  assert any(l.startswith("| c |") and "missing" in l for l in lines)
  paper_row = next(l for l in lines if l.startswith("| *paper*"))
  assert "29.90" in paper_row and "28.43" in paper_row
  assert "QUICK" in lines[0]


def test_denoise_table_restarts_column(tmp_path):
  config, jobs, workdir = _fake_sweep(
      tmp_path, "denoise_cset9", ["x.png"], [25.0])
  row = paper_tables.row_of("denoise_cset9", config, jobs[0], workdir)
  assert row["restarts"] == 25.8 and row["classical"] == 24.7
  text = paper_tables.markdown("denoise_cset9", [row], False, 2, "cmd")
  assert "+ 2 restarts averaged" in text and "| 25.80 |" in text


def test_biharmonic_baseline_is_cached(tmp_path):
  """The classical column for missing pixels, on a small real image."""
  pytest.importorskip("skimage")
  from dip_jax import images  # pylint: disable=g-import-not-at-top
  data = tmp_path / "data" / "dip" / "restoration"
  data.mkdir(parents=True)
  rng = np.random.default_rng(0)
  yy, xx = np.mgrid[0:160, 0:160] / 160.0
  img = (0.5 + 0.3 * np.sin(6 * xx) * np.cos(4 * yy)
         + 0.02 * rng.standard_normal((160, 160)))[..., None]
  images.save_image(str(data / "barbara.png"), np.clip(img, 0, 1))
  config, _ = paper_tables.load_table_config("restore_barbara", "quick",
                                             str(tmp_path / "data"))
  job = sweep.enumerate_jobs(config)[0]
  job_dir = tmp_path / "job"
  job_dir.mkdir()
  out = paper_tables.classical("restore_barbara",
                               sweep.job_config(config, job), str(job_dir))
  # A smooth image: biharmonic fills half the pixels far better than the
  # masked input (zeros there, ~10 dB).
  assert out["psnr"] > 25.0, out
  assert json.loads((job_dir / paper_tables.CLASSICAL_FILE).read_text()) \
      == out
