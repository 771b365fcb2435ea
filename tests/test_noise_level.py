"""The noise-level estimates the discrepancy stop reads (noise_level.py):
the signal-dependent model recovers shot noise's slope and the mean
variance, and on Gaussian noise it finds no slope."""

import ml_collections
import numpy as np
import pytest

from conftest import smooth_image
from dip_jax import metrics
from dip_jax.solvers import noise_level


def _ramp(size=64):
  """Intensities 0.05..0.95 across the columns: every level equally often,
  and no diagonal detail to mistake for noise."""
  row = np.linspace(0.05, 0.95, size, dtype=np.float32)
  return np.broadcast_to(row[None, :, None], (size, size, 3)).copy()


def _noisy(clean, kind, seed, peak=30.0, sigma=0.0):
  from dip_jax.data import corruptions  # pylint: disable=g-import-not-at-top
  cfg = ml_collections.ConfigDict({"kind": kind, "peak": peak,
                                   "sigma": sigma, "clip": False})
  return corruptions.corrupt(clean, cfg, seed)


@pytest.mark.parametrize("peak", [10.0, 30.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shot_noise_slope_and_mean_variance(peak, seed):
  # Measured on these 64 px ramps (seeds 0-2, 4 level sets): slope
  # 0.90-1.07 x 1 / peak at peak 10 and 0.94-1.23 x at peak 30; mean
  # variance 0.94-1.01 x the true one (with 8 sets and the rescaled line
  # before: slope 0.87-1.20 x, mean variance 0.92-1.07 x). The bounds leave ~10 %
  # beyond that; a lost slope (a ~ 0) or a variance from the wrong scale
  # (x 255^2, x peak) is far outside.
  clean = _ramp()
  y = _noisy(clean, "poisson", seed, peak)
  a, _ = noise_level.noise_level_function(y)
  assert 0.75 / peak < a < 1.4 / peak
  true = np.mean(np.square(y.astype(np.float64) - clean))
  assert noise_level.noise_variance(y) == pytest.approx(true, rel=0.2)


def test_read_noise_and_gaussian_noise():
  # Poisson-Gaussian: the mean variance, read noise included (measured
  # 0.96 x the true one).
  clean = smooth_image(64, 64, 3)
  y = _noisy(clean, "poisson_gaussian", 0, 30.0, 10.0)
  true = np.mean(np.square(y.astype(np.float64) - clean))
  assert noise_level.noise_variance(y) == pytest.approx(true, rel=0.15)
  # Gaussian noise: a nearly flat line (|a| x the mean intensity was
  # 4-13 % of b on three seeds of this image, from its texture; shot
  # noise at peak 30: a x mean ~ 0.015 against b ~ 0), and the mean variance within
  # 10 % of sigma^2 (measured 1.01-1.07), as the Gaussian estimate is.
  rng = np.random.default_rng(0)
  y = clean + rng.normal(0, 25 / 255, clean.shape).astype(np.float32)
  a, b = noise_level.noise_level_function(y)
  assert abs(a) * clean.mean() < 0.4 * b
  assert noise_level.noise_variance(y) == pytest.approx((25 / 255) ** 2,
                                                        rel=0.1)
  assert noise_level.noise_variance(y, "gaussian") == pytest.approx(
      metrics.noise_sigma(y) ** 2)


def test_small_and_constant_images():
  # A 2 x 2 image has one patch of one coefficient: a number, no error.
  assert noise_level.noise_variance(np.zeros((2, 2, 1))) == 0.0
  tiny = _noisy(smooth_image(6, 6, 1), "poisson", 0)
  assert np.isfinite(noise_level.noise_variance(tiny))
  # A constant stand-in held as one number: no noise, like noise_sigma.
  stand_in = np.broadcast_to(np.float32(0.5), (64, 64, 3))
  assert noise_level.noise_variance(stand_in) == 0.0
  with pytest.raises(ValueError, match="noise model must be one of"):
    noise_level.noise_variance(tiny, "laplace")
  with pytest.raises(ValueError, match="at least 2 x 2"):
    noise_level.noise_variance(np.zeros((1, 5, 3)))


def test_an_unknown_noise_model_is_one_line_before_any_fit(tmp_path):
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top
  from dip_jax.cli import run  # pylint: disable=g-import-not-at-top
  from dip_jax.errors import InputError  # pylint: disable=g-import-not-at-top
  cfg = tiny_config(**{"early_stopping.kind": "discrepancy",
                       "early_stopping.fit_gate": 1.0,
                       "early_stopping.noise_model": "laplace"})
  with pytest.raises(InputError, match=r"^early_stopping.noise_model must "
                     r"be one of \['gaussian', 'signal_dependent'\], got "
                     r"'laplace'$"):
    run.reconstruct(cfg, str(tmp_path / "run"))
  assert not (tmp_path / "run" / "summary.json").exists()
