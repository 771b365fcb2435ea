"""Corruptions and masks: determinism, statistics, and input checks."""

import ml_collections
import numpy as np
import pytest
from PIL import Image

from conftest import smooth_image
from dip_jax.data import corruptions
from dip_jax.errors import InputError


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_changes_the_image_and_is_deterministic(channels):
  clean = smooth_image(48, 40, channels)
  a = corruptions.jpeg(clean, 10)
  assert a.shape == clean.shape and a.dtype == np.float32
  assert 0.0 <= a.min() and a.max() <= 1.0
  assert np.abs(a - clean).max() > 0.02
  np.testing.assert_array_equal(a, corruptions.jpeg(clean, 10))
  # Higher quality stays closer to the clean image.
  assert np.abs(corruptions.jpeg(clean, 90) - clean).mean() < np.abs(a - clean).mean()


@pytest.mark.parametrize("quality", [0, 96, 50.5, "high"])
def test_bad_jpeg_quality_is_an_input_error(quality):
  with pytest.raises(InputError, match="quality"):
    corruptions.jpeg(smooth_image(8, 8), quality)


def test_corrupt_dispatches_on_kind():
  clean = smooth_image(16, 16)
  cfg = ml_collections.ConfigDict({"kind": "jpeg", "quality": 20})
  np.testing.assert_array_equal(corruptions.corrupt(clean, cfg, 0),
                                corruptions.jpeg(clean, 20))
  cfg = ml_collections.ConfigDict({"kind": "gaussian", "sigma": 25.0})
  np.testing.assert_array_equal(
      corruptions.corrupt(clean, cfg, 3),
      corruptions.gaussian_noise(clean, 25.0, np.random.default_rng(3)))
  with pytest.raises(InputError, match="corruption.kind"):
    corruptions.corrupt(clean, ml_collections.ConfigDict({"kind": "blur"}), 0)


@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9])
def test_random_mask_kept_fraction_and_determinism(kept):
  m = corruptions.random_mask((128, 128), kept, np.random.default_rng(7))
  assert m.shape == (128, 128, 1) and m.dtype == np.float32
  assert set(np.unique(m)) <= {0.0, 1.0}
  assert abs(m.mean() - kept) <= 0.02
  np.testing.assert_array_equal(m, corruptions.random_mask((128, 128), kept, 7))
  assert (m != corruptions.random_mask((128, 128), kept, 8)).any()


@pytest.mark.parametrize("kept", [0, 1.5, -0.1, float("nan")])
def test_bad_kept_fraction_is_an_input_error(kept):
  with pytest.raises(InputError, match="kept_fraction"):
    corruptions.random_mask((16, 16), kept, 0)


def test_text_mask_covers_some_but_not_most_pixels():
  m = corruptions.text_mask((128, 128), font_size=20)
  assert m.shape == (128, 128, 1) and set(np.unique(m)) == {0.0, 1.0}
  covered = 1.0 - m.mean()
  assert 0.02 <= covered <= 0.40, covered
  np.testing.assert_array_equal(m, corruptions.text_mask((128, 128), font_size=20))
  other = corruptions.text_mask((128, 128), text="XO XO", font_size=20, seed=1)
  assert (m != other).any()


def test_overlay_text_paints_only_the_covered_pixels():
  clean = smooth_image(32, 32)
  mask = np.ones((32, 32, 1), np.float32)
  mask[10:14, 5:20] = 0
  out = corruptions.overlay_text(clean, mask, color=(1, 0, 0))
  np.testing.assert_array_equal(out[mask[..., 0] == 1], clean[mask[..., 0] == 1])
  np.testing.assert_allclose(out[12, 8], [1, 0, 0])
  faint = corruptions.overlay_text(clean, mask, opacity=0.25)
  np.testing.assert_allclose(faint[12, 8], 0.75 * clean[12, 8] + 0.25, atol=1e-6)
  gray = corruptions.overlay_text(clean[..., :1], mask, color=(1, 1, 1))
  np.testing.assert_allclose(gray[12, 8], 1.0, atol=1e-6)


def test_holes_mask_zeros_are_whole_holes():
  m = corruptions.holes_mask((64, 48), 1, (10, 6), np.random.default_rng(0))
  rows, cols = np.nonzero(m[..., 0] == 0)
  assert rows.size == 60
  assert rows.max() - rows.min() == 9 and cols.max() - cols.min() == 5
  many = corruptions.holes_mask((64, 64), 5, 8, 3)
  np.testing.assert_array_equal(many, corruptions.holes_mask((64, 64), 5, 8, 3))
  zeros = many[..., 0] == 0
  # Every missing pixel lies in some fully missing 8 x 8 square.
  full = np.zeros_like(zeros)
  for r in range(57):
    for c in range(57):
      if zeros[r:r + 8, c:c + 8].all():
        full[r:r + 8, c:c + 8] = True
  np.testing.assert_array_equal(full, zeros)
  assert 64 <= zeros.sum() <= 5 * 64
  with pytest.raises(InputError, match="hole"):
    corruptions.holes_mask((16, 16), 1, 20, 0)


def test_load_mask_reads_white_as_known(tmp_path):
  arr = np.zeros((20, 30), np.uint8)
  arr[:, 15:] = 255
  arr[0, 20] = 250  # slightly lossy white
  arr[1, 2] = 5     # slightly lossy black
  Image.fromarray(arr).save(tmp_path / "m.png")
  m = corruptions.load_mask(tmp_path / "m.png", (20, 30))
  assert m.shape == (20, 30, 1) and m.dtype == np.float32
  np.testing.assert_array_equal(m[..., 0], (arr >= 128).astype(np.float32))
  Image.fromarray((arr >= 128).astype(np.uint8)).save(tmp_path / "01.png")
  np.testing.assert_array_equal(corruptions.load_mask(tmp_path / "01.png", (20, 30)), m)


def test_load_mask_rejects_wrong_size_and_gray_values(tmp_path):
  arr = np.full((20, 30), 255, np.uint8)
  Image.fromarray(arr).save(tmp_path / "m.png")
  with pytest.raises(InputError, match=r"20x30.*32x32"):
    corruptions.load_mask(tmp_path / "m.png", (32, 32))
  arr[3, 3] = 128
  Image.fromarray(arr).save(tmp_path / "gray.png")
  with pytest.raises(InputError, match="not binary: found values 128"):
    corruptions.load_mask(tmp_path / "gray.png", (20, 30))
  with pytest.raises(InputError, match="cannot read mask"):
    corruptions.load_mask(tmp_path / "missing.png", (20, 30))


def test_make_mask_dispatches_on_kind(tmp_path):
  cfg = ml_collections.ConfigDict
  assert corruptions.make_mask(cfg({"kind": "none"}), (16, 16), 0) is None
  r = corruptions.make_mask(cfg({"kind": "random", "kept_fraction": 0.3}), (64, 64), 1)
  np.testing.assert_array_equal(
      r, corruptions.make_mask(cfg({"kind": "random", "kept_fraction": 0.3}), (64, 64), 1))
  assert abs(r.mean() - 0.3) < 0.05
  t = corruptions.make_mask(cfg({"kind": "text", "font_size": 12}), (64, 64), 0)
  assert 0 < (t == 0).mean() < 0.5
  h = corruptions.make_mask(cfg({"kind": "holes", "num_holes": 2, "hole_size": 4}),
                            (32, 32), 0)
  assert 16 <= (h == 0).sum() <= 32
  Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "m.png")
  f = corruptions.make_mask(cfg({"kind": "file", "path": str(tmp_path / "m.png")}),
                            (8, 8), 0)
  assert f.min() == 1.0
  with pytest.raises(InputError, match="mask.kind"):
    corruptions.make_mask(cfg({"kind": "stars"}), (8, 8), 0)


def _poisson(kind, peak, sigma=0.0, clip=False):
  return ml_collections.ConfigDict({"kind": kind, "peak": peak,
                                    "sigma": sigma, "clip": clip})


@pytest.mark.parametrize("level", [0.1, 0.5])
def test_poisson_keeps_the_mean_and_has_variance_x_over_peak(level):
  # 64 x 64 x 3 = 12288 draws: the sample mean's std is sqrt(x / peak /
  # 12288) <= 0.0012 and the sample variance's relative std ~ 1.3 %, so
  # 5 std margins are 0.006 and 7 %; a variance of x / peak ** 0.5 (or a
  # lost / peak scaling) is off by 3x and more.
  clean = np.full((64, 64, 3), level, np.float32)
  y = corruptions.corrupt(clean, _poisson("poisson", 30.0), seed=1)
  assert y.dtype == np.float32 and y.shape == clean.shape
  assert abs(y.mean() - level) < 0.006
  assert y.var() == pytest.approx(level / 30.0, rel=0.07)
  # Counts over peak: every value is a multiple of 1 / peak.
  np.testing.assert_allclose(y * 30.0, np.round(y * 30.0), atol=1e-4)


def test_poisson_gaussian_adds_the_read_noise_variance():
  clean = np.full((64, 64, 3), 0.4, np.float32)
  y = corruptions.corrupt(clean, _poisson("poisson_gaussian", 30.0, 10.0),
                          seed=2)
  assert abs(y.mean() - 0.4) < 0.006
  assert y.var() == pytest.approx(0.4 / 30.0 + (10.0 / 255) ** 2, rel=0.07)
  # The shot part is the poisson kind's, drawn first from the same seed.
  shot = corruptions.corrupt(clean, _poisson("poisson", 30.0), seed=2)
  assert (y - shot).std() == pytest.approx(10.0 / 255, rel=0.07)


def test_poisson_kinds_are_seeded_and_clip_like_gaussian():
  clean = smooth_image(32, 32)
  cfg = _poisson("poisson", 5.0, clip=True)
  a = corruptions.corrupt(clean, cfg, seed=7)
  np.testing.assert_array_equal(a, corruptions.corrupt(clean, cfg, seed=7))
  assert not np.array_equal(a, corruptions.corrupt(clean, cfg, seed=8))
  assert 0.0 <= a.min() and a.max() <= 1.0
  # poisson ignores sigma (the gaussian kind's 25 is the config default).
  np.testing.assert_array_equal(
      a, corruptions.corrupt(clean, _poisson("poisson", 5.0, 25.0, True), 7))
  # Without the clip a peak of 5 overshoots white somewhere.
  assert corruptions.corrupt(clean, _poisson("poisson", 5.0), 7).max() > 1.0


@pytest.mark.parametrize("peak", [0, -3.0, float("nan"), float("inf"), 1e13,
                                  "high", True])
def test_bad_peak_is_one_clear_line(peak):
  with pytest.raises(InputError) as e:
    corruptions.corrupt(smooth_image(8, 8), _poisson("poisson", peak), 0)
  assert str(e.value).startswith("corruption.peak must be a number in (0, ")
  assert "\n" not in str(e.value)


@pytest.mark.parametrize("sigma", [-1.0, float("nan")])
def test_bad_read_noise_is_one_clear_line(sigma):
  with pytest.raises(InputError, match=r"^corruption.sigma must be a finite "
                     r"number >= 0, got") as e:
    corruptions.corrupt(smooth_image(8, 8),
                        _poisson("poisson_gaussian", 30.0, sigma), 0)
  assert "\n" not in str(e.value)


def test_save_jpeg_stores_the_noisy_image_as_a_jpeg():
  """corruption.save_jpeg = Q: the noise kind's image, then `jpeg` at Q
  (a noisy photo as a camera saves it); the codec takes away part of the
  fine-scale noise, which is what the discrepancy stop's noise estimate
  then sees."""
  from dip_jax import metrics  # pylint: disable=g-import-not-at-top
  clean = smooth_image(64, 64)
  for kind in corruptions.NOISE_KINDS:
    cfg = ml_collections.ConfigDict({"kind": kind, "sigma": 25.0,
                                     "peak": 30.0, "clip": True})
    noisy = corruptions.corrupt(clean, cfg, 3)
    cfg.save_jpeg = 75
    saved = corruptions.corrupt(clean, cfg, 3)
    np.testing.assert_array_equal(saved, corruptions.jpeg(noisy, 75))
    # At quality 75 the finest-scale noise estimate drops well below the
    # drawn noise's: measured 0.52-0.59 x in variance on this image (seed
    # 3, Pillow 13's libjpeg-turbo); unchanged noise would read 1.
    ratio = (metrics.noise_sigma(saved) / metrics.noise_sigma(noisy)) ** 2
    assert ratio < 0.75, (kind, ratio)


@pytest.mark.parametrize("kind,value,match", [
    ("gaussian", 96, "save_jpeg"), ("gaussian", 2.5, "save_jpeg"),
    ("jpeg", 75, "noise kinds"), ("none", 75, "noise kinds")])
def test_bad_save_jpeg_is_one_clear_line(kind, value, match):
  cfg = ml_collections.ConfigDict({"kind": kind, "sigma": 25.0,
                                   "save_jpeg": value})
  with pytest.raises(InputError, match=match):
    corruptions.corrupt(smooth_image(8, 8), cfg, 0)
