"""The results pages agree with the committed records, and say so loudly
when they do not; records round-trip; claims carry the right interval."""

import json
import math
import os
import shutil
import sys
import types

import pytest

from dip_jax.errors import InputError
from dip_jax.io import claims
from dip_jax.io import records
from dip_jax.io import result_tables
from dip_jax.io import results_pages

ROOT = records.ROOT


def test_committed_pages_match_committed_records():
  assert results_pages.update(ROOT, check=True) == []


def test_every_renderer_has_a_committed_record_and_a_page_block():
  pages = "".join(open(p).read() for p in results_pages.pages(ROOT))
  for name in results_pages.RENDERERS:
    assert records.load(name), name
    assert f"<!-- results:{name} -->" in pages, name


def _copy(tmp_path):
  """A repository of its own in tmp_path: docs/performance.md + results/."""
  shutil.copytree(os.path.join(ROOT, "results"), tmp_path / "results")
  (tmp_path / "docs").mkdir()
  shutil.copy(os.path.join(ROOT, "docs", "performance.md"),
              tmp_path / "docs" / "performance.md")
  return str(tmp_path), str(tmp_path / "results")


def test_a_changed_number_makes_the_check_fail(tmp_path, capsys):
  root, results = _copy(tmp_path)
  assert results_pages.update(root, results, check=True) == []
  folder = os.path.join(results, "step_speed")
  path = os.path.join(folder, sorted(os.listdir(folder))[-1])
  with open(path) as f:
    rec = json.load(f)
  rec["rows"][0]["s_per_step"] *= 1.5
  with open(path, "w") as f:
    json.dump(rec, f)
  page = tmp_path / "docs" / "performance.md"
  before = page.read_text()
  assert results_pages.update(root, results, check=True) == [
      "docs/performance.md: step_speed"]
  assert results_pages.main(["--check", "--root", root]) == 1
  assert "docs/performance.md: step_speed" in capsys.readouterr().err
  assert page.read_text() == before  # --check writes nothing
  # Rendering brings the page back in line with the records.
  assert results_pages.main(["--root", root]) == 0
  assert page.read_text() != before
  assert results_pages.update(root, results, check=True) == []


def test_blocks_without_renderer_or_record_fail_loudly(tmp_path, capsys):
  root, results = _copy(tmp_path)
  page = tmp_path / "docs" / "extra.md"
  page.write_text("<!-- results:no_such_table -->\n<!-- /results:no_such_"
                  "table -->\n")
  with pytest.raises(InputError, match="docs/extra.md.*no renderer.*"
                     "no_such_table"):
    results_pages.update(root, results, check=True)
  assert results_pages.main(["--check", "--root", root]) == 2
  assert "no_such_table" in capsys.readouterr().err
  page.write_text("<!-- results:quickstart -->\n<!-- /results:quickstart "
                  "-->\n")
  shutil.rmtree(os.path.join(results, "quickstart"))
  with pytest.raises(InputError, match="extra.md.*'quickstart' has no record"):
    results_pages.update(root, results, check=True)
  page.write_text("<!-- results:step_speed -->\nno closing marker\n")
  with pytest.raises(InputError, match="step_speed.*no closing"):
    results_pages.update(root, results, check=True)


def test_a_record_round_trips_as_strict_sorted_json(tmp_path):
  rows = [{"image": "a.png", "seed": 0, "method": "dip", "psnr": 30.5},
          {"image": "b.png", "seed": 0, "method": "dip", "psnr": math.nan}]
  rec = records.make("demo", rows, config={"steps": 3}, seeds=[0],
                     argv=[os.path.join(ROOT, "benchmarks", "x.py"), "--a"])
  assert rec["command"] == "python benchmarks/x.py --a"
  assert set(rec["versions"]) >= {"python", "jax", "jaxlib", "flax", "optax",
                                  "numpy"}
  assert rec["device"]["cores"] == os.cpu_count()
  path = records.write(rec, str(tmp_path))
  assert path == str(tmp_path / "demo" / f"{rec['run_id']}.json")
  text = open(path).read()
  assert "NaN" not in text
  data = json.loads(text)
  assert list(data) == sorted(data)
  assert data["rows"][1]["psnr"] is None
  assert records.load("demo", str(tmp_path)) == [data]
  assert records.load("none_yet", str(tmp_path)) == []
  with pytest.raises(InputError, match="record name"):
    records.make("../x", rows)


def test_a_record_names_the_optional_packages_its_process_imported(
    monkeypatch):
  """bm3d's version decides the CBM3D column: a process that imported it
  names it; one that did not, does not."""
  monkeypatch.delitem(sys.modules, "bm3d", raising=False)
  assert "bm3d" not in records.versions()
  monkeypatch.setitem(sys.modules, "bm3d", types.ModuleType("bm3d"))
  monkeypatch.setattr(records.importlib.metadata, "version",
                      lambda name: f"{name}-v")
  assert records.versions()["bm3d"] == "bm3d-v"


def test_record_flag_writes_only_when_given(tmp_path):
  assert records.record(None, "demo", []) is None
  path = records.record(str(tmp_path), "demo", [{"x": 1}], argv=["s.py"])
  assert records.load("demo", str(tmp_path))[0]["rows"] == [{"x": 1}]
  assert os.path.exists(path)


# Hand-checked: differences 1, 1.5, 0.5, 2 -> mean 1.25, sd sqrt(1.25/3) =
# 0.645497, se 0.322749, t(0.975, 3) = 3.182446: half-width 1.027137.
A = [30.0, 31.0, 32.0, 33.0]
B = [29.0, 29.5, 31.5, 31.0]


def test_paired_comparison_against_a_hand_checked_case():
  c = claims.compare((A, B))
  assert c.n == 4
  assert c.mean_a == pytest.approx(31.5)
  assert c.sd_a == pytest.approx(math.sqrt(5 / 3))
  assert c.mean_b == pytest.approx(30.25)
  assert c.sd_b == pytest.approx(math.sqrt(4.25 / 3))
  assert c.diff_mean == pytest.approx(1.25)
  assert c.ci == pytest.approx((0.222863, 2.277137), abs=1e-5)
  assert claims.verdict(c, "DIP", "TV") == (
      "DIP beats TV by 1.25 dB (95 % CI [0.22, 2.28], 4 pairs)")
  assert claims.verdict(claims.compare((B, A)), "TV", "DIP") == (
      "DIP beats TV by 1.25 dB (95 % CI [0.22, 2.28], 4 pairs)")
  assert claims.summary(c, "DIP", "TV").startswith(
      "DIP 31.50 ± 1.29 dB, TV 30.25 ± 1.19 dB: DIP beats")
  even = claims.compare(([1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 1.5, 0.5]))
  assert claims.verdict(even, "A", "B").startswith(
      "no difference between A and B: the 95 % interval [")
  assert "holds 0" in claims.verdict(even, "A", "B")
  # Its ends carry their signs, as the tables' do; one that rounds to 0
  # reads "0.00", not "-0.00" (claims.signed).
  near = claims.compare(([0.2, 0.1, 0.15, -0.05], [0.0, 0.0, 0.0, 0.0]))
  assert "interval [-0.07, +0.27] dB of A - B" in claims.verdict(near, "A",
                                                                   "B")


def test_pairs_from_record_rows():
  rows = [{"image": f"i{k}", "seed": 0, "method": m, "psnr": v}
          for m, vals in (("dip", A), ("tv", B)) for k, v in enumerate(vals)]
  assert claims.pairs(rows[::-1], "dip", "tv", "psnr") == (A, B)
  with pytest.raises(InputError, match="not paired"):
    claims.pairs(rows[:-1], "dip", "tv", "psnr")
  with pytest.raises(InputError, match="at least 2 pairs"):
    claims.compare(([1.0], [0.0]))


def test_t_quantile_without_scipy_matches_scipy(monkeypatch):
  stats = pytest.importorskip("scipy.stats")
  monkeypatch.setitem(sys.modules, "scipy", None)  # import fails
  for df in list(range(1, 70)) + [100, 1000]:
    assert claims.t975(df) == pytest.approx(stats.t.ppf(0.975, df),
                                            abs=2e-4), df


def test_experiments_take_record(tmp_path, monkeypatch):
  monkeypatch.syspath_prepend(os.path.join(ROOT, "experiments"))
  import common  # pylint: disable=g-import-not-at-top
  parser = common.parser("demo", "An experiment.")
  assert parser.parse_args([]).record is None
  assert parser.parse_args(["--record"]).record == records.RESULTS_DIR
  args = parser.parse_args(["--record", str(tmp_path), "--seed", "3"])
  assert common.write_record(args, "demo", [{"psnr": 1.0}]) is not None
  (rec,) = records.load("demo", str(tmp_path))
  assert rec["seeds"] == [3] and rec["config"]["seed"] == 3
  assert rec["rows"] == [{"psnr": 1.0}] and "record" not in rec["config"]
  assert common.write_record(parser.parse_args([]), "demo", []) is None


def _aseq_record(aseq: list, dip: list) -> dict:
  """An aseqdip_denoise record: images i0, i1 x seeds 0, 1, the PSNRs in
  that order for each method."""
  keys = [(f"i{k // 2}", k % 2) for k in range(len(aseq))]
  rows = [{"image": image, "seed": seed, "method": method, "psnr": v,
           "ssim": v / 50, "steps": 2000 if method == "aseqdip"
           else 1500, "seconds": 60.0, "device": "cpu"}
          for method, vals in (("aseqdip", aseq), ("dip", dip))
          for (image, seed), v in zip(keys, vals)]
  return records.make("aseqdip_denoise", rows, config={"sigma": 25},
                      seeds=[0, 1], command="python -m dip_jax.cli.sweep x")


@pytest.fixture
def aseq_table(monkeypatch):
  """The aseqdip_denoise renderer registered (a no-op once it is)."""
  monkeypatch.setitem(results_pages.RENDERERS, "aseqdip_denoise",
                      result_tables.aseqdip_denoise)


@pytest.mark.usefixtures("aseq_table")
def test_aseqdip_table_gives_means_per_image_and_the_paired_verdict(
    tmp_path):
  # A and B above: the hand-checked paired case (1.25 dB, CI [0.22, 2.28]).
  records.write(_aseq_record(A, B), str(tmp_path))
  text = results_pages.render_block("aseqdip_denoise", str(tmp_path))
  lines = text.splitlines()
  # (No seconds: a sweep's jobs are no timing.)
  assert "| aSeqDIP | 4 | 31.50 ± 1.29 | 0.630 ± 0.026 | 2000 |" in lines
  assert "| DIP | 4 | 30.25 ± 1.19 | 0.605 ± 0.024 | 1500 |" in lines
  # Per image, the mean over its two seeds: i0 30.5 vs 29.25, i1 32.5 vs
  # 31.25.
  assert "| i0 | 30.50 | 29.25 | +1.25 |" in lines
  assert "| i1 | 32.50 | 31.25 | +1.25 |" in lines
  assert ("Paired over the 4 (image, seed) pairs, PSNR aSeqDIP − DIP: "
          "+1.25 dB (sd 0.65, 95 % CI [+0.22, +2.28]). Verdict: aSeqDIP "
          "beats DIP by 1.25 dB (95 % CI [0.22, 2.28], 4 pairs).") in lines
  assert "`python -m dip_jax.cli.sweep x`" in lines[-1]
  assert [claims.signed(v) for v in (-0.004, 0.004, -0.006)] == [
      "0.00", "0.00", "-0.01"]  # no "-0.00" in a table
  # Worse, and a difference whose interval holds 0, in words.
  records.write(_aseq_record(B, A), str(tmp_path / "worse"))
  assert "DIP beats aSeqDIP by 1.25 dB" in results_pages.render_block(
      "aseqdip_denoise", str(tmp_path / "worse"))
  records.write(_aseq_record([1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 1.5, 0.5]),
                str(tmp_path / "even"))
  even = results_pages.render_block("aseqdip_denoise", str(tmp_path / "even"))
  assert ("Verdict: no difference between aSeqDIP and DIP: the 95 % "
          "interval [") in even
  assert "holds 0 (4 pairs)." in even


@pytest.mark.usefixtures("aseq_table")
def test_aseqdip_table_refuses_unpaired_runs(tmp_path):
  rec = _aseq_record(A, B)
  rec["rows"] = rec["rows"][:-1]  # DIP's last (image, seed) is missing
  records.write(rec, str(tmp_path))
  with pytest.raises(InputError, match="not paired"):
    results_pages.render_block("aseqdip_denoise", str(tmp_path))


def test_several_methods_each_paired_with_the_baseline(tmp_path,
                                                      monkeypatch):
  # Two successors against DIP on the hand-checked pairs: one above (A
  # against B: +1.25 dB, CI [0.22, 2.28]) and one whose interval holds 0.
  even = [1.0, 0.0, 2.0, 0.0]
  runs = {"sgld": A, "deepred": [b + e for b, e in zip(B, even)], "dip": B}
  rows = [{"image": f"i{k // 2}", "seed": k % 2, "method": m, "psnr": v,
           "ssim": v / 50, "steps": 1000, "device": "cpu"}
          for m, vals in runs.items() for k, v in enumerate(vals)]
  records.write(records.make("succ", rows, config={}, seeds=[0, 1],
                             command="python -m dip_jax.cli.sweep x"),
                str(tmp_path))
  monkeypatch.setitem(results_pages.RENDERERS, "succ", result_tables.against(
      ("dip", "DIP"), ("sgld", "SGLD"), ("deepred", "DeepRED"),
      also=(("sgld", "deepred"),)))
  lines = results_pages.render_block("succ", str(tmp_path)).splitlines()
  # Methods in the order given, the baseline last; per image the mean over
  # seeds and each difference from DIP (i0: deepred 29.25 + 0.5).
  assert [l.split(" | ")[0] for l in lines[2:5]] == [
      "| SGLD", "| DeepRED", "| DIP"]
  assert "| i0 | 30.50 | 29.75 | 29.25 | +1.25 | +0.50 |" in lines
  assert ("Verdict: SGLD beats DIP by 1.25 dB (95 % CI [0.22, 2.28], 4 "
          "pairs).") in " ".join(lines)
  assert "Verdict: no difference between DeepRED and DIP" in " ".join(lines)
  # `also`: SGLD against DeepRED, differences 1 - 1, 1.5 - 0, 0.5 - 2, 2 - 0.
  assert ("PSNR SGLD − DeepRED: +0.50 dB" in " ".join(lines)
          and "no difference between SGLD and DeepRED" in " ".join(lines))


_SWEEP_CONFIG = '''
import ml_collections
from dip_jax.cli import hyper
from dip_jax.cli import sweep

def get_config(arg=None):
  c = ml_collections.ConfigDict({"method": "dip", "image": "", "seed": 0})
  c.sweep = sweep.sweep_block(
      images=("*.png",), data_dir=DATA,
      settings=(hyper.named("dip"), hyper.named("aseqdip",
                                                {"method": "aseqdip"})),
      seeds=(0, 1))
  return c
'''


@pytest.mark.usefixtures("aseq_table")
def test_record_sweep_writes_one_record_of_a_finished_sweep(
    tmp_path, monkeypatch, capsys):
  monkeypatch.syspath_prepend(os.path.join(ROOT, "experiments"))
  import record_sweep  # pylint: disable=g-import-not-at-top
  data, work, out = tmp_path / "data", tmp_path / "sweep", tmp_path / "res"
  data.mkdir()
  (data / "i0.png").write_bytes(b"")  # only their names are read
  config = tmp_path / "sweep_config.py"
  config.write_text(_SWEEP_CONFIG.replace("DATA", repr(str(data))))
  args = [f"--config={config}", f"--workdir={work}",
          "--name=aseqdip_denoise", f"--results={out}"]
  psnr = {("aseqdip", 0): A[0], ("aseqdip", 1): A[1], ("dip", 0): B[0],
          ("dip", 1): B[1]}
  for (method, seed), value in list(psnr.items())[:3]:  # one job not done
    job = work / method / "i0" / f"seed{seed}"
    job.mkdir(parents=True)
    (job / "summary.json").write_text(json.dumps(
        {"psnr": value, "ssim": 0.8, "steps": 7, "seconds": 2.5,
         "device": "cpu"}))
  assert record_sweep.main(args) == 2
  assert "3 of 4 jobs done" in capsys.readouterr().err
  assert records.load("aseqdip_denoise", str(out)) == []
  job = work / "dip" / "i0" / "seed1"
  job.mkdir(parents=True)
  (job / "summary.json").write_text(json.dumps(
      {"psnr": psnr["dip", 1], "ssim": None, "steps": 7, "seconds": 2.5,
       "device": "cpu"}))
  assert record_sweep.main(args) == 0
  (rec,) = records.load("aseqdip_denoise", str(out))
  assert sorted((r["method"], r["seed"], r["psnr"]) for r in rec["rows"]) \
      == sorted((m, s, v) for (m, s), v in psnr.items())
  assert {r["image"] for r in rec["rows"]} == {"i0"}
  assert [r["ssim"] for r in rec["rows"] if r["seed"] == 1
          and r["method"] == "dip"] == [None]
  assert set(rec["rows"][0]) == {"image", "seed", "method", "psnr", "ssim",
                                 "steps", "seconds", "device"}
  assert rec["command"].startswith(
      f"python -m dip_jax.cli.sweep --config={config} --workdir={work} && ")
  assert rec["seeds"] == [0, 1] and rec["config"]["sweep"]["seeds"] == [0, 1]
  assert "aSeqDIP" in results_pages.render_block("aseqdip_denoise", str(out))


def test_record_sweep_adds_a_classical_baseline_per_image_and_seed(
    tmp_path, monkeypatch, capsys):
  """--classical solves the baseline once per (image, seed) on the job's
  own observation (stood in for here: experiments/classical.py's solve is
  tested in test_paper_tables.py) and pairs it with the sweep's method."""
  monkeypatch.syspath_prepend(os.path.join(ROOT, "experiments"))
  import record_sweep  # pylint: disable=g-import-not-at-top
  data, work, out = tmp_path / "data", tmp_path / "sweep", tmp_path / "res"
  data.mkdir()
  (data / "i0.png").write_bytes(b"")
  config = tmp_path / "sweep_config.py"
  config.write_text(_SWEEP_CONFIG.replace("DATA", repr(str(data))))
  for method in ("aseqdip", "dip"):
    for seed in (0, 1):
      job = work / method / "i0" / f"seed{seed}"
      job.mkdir(parents=True)
      (job / "summary.json").write_text(json.dumps(
          {"psnr": 25.0 + seed, "ssim": 0.8, "steps": 7, "seconds": 2.5,
           "device": "cpu"}))
  solved = []

  def fake_score(kind, job_config, job_dir):
    solved.append((kind, job_config.seed, os.path.relpath(job_dir, work)))
    return {"psnr": 24.0 + job_config.seed, "ssim": 0.7, "seconds": 1.0,
            "versions": {"bm3d": "9.9"}}

  monkeypatch.setattr(record_sweep.classical, "score", fake_score)
  args = [f"--config={config}", f"--workdir={work}", "--name=pair",
          f"--results={out}", "--classical=CBM3D"]
  assert record_sweep.main(args) == 0
  # Once per (image, seed), in the first setting's job folder.
  assert solved == [("CBM3D", 0, "dip/i0/seed0"),
                    ("CBM3D", 1, "dip/i0/seed1")]
  (rec,) = records.load("pair", str(out))
  base = [r for r in rec["rows"] if r["method"] == "cbm3d"]
  assert [(r["seed"], r["psnr"]) for r in base] == [(0, 24.0), (1, 25.0)]
  assert rec["command"].endswith("--classical=CBM3D")
  assert rec["versions"]["bm3d"] == "9.9"  # what solved the cached scores
  text = "\n".join(result_tables.paired_methods(
      ("dip", "DIP"), ("cbm3d", "CBM3D"))([rec]))
  assert "PSNR DIP − CBM3D: +1.00 dB" in text
  # Several baselines, each once per (image, seed), each its own method.
  solved.clear()
  assert record_sweep.main(args[:-1] + ["--classical=CBM3D,TV",
                                        "--name=pair2"]) == 0
  assert [k for k, *_ in solved] == ["CBM3D", "CBM3D", "TV", "TV"]
  (rec,) = records.load("pair2", str(out))
  assert sorted({r["method"] for r in rec["rows"]}) == [
      "aseqdip", "cbm3d", "dip", "tv"]
  with pytest.raises(SystemExit):
    record_sweep.main(args[:-1] + ["--classical=CBM3D,nope"])
  assert "no baseline 'nope'" in capsys.readouterr().err
  # Without its package the record is refused in one line.
  monkeypatch.setattr(record_sweep.classical, "score",
                      lambda *a: {"error": "bm3d not installed"})
  assert record_sweep.main(args) == 2
  assert "CBM3D: bm3d not installed" in capsys.readouterr().err
