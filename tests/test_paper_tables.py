"""Paper-table configs load in every variant, and the tables are built from
a sweep's files: summaries written by a real tiny run (through the results
schema), per image, mean, the paper's row, failed and missing jobs marked."""

import glob
import io
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import classical  # pylint: disable=g-import-not-at-top,wrong-import-position
import paper_tables  # pylint: disable=g-import-not-at-top,wrong-import-position
from dip_jax.cli import hyper  # pylint: disable=wrong-import-position
from dip_jax.cli import sweep  # pylint: disable=wrong-import-position
from dip_jax.errors import InputError  # pylint: disable=wrong-import-position
from dip_jax.io import report  # pylint: disable=wrong-import-position
from dip_jax.io import results  # pylint: disable=wrong-import-position
from tests.conftest import tiny_config  # pylint: disable=wrong-import-position

TABLES = sorted(os.path.splitext(os.path.basename(p))[0]
                for p in glob.glob(os.path.join(ROOT, "configs", "paper",
                                                "*.py")))


@pytest.fixture(scope="module")
def real_summary(tmp_path_factory):
  """summary.json of a real tiny denoising run (the sweep tests' program,
  so the compilation cache has it), as text."""
  from dip_jax.cli import run  # pylint: disable=g-import-not-at-top
  config = tiny_config(num_steps=4, log_every=2, checkpoint_every=0)
  config.tv.max_iters = 20
  workdir = str(tmp_path_factory.mktemp("real_run"))
  run.reconstruct(config, workdir, stream=io.StringIO())
  with open(os.path.join(workdir, "summary.json")) as f:
    return f.read()


def test_the_schema_round_trips_a_real_summary(real_summary):
  summary = results.Summary.from_json(real_summary)
  assert summary.to_json() == real_summary  # same keys, same values
  raw = json.loads(real_summary)
  assert summary.baseline()[1].psnr == raw["corrupted_psnr"] \
      == raw["psnr_corrupted"]
  assert summary.variants.output_average[0].psnr == raw["psnr"]
  # Unknown keys (a method's own numbers) survive; non-finite becomes null.
  raw["my_method"] = {"k": [1, 2]}
  raw["tv"]["psnr"] = None
  again = results.Summary.from_dict(raw)
  assert np.isnan(again.tv.psnr) and again.extra == {"my_method":
                                                      {"k": [1, 2]}}
  assert json.loads(again.to_json()) == raw


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


def test_bfloat16_tables_keep_their_own_job_folders(tmp_path):
  f32, _ = paper_tables.load_table_config("sr_x4_set5", "quick",
                                          str(tmp_path))
  bf16, _ = paper_tables.load_table_config(
      "sr_x4_set5", "quick,precision=bfloat16", str(tmp_path))
  assert f32.precision == "float32" and bf16.precision == "bfloat16"
  names = lambda c: [s[hyper.NAME] for s in c.sweep.settings]
  assert names(bf16) == [n + "_bf16" for n in names(f32)]
  with pytest.raises(ValueError, match="precision must be"):
    paper_tables.load_table_config("sr_x4_set5", "precision=float16",
                                   str(tmp_path))


def _sweep_of(tmp_path, table, images, summaries, arg="quick"):
  """A data folder with `images` and job folders holding `summaries`
  (None: the job never ran; "failed": it left an error.txt)."""
  data = tmp_path / "data"
  folder = data / paper_tables.TABLES[table][1]
  folder.mkdir(parents=True)
  for name in images:
    (folder / name).write_bytes(b"")  # only globbed, never read here
  config, _ = paper_tables.load_table_config(table, arg, str(data))
  workdir = str(tmp_path / "out")
  jobs = sweep.enumerate_jobs(config)
  for job, summary in zip(jobs, summaries):
    if summary is None:
      continue
    os.makedirs(job.dir(workdir))
    if summary == "failed":
      with open(os.path.join(job.dir(workdir), sweep.ERROR_FILE), "w") as f:
        f.write("InputError: cannot read the image\n")
      continue
    summary.write(os.path.join(job.dir(workdir), "summary.json"))
    # A cached classical score (test_biharmonic_baseline_is_cached computes
    # one for real); the fake image files could not be read.
    with open(os.path.join(job.dir(workdir), paper_tables.CLASSICAL_FILE),
              "w") as f:
      json.dump({"psnr": 24.0}, f)
  return config, jobs, workdir


def _as_sr(text, p):
  """The real run's summary with the SR numbers a table reads set to known
  values through the schema: Y PSNR p for the single run, p + 0.5 for the
  output average (the run's answer), p - 1 for TV, p - 2 for bicubic."""
  s = results.Summary.from_json(text)
  s.variants.final_output[0].psnr_y = p
  s.variants.output_average[0].psnr_y = s.psnr_y = p + 0.5
  s.tv.psnr_y = p - 1.0
  s.baselines = {"bicubic": results.Scores(psnr=p - 3.0, psnr_y=p - 2.0)}
  s.seconds = 10.0
  return s


def test_sr_table_from_sweep_files(tmp_path, real_summary):
  config, jobs, workdir = _sweep_of(
      tmp_path, "sr_x4_set5", ["a.png", "b.png", "c.png", "d.png"],
      [_as_sr(real_summary, 30.0), _as_sr(real_summary, 28.0), None,
       "failed"])
  rows = [paper_tables.row_of("sr_x4_set5", config, j, workdir) for j in jobs]
  assert [r["status"] for r in rows] == ["done", "done", "missing", "failed"]
  assert rows[0]["single"] == 30.0 and rows[0]["ema"] == 30.5
  assert rows[1]["classical"] == 26.0 and rows[1]["tv"] == 27.0
  assert rows[0]["restarts"] is None and rows[0]["device"].startswith("cpu")
  text = paper_tables.markdown("sr_x4_set5", rows, True, 1, "cmd")
  lines = text.splitlines()
  mean = next(l for l in lines if l.startswith("| **mean"))
  # Means over the 2 done images; restarts column empty (R = 1).
  assert "(2/4)" in mean and "| 29.90 | 29.00 | 29.50 | — | 28.00 | 27.00 |" \
      in mean
  assert any(l.startswith("| c |") and "missing" in l for l in lines)
  assert any(l.startswith("| d |") and "failed" in l for l in lines)
  paper_row = next(l for l in lines if l.startswith("| *paper*"))
  assert "29.90" in paper_row and "28.43" in paper_row
  assert "QUICK" in lines[0]


def test_denoise_table_from_a_real_summary(tmp_path, real_summary):
  """The real run's numbers, untouched, land in their columns (read here
  from the raw JSON, not through the schema)."""
  raw = json.loads(real_summary)
  with_restarts = results.Summary.from_json(real_summary)
  with_restarts.variants.restarts_average = results.Scores(psnr=25.8)
  config, jobs, workdir = _sweep_of(
      tmp_path, "denoise_cset9", ["x.png", "y.png"],
      [results.Summary.from_json(real_summary), with_restarts])
  rows = [paper_tables.row_of("denoise_cset9", config, j, workdir)
          for j in jobs]
  variants = raw["variants"]
  assert rows[0]["single"] == variants["final_output"][0]["psnr"]
  assert rows[0]["ema"] == variants["output_average"][0]["psnr"]
  assert rows[0]["tv"] == raw["tv"]["psnr"]
  assert rows[0]["seconds"] == raw["seconds"] and rows[0]["steps"] == 4
  assert rows[0]["restarts"] is None and rows[1]["restarts"] == 25.8
  assert rows[0]["classical"] == 24.0
  text = paper_tables.markdown("denoise_cset9", rows, False, 2, "cmd")
  assert "+ 2 restarts averaged" in text
  x_row = next(l for l in text.splitlines() if l.startswith("| x |"))
  assert x_row.startswith(
      f"| x | — | {variants['final_output'][0]['psnr']:.2f} | "
      f"{variants['output_average'][0]['psnr']:.2f} | — | "
      f"{raw['tv']['psnr']:.2f} | 24.00 |")


def test_successor_columns_from_sweep_files(tmp_path, real_summary):
  """--methods: each successor is a setting of the same sweep and one
  column (its answer: the reconstruction its summary scores -- with
  restarts, their average), a seconds row, and its mean only when every
  image has it."""
  def answer(p, seconds, restarts=None):
    s = _as_sr(real_summary, p)
    s.seconds = seconds
    if restarts is not None:
      s.variants.restarts_average = results.Scores(psnr_y=restarts)
      s.psnr_y = restarts
    return s
  config, jobs, workdir = _sweep_of(
      tmp_path, "sr_x4_set5", ["a.png", "b.png"],
      [answer(30.0, 10.0), answer(28.0, 10.0),     # plain DIP
       answer(31.0, 20.0), answer(29.0, 30.0),     # sgld
       answer(20.0, 5.0, restarts=32.0), None],    # deepred: b missing
      arg="quick,methods=dip+sgld+deepred")
  assert [j.setting for j in jobs] == ["quick_r1"] * 2 + [
      "quick_r1_sgld"] * 2 + ["quick_r1_deepred"] * 2
  assert dict(jobs[2].overrides)["method"] == "sgld"
  rows = paper_tables.table_rows("sr_x4_set5", config, workdir,
                                 ["sgld", "deepred"])
  assert [r["image"] for r in rows] == ["a", "b"]
  assert rows[0]["methods"] == {"sgld": (31.5, 20.0),
                                "deepred": (32.0, 5.0)}
  assert rows[1]["methods"]["deepred"] == ("missing", None)
  text = paper_tables.markdown("sr_x4_set5", rows, True, 1, "cmd",
                               ["sgld", "deepred"])
  lines = text.splitlines()
  assert "| SGLD | DeepRED | TV |" in lines[4]
  assert lines[6].startswith("| a | — | 30.00 | 30.50 | — | 31.50 | 32.00 "
                             "| 29.00 |")
  mean = next(l for l in lines if l.startswith("| **mean"))
  assert "| 29.50 | — | 30.50 | — | 28.00 |" in mean  # deepred: 1 of 2
  seconds = next(l for l in lines if l.startswith("| *s/image*"))
  assert "| 25.0 | — |" in seconds and seconds.endswith("| 10.0 | |")
  assert "SGLD's posterior mean" in text
  # --record's rows: plain DIP's per image, then each successor's score.
  rec = paper_tables.rows_for_record("sr_x4_set5", config, rows)
  assert [(r["image"], r["method"], r.get("score"), r["status"])
          for r in rec] == [
              ("a", "dip", None, "done"), ("a", "sgld", 31.5, "done"),
              ("a", "deepred", 32.0, "done"), ("b", "dip", None, "done"),
              ("b", "sgld", 29.5, "done"), ("b", "deepred", None, "missing")]
  assert rec[0]["single"] == 30.0 and rec[0]["metric"] == "psnr_y"
  assert json.loads(report.json_text(rec))[1]["seconds"] == 20.0
  with pytest.raises(ValueError, match="known methods"):
    paper_tables.load_table_config("sr_x4_set5", "quick,methods=dip+red",
                                   str(tmp_path))


def test_dip_dncnn_is_a_column_of_gaussian_denoising_only(tmp_path):
  """A method that does not apply to a table's task is left out of its
  sweep (and its markdown), not run to a failure on every image."""
  from dip_jax.cli import hyper  # pylint: disable=g-import-not-at-top
  arg = "quick,methods=dip+dip_dncnn"
  sr, _ = paper_tables.load_table_config("sr_x4_set5", arg, str(tmp_path))
  den, _ = paper_tables.load_table_config("denoise_cset9", arg,
                                          str(tmp_path))
  assert [s[hyper.NAME] for s in sr.sweep.settings] == ["quick_r1"]
  assert [s[hyper.NAME] for s in den.sweep.settings] == [
      "quick_r2", "quick_r2_dip_dncnn"]
  assert den.sweep.settings[1]["method"] == "dip_dncnn"


def test_a_non_finite_score_is_a_dash(tmp_path, real_summary):
  s = results.Summary.from_json(real_summary)
  s.variants.final_output[0].psnr = float("nan")  # written as null
  config, jobs, workdir = _sweep_of(tmp_path, "denoise_cset9", ["x.png"],
                                    [s])
  row = paper_tables.row_of("denoise_cset9", config, jobs[0], workdir)
  assert row["status"] == "done" and row["single"] is None


def test_biharmonic_baseline_is_cached(tmp_path):
  """The classical column for missing pixels, on a small real image."""
  pytest.importorskip("skimage")
  from dip_jax.io import images  # pylint: disable=g-import-not-at-top
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
  assert set(out["versions"]) == {"scikit-image"}  # what solved it
  assert json.loads((job_dir / paper_tables.CLASSICAL_FILE).read_text()) \
      == {"biharmonic": out}


def test_tv_and_bicubic_baselines_share_a_job_cache(tmp_path):
  """TV (the task's tv.lam) and bicubic on a 64 px SR x4 job of the sample
  photo: each beats nearest-neighbour upscaling of the same observation
  (measured: nearest 15.6, bicubic 17.0, TV 17.6 dB), and both scores
  stay in the job's one cache file beside a score from before it held
  one entry per kind."""
  from dip_jax import config_lib  # pylint: disable=g-import-not-at-top
  from dip_jax import data as data_lib  # pylint: disable=g-import-not-at-top
  from dip_jax import metrics  # pylint: disable=g-import-not-at-top
  config = config_lib.task_config("sr.py", "quick")
  config.sample_size = 64
  problem = data_lib.build_problem(config)
  nearest = np.repeat(np.repeat(problem.observed, 4, 0), 4, 1)
  floor = metrics.psnr(nearest, problem.clean)
  cache = tmp_path / paper_tables.CLASSICAL_FILE
  cache.write_text(json.dumps({"kind": "CBM3D", "psnr": 1.0}))
  scores = {k: classical.score(k, config, str(tmp_path))
            for k in ("TV", "bicubic")}
  for kind, out in scores.items():
    assert out["psnr"] > floor + 1.0, (kind, out["psnr"], floor)
    assert out["versions"] == {}  # nothing outside the JAX stack
  stored = json.loads(cache.read_text())
  assert stored == {"CBM3D": {"kind": "CBM3D", "psnr": 1.0}, **scores}
  assert classical.score("CBM3D", config, str(tmp_path))["psnr"] == 1.0
  denoise = config_lib.task_config("denoise.py", "quick")
  denoise.sample_size = 32
  with pytest.raises(InputError, match="no bicubic baseline"):
    classical.score("bicubic", denoise, str(tmp_path / "d"))


def test_early_stopping_column_where_the_runs_stopped_early(tmp_path,
                                                           real_summary):
  """Denoising stops early: its detected iterate (the summary's own PSNR)
  is a column after the fixed-step ones; a table without it has none."""
  stopped = results.Summary.from_json(real_summary)
  stopped.early_stopping, stopped.psnr = "wmv", 27.5
  config, jobs, workdir = _sweep_of(tmp_path, "denoise_cset9", ["x.png"],
                                    [stopped])
  row = paper_tables.row_of("denoise_cset9", config, jobs[0], workdir)
  assert row["stopped"] == 27.5
  row["methods"] = {"sgld": (26.0, 9.0)}
  text = paper_tables.markdown("denoise_cset9", [row], True, 2, "cmd",
                               ["sgld"])
  lines = text.splitlines()
  assert "averaged | + early stopping (no oracle) | SGLD | TV |" in lines[4]
  x_row = next(l for l in lines if l.startswith("| x |"))
  assert x_row.split(" | ")[5] == "27.50"
  assert "the discrepancy stop" in text
  plain = dict(row, stopped=None)
  assert "early stopping" not in paper_tables.markdown(
      "denoise_cset9", [plain], True, 2, "cmd")
