"""The scripts of examples/ run at --tiny size and do what they say.

Each script is loaded with runpy (as a file, the way a user runs it, not
as a package module) and its `main(argv)` called in this process, so the
tests' compilation cache and LLVM level (conftest.py) apply to it. Each
check reads what the script wrote, not only what it returned.

The PSNR margins were measured at --tiny (jax 0.10.2, CPU) and are set at
about half of what was measured; the numbers are in the comments. A fit's
exact numbers move with XLA's rounding, so none is held to more than that.
Each script costs one or two compilations (~10-40 s on 2 busy cores).
"""

import json
import os
import runpy

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(name, out, *extra):
  """examples/<name>.py --tiny --out <out>: (its returned summary, the
  summary.json it wrote)."""
  script = runpy.run_path(os.path.join(ROOT, "examples", f"{name}.py"))
  returned = script["main"](["--tiny", "--out", str(out), *extra])
  with open(out / "summary.json") as f:
    written = json.load(f)
  return returned, written


def _png(path, shape):
  """The picture at `path`, checked to exist with `shape` (H, W, C)."""
  assert path.exists(), path
  pixels = np.asarray(Image.open(path))
  assert pixels.shape == shape, (path, pixels.shape)
  # Not a flat image: a NaN output is written as one value everywhere.
  assert pixels.std() > 5, (path, pixels.std())
  return pixels


def _finite_scores(summary):
  for key, value in summary.items():
    if isinstance(value, float):
      assert np.isfinite(value), (key, value)


def test_denoise(tmp_path):
  returned, summary = _run("denoise", tmp_path)
  assert returned == summary
  _finite_scores(summary)
  assert summary["shape"] == [32, 32, 3] and summary["steps"] == 400
  for name in ("noisy", "denoised"):
    _png(tmp_path / f"{name}.png", (32, 32, 3))
  assert (tmp_path / "comparison.png").exists()
  # Measured: noisy 20.71 dB, DIP 24.44 dB (+3.7 dB) after 400 steps.
  assert summary["psnr_dip"] > summary["psnr_noisy"] + 2, summary
  assert summary["ssim_dip"] > 0.8, summary  # measured 0.93


def test_inpaint(tmp_path):
  _, summary = _run("inpaint", tmp_path)
  _finite_scores(summary)
  masked = _png(tmp_path / "masked.png", (32, 32, 3))
  # The hole in the middle (8 x 8 at 32 px) is all grey in masked.png.
  np.testing.assert_array_equal(masked[12:20, 12:20], 128)
  for name in ("dip", "tv"):
    _png(tmp_path / f"{name}.png", (32, 32, 3))
  # Half the pixels at random, minus the hole: measured 45 % kept.
  assert 0.35 < summary["kept_fraction"] < 0.5
  # Measured: masked (grey holes) 13.21 dB, TV 17.56 dB, DIP 19.75 dB.
  assert summary["psnr_tv"] > summary["psnr_masked"] + 2, summary
  assert summary["psnr_dip"] > summary["psnr_tv"] + 1, summary


def test_super_resolution(tmp_path):
  _, summary = _run("super_resolution", tmp_path)
  _finite_scores(summary)
  assert summary["lowres_shape"] == [16, 16, 3]
  _png(tmp_path / "lowres.png", (16, 16, 3))
  for name in ("bicubic", "dip"):
    _png(tmp_path / f"{name}.png", (64, 64, 3))
  # Measured (Y-PSNR, border 4): bicubic 18.27 dB, DIP 19.25 dB (+0.98) on
  # one install, DIP 19.10 (+0.83) on another (results/examples/).
  assert summary["psnr_dip"] > summary["psnr_bicubic"] + 0.5, summary
  # DIP explains its data: its answer downsampled is the input to 28.9 dB.
  assert summary["psnr_dip_lowres"] > 25, summary


def test_custom_operator(tmp_path):
  _, summary = _run("custom_operator", tmp_path)
  _finite_scores(summary)
  assert summary["observed_shape"] == [32, 16, 3]  # every other column
  for name in ("observed", "dip", "tv"):
    _png(tmp_path / f"{name}.png", (32, 32, 3))
  # The dot-product test of the operator's adjoint: measured 8e-7.
  assert summary["adjoint_rel_error"] < 1e-5
  # Measured: the columns repeated 16.66 dB, TV 20.22 dB, DIP 18.73 dB
  # (DIP, at 400 steps of a tiny net, is still rising here).
  assert summary["psnr_tv"] > summary["psnr_naive"] + 2, summary
  assert summary["psnr_dip"] > summary["psnr_naive"] + 1, summary


def test_custom_operator_adjoint_check_catches_a_wrong_adjoint():
  """The script's dot-product test is not vacuous: an adjoint off by a
  factor 2 (a typical slip in a hand-written one) gives an error of 1."""
  script = runpy.run_path(os.path.join(ROOT, "examples",
                                       "custom_operator.py"))
  shape = (8, 8, 1)
  good = script["make_operator"](shape, 3)
  assert script["adjoint_error"](good, shape) < 1e-5

  class TwiceTheAdjoint:
    """Duck-types what adjoint_error reads: A x and A^T y."""

    def __call__(self, x):
      return good(x)

    def adjoint(self, y, in_shape):
      return 2 * good.adjoint(y, in_shape)

  assert script["adjoint_error"](TwiceTheAdjoint(), shape) == pytest.approx(
      1.0, abs=1e-4)


def test_snapshot_watcher(tmp_path):
  _, summary = _run("snapshot_watcher", tmp_path)
  _finite_scores(summary)
  assert summary["frame_steps"] == [40, 80, 120, 160, 200, 240]
  assert summary["frames_shape"] == [6, 32, 32, 3]
  frames = np.load(tmp_path / "frames.npy")
  assert frames.shape == (6, 32, 32, 3) and np.all(np.isfinite(frames))
  assert (tmp_path / "trajectory.png").exists()
  # Each frame is the output of the step it names: its PSNR is the one the
  # history recorded at that step. Neighbouring steps differ by ~0.1-0.5
  # dB here (the output moves by a mean square of ~3e-3 a step), so a frame
  # off by one step would fail this.
  np.testing.assert_allclose(summary["frame_psnr"],
                             summary["history_psnr_at_frame_steps"],
                             atol=1e-3)
  # The fit improves along the frames (measured 16.17 -> 22.09 dB on one
  # install, 16.43 -> 21.72 dB on another).
  assert summary["frame_psnr"][-1] > summary["frame_psnr"][0] + 3, summary


@pytest.mark.parametrize("name", ["denoise", "inpaint", "super_resolution",
                                  "custom_operator", "snapshot_watcher"])
def test_every_example_is_in_the_docs(name):
  with open(os.path.join(ROOT, "docs", "examples.md")) as f:
    page = f.read()
  assert f"../examples/{name}.py" in page


def test_example_outputs_rows_hold_what_the_docs_table_shows():
  """experiments/example_outputs.py (the record behind docs/examples.md's
  table): a row keeps a script's scalar PSNRs, the watcher's first and last
  frame, the photo's side and the steps; an unknown script is refused."""
  module = runpy.run_path(os.path.join(ROOT, "experiments",
                                       "example_outputs.py"))
  args = type("Args", (), {"size": 32, "steps": 240})()
  summary = {"frame_steps": [40, 80, 240], "frame_psnr": [16.0, 18.0, 21.5],
             "psnr_noisy": 20.7, "psnr_dip": 21.8, "frames_shape": [3]}
  got = module["row"]("snapshot_watcher", "tiny", summary, args, 12.34)
  assert got == {"script": "snapshot_watcher", "size": "tiny",
                 "seconds": 12.3, "px": 32, "steps": 240, "psnr_noisy": 20.7,
                 "psnr_dip": 21.8, "first_frame_step": 40,
                 "first_frame_psnr": 16.0, "last_frame_step": 240,
                 "last_frame_psnr": 21.5}
  with pytest.raises(SystemExit):
    module["main"](["--scripts=denoise,nope"])
