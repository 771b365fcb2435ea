"""PSNR and SSIM against independent implementations."""

import numpy as np
import pytest

from dip_jax import metrics


def test_psnr_of_known_mse():
  ref = np.zeros((8, 8, 3))
  assert metrics.psnr(ref + 0.1, ref) == pytest.approx(20.0)
  assert float(metrics.psnr_jax(ref + 0.1, ref)) == pytest.approx(20.0, abs=1e-4)


def test_ssim_matches_scikit_image():
  skm = pytest.importorskip("skimage.metrics")
  rng = np.random.default_rng(0)
  ref = rng.random((40, 33, 3))
  x = np.clip(ref + rng.normal(0, 0.1, ref.shape), 0, 1)
  expected = skm.structural_similarity(
      x, ref, channel_axis=-1, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False, data_range=1.0)
  assert metrics.ssim(x, ref) == pytest.approx(expected, abs=1e-6)
  assert metrics.ssim(ref, ref) == pytest.approx(1.0)


def test_y_channel_psnr_crops_border():
  rng = np.random.default_rng(1)
  ref = rng.random((20, 20, 3))
  x = ref.copy()
  x[:2] = 0  # damage only the border
  assert metrics.psnr_y(x, ref, border=2) == float("inf")
  assert metrics.psnr_y(x, ref) < 30
