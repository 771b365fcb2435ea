"""benchmarks/time_to_quality.py: a --tiny run's record, its seconds-to-reach
against its own curves, the torch downsampler against dip_jax's, and the
time_to_quality renderer and plot on a synthetic record."""

import importlib.util
import os
import sys

import numpy as np
import pytest

from dip_jax.errors import InputError
from dip_jax.io import curves
from dip_jax.io import records
from dip_jax.io import result_tables
from dip_jax.io import results_pages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import time_to_quality as ttq  # pylint: disable=wrong-import-position

HAS_TORCH = importlib.util.find_spec("torch") is not None
ROW_KEYS = {"task", "image", "split", "recipe", "steps", "best_psnr",
            "best_seconds", "final_psnr", "answer_psnr", "seconds_total",
            "target_psnr", "reached_target", "seconds_to_target", "ratio",
            "answer_reaches_target", "answer_ratio",
            "curve_step", "curve_seconds", "curve_psnr"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  """One --tiny run (the torch fits only where torch is installed)."""
  out = tmp_path_factory.mktemp("ttq")
  ttq.main(["--tiny", f"--record={out}"]
           + ([] if HAS_TORCH else ["--no_official"]))
  # One record per task, each holding that task's rows only.
  recs = [records.load(f"time_to_quality_{t}", str(out))
          for t in ("denoise", "sr", "restore")]
  assert all(len(r) == 1 for r in recs)
  assert [{row["task"] for row in r["rows"]} for (r,) in recs] == [
      {"denoise"}, {"sr"}, {"restore"}]
  assert [list(r["config"]["official_settings"]) for (r,) in recs] == [
      ["denoise"], ["sr"], ["restore"]]
  return {**recs[0][0], "rows": [row for (r,) in recs for row in r["rows"]]}


def test_tiny_record_has_a_row_per_task_and_recipe_with_its_curve(tiny):
  rows = tiny["rows"]
  recipes = ["official", "quick"] if HAS_TORCH else ["quick"]
  assert [(r["task"], r["recipe"]) for r in rows] == [
      (t, rc) for t in ("denoise", "sr", "restore") for rc in recipes]
  assert tiny["command"].startswith(
      "python benchmarks/time_to_quality.py --tiny")
  for r in rows:
    assert ROW_KEYS <= set(r), r["recipe"]
    assert r["split"] == "sample" and r["image"] == "built-in sample"
    steps, secs, psnr = r["curve_step"], r["curve_seconds"], r["curve_psnr"]
    assert len(steps) == len(secs) == len(psnr) >= 2
    assert all(np.diff(steps) > 0) and all(np.diff(secs) > 0)
    # Every 5 steps up to the 30th (dip_jax's early stop may end sooner).
    assert steps[0] == 5 and steps[-1] == r["steps"] <= 30
    assert r["best_psnr"] == max(psnr) and r["final_psnr"] == psnr[-1]
    assert r["seconds_total"] >= secs[-1] > 0
    assert 5 < r["answer_psnr"] < 60


def test_seconds_to_reach_agree_with_the_curves(tiny):
  pytest.importorskip("torch")
  by_task = {r["task"]: r for r in tiny["rows"] if r["recipe"] == "official"}
  for r in tiny["rows"]:
    official = by_task[r["task"]]
    target = max(official["curve_psnr"])
    assert r["target_psnr"] == target
    crossed = [s for s, p in zip(r["curve_seconds"], r["curve_psnr"])
               if p >= target]
    # "never" exactly when the curve stays below the target, else the
    # first logged second at or above it.
    assert r["reached_target"] == bool(crossed)
    assert r["seconds_to_target"] == (crossed[0] if crossed else None)
    # What a user gets: the answer itself against the target, and
    # the whole call over the official's seconds to its best.
    assert r["answer_reaches_target"] == (r["answer_psnr"] >= target)
    if r["recipe"] == "official":
      assert r["seconds_to_target"] == r["best_seconds"]
      assert r["ratio"] is None and r["answer_ratio"] is None
    else:
      assert r["answer_ratio"] == pytest.approx(
          r["seconds_total"] / official["best_seconds"])
      if crossed:
        assert r["ratio"] == pytest.approx(crossed[0]
                                           / official["best_seconds"])


def test_official_sr_fit_learns_the_image(tiny):
  pytest.importorskip("torch")
  (r,) = [r for r in tiny["rows"]
          if (r["task"], r["recipe"]) == ("sr", "official")]
  # From a near-constant output towards the image, through the torch
  # downsampler: a broken loss, operator or optimiser leaves it flat (it
  # gained 3 dB in the tiny run's 30 steps).
  assert r["curve_psnr"][-1] > r["curve_psnr"][0] + 1


def test_seconds_to_reach_is_the_first_crossing():
  secs, psnr = [1.0, 2.0, 3.0], [10.0, 12.0, 11.0]
  assert ttq.seconds_to_reach(secs, psnr, 11.5) == 2.0
  assert ttq.seconds_to_reach(secs, psnr, 10.0) == 1.0
  assert ttq.seconds_to_reach(secs, psnr, 12.01) is None


def test_torch_downsampler_is_dip_jax_lanczos2_operator():
  torch = pytest.importorskip("torch")
  import torch_skip  # pylint: disable=g-import-not-at-top
  from dip_jax import operators  # pylint: disable=g-import-not-at-top
  from dip_jax.nets import resampling  # pylint: disable=g-import-not-at-top
  x = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
  want = np.asarray(operators.downsample(4)(x[None]))[0]
  down = torch_skip.SeparableDownsample(resampling.lanczos_taps(4), 4, 3)
  got = down(torch.from_numpy(x).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
  assert got.shape == want.shape == (8, 8, 3)
  np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


def synthetic(tmp_path, rows):
  rec = records.make("time_to_quality", rows, config={}, seeds=[0],
                     argv=["benchmarks/time_to_quality.py", "--record"])
  records.write(rec, str(tmp_path))
  return rec


def row(image, recipe, best, reach, ratio, split="eval"):
  official = recipe == "official"
  return {"task": "denoise", "image": image, "split": split,
          "recipe": recipe, "best_psnr": best, "final_psnr": best - 1,
          "answer_psnr": best - 0.5, "seconds_total": 100.0,
          "seconds_to_target": reach, "ratio": ratio,
          "answer_reaches_target": None if official else best - 0.5 >= 30,
          "answer_ratio": None if official else 100.0 / 60.0,
          "curve_seconds": [1.0, 10.0], "curve_psnr": [20.0, best],
          "target_psnr": 30.0}


def test_renderer_takes_medians_over_evaluation_images(tmp_path,
                                                       monkeypatch):
  synthetic(tmp_path, [
      row("a", "official", 30.0, 50.0, None),
      row("b", "official", 31.0, 70.0, None),
      row("c", "official", 29.0, 60.0, None),
      row("a", "quick", 30.5, 5.0, 0.1),
      row("b", "quick", 29.0, None, None),
      row("c", "quick", 29.5, None, None),
      # A tuning image: in the record, not in the table's medians.
      row("t", "quick", 40.0, 1.0, 0.01, split="tune")])
  monkeypatch.setitem(results_pages.RENDERERS, "time_to_quality",
                      result_tables.time_to_quality)
  text = results_pages.render_block("time_to_quality", str(tmp_path))
  lines = text.splitlines()
  assert ("| denoise | official | 3 | 30.00 | 29.00 | 29.50 | 60.0 | 3 / 3 "
          "|  |  |  |  | 100 |") in lines
  # Two of three images never reach the official best: the median is
  # "never", for the seconds and the ratio alike. Image a's answer (30.0)
  # reaches the target, b's and c's do not. The answers minus the target
  # (30.0): 0.0, -1.5, -1.0, whose median is -1.00.
  assert ("| denoise | quick | 3 | 29.50 | 28.50 | 29.00 | never | 1 / 3 | "
          "never | 1 / 3 | -1.00 | 1.67 | 100 |") in lines
  assert "`python benchmarks/time_to_quality.py --record`" in text


def test_renderer_refuses_a_record_without_evaluation_rows(tmp_path,
                                                           monkeypatch):
  synthetic(tmp_path, [row("s", "quick", 30.0, 1.0, 0.5, split="sample")])
  monkeypatch.setitem(results_pages.RENDERERS, "time_to_quality",
                      result_tables.time_to_quality)
  with pytest.raises(InputError, match="no evaluation rows"):
    results_pages.render_block("time_to_quality", str(tmp_path))


def test_renderer_is_registered_only_with_a_committed_record():
  # A page block without records fails --check: the renderer joins
  # RENDERERS with the first real record (as aseqdip_denoise waits).
  for task in ttq.OFFICIAL:
    name = f"time_to_quality_{task}"
    assert (name in results_pages.RENDERERS) == bool(records.load(name))


def test_plot_writes_a_png_of_the_curves(tmp_path):
  pytest.importorskip("matplotlib")
  rec = synthetic(tmp_path, [row("a", "official", 30.0, 5.0, None),
                             row("a", "quick", 31.0, 2.0, 0.4)])
  path = str(tmp_path / "ttq.png")
  assert curves.write_time_to_quality(path, rec)
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert not curves.write_time_to_quality(str(tmp_path / "no.png"),
                                          {"rows": []})
  assert not os.path.exists(tmp_path / "no.png")


def test_splits_keep_tuning_images_out_of_evaluation(tmp_path):
  for folder, names in (("denoise9", ("House.png", "kodim01.png")),
                        ("set14", ("zebra.png", "baboon.png")),
                        ("kodak24", ("kodim01.png", "kodim05.png",
                                     "kodim12.png", "kodim13.png"))):
    (tmp_path / folder).mkdir()
    for n in names:
      (tmp_path / folder / n).write_bytes(b"")
  names = lambda task, split: [os.path.basename(p) for p in
                               ttq.image_paths(task, split, str(tmp_path))]
  assert names("denoise", "eval") == ["House.png", "kodim01.png"]
  assert names("sr", "eval") == ["baboon.png", "zebra.png"]
  # The CBM3D set's Kodak files are evaluated, never tuned on.
  assert names("restore", "tune") == ["kodim05.png", "kodim13.png"]
