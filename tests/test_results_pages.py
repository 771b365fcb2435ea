"""The results pages agree with the committed records, and say so loudly
when they do not; records round-trip; claims carry the right interval."""

import json
import math
import os
import shutil
import sys

import pytest

from dip_jax import claims
from dip_jax import records
from dip_jax import results_pages
from dip_jax.errors import InputError

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
