"""experiments/overfitting.py end to end at a tiny size: one fit, the three
snapshots, the figure and the numbers."""

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))

import overfitting  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_overfitting_writes_figure_and_finite_numbers(tmp_path):
  out = overfitting.main(["--out", str(tmp_path), "--crop", "32",
                          "--panels", "20,100,200", "--width", "8"])
  assert (tmp_path / "overfitting.png").stat().st_size > 0
  with open(tmp_path / "overfitting.json") as f:
    saved = json.load(f)
  assert saved == json.loads(json.dumps(out))
  assert saved["steps"] == 200
  assert [p["step"] for p in saved["panels"]] == [20, 100, 200]
  numbers = [saved["jpeg_psnr"], saved["oracle_peak_psnr"],
             saved["detected_psnr"], saved["final_psnr"]]
  numbers += [p[k] for p in saved["panels"] for k in ("psnr", "loss")]
  assert np.all(np.isfinite(numbers))
  assert 1 <= saved["oracle_peak_step"] <= 200
  # The snapshot is the run's own answer at that step: its PSNR is the
  # curve's, so the last panel is the final PSNR.
  assert abs(saved["panels"][-1]["psnr"] - saved["final_psnr"]) < 0.01
