"""The noise level of an observed image, estimated from the image alone, as
the discrepancy stop's target (fit/watchers/stopping.py).

The stop detects the first step whose data fit MSE(x_t, y) reaches the
noise variance per pixel, so what it needs is E||y - x||^2 / N, the *mean*
variance over the pixels. For i.i.d. Gaussian noise that is sigma^2 and
`metrics.noise_sigma` (the median absolute finest diagonal Haar coefficient
over 0.6745; Donoho & Johnstone 1994) estimates it: model "gaussian".

For signal-dependent noise -- shot noise, Var[y] = x / peak, and raw
camera data, Var[y] = a x + b (Foi et al., "Practical Poissonian-Gaussian
noise modeling and fitting for single-image raw-data", IEEE TIP 2008) --
the coefficients are a mixture of scales, and one median of the mixture is
not its mean square: on 128 px Kodak crops at peak 10 (tuning images, not
the CBM3D set) it read 0.67-1.21 x the true mean variance. A target 20 %
low can keep the fit from ever reaching it (no stop at all), one 10 % high
stops hundreds of steps early: the fit's MSE crosses the noise level at a
shallow angle.

Model "signal_dependent" follows Foi et al.'s idea -- the noise level as a
function of intensity, from local statistics of the finest wavelet level
-- with the statistics taken over patches:

  1. Haar level 1: each 2 x 2 block gives a local mean and an orthonormal
     diagonal detail d (noise, plus little image content).
  2. Patches of 4 x 4 details (8 x 8 pixels) per channel, at every
     offset (overlapping, one detail apart): mean intensity and mean d^2,
     a variance estimate with 16 degrees of freedom. Overlap, because a
     JPEG-saved photo is coded in 8 x 8 blocks: on a grid of patches that
     coincides with the codec's, a block whose fine detail the codec
     zeroed is a whole patch of low variance, and the low percentile of
     step 3 picks those. With disjoint patches the estimate read 0.78-0.92
     x the true mean variance of sigma 25 noise saved at quality 75, with
     overlapping ones 0.87-0.98 (128 px Kodak tuning crops), unchanged
     within +-0.04 on unsaved Gaussian and shot noise.
  3. The patches sorted by intensity into LEVELS equal-count level sets;
     in each, the 25th percentile of the patch variances over the
     chi^2_16 / 16 quantile (the percentile of pure noise): the set's noise
     variance. A low percentile of whole patches skips textured patches,
     which the median over single coefficients only dilutes.
  4. The mean variance: the mean of the level sets' variances. The sets
     hold equal numbers of patches, so this is the mean over the patches
     of the noise level at their intensity: the discrepancy target of the
     noise-level function, sampled at LEVELS points, not fitted by a line.
     A line cannot bend where clipping takes the noise away (a bright sky
     clipped at white, shot noise's dark end); the line rescaled by one
     percentile over all patches (this model before) read 0.83-1.06 x the
     true mean variance of shot noise at peak 10 on the 20 Kodak tuning
     crops x 2 seeds (10 % of them below 0.87), four level sets 0.85-1.07
     (below 0.93), eight 0.85-1.09 (below 0.95). Four and not eight: a
     larger set's low percentile finds flat patches on a textured crop
     more often. Replayed on 90 fits of tuning crops (10 images x 9 noise
     kinds, the band stop), the mean gap to the peak was 0.31 dB with the
     line, 0.31 with eight sets and 0.23 with four; the worst 2.56, 2.56
     and 1.95 dB; shot noise at peak 100, worst 2.27, 2.27 and 0.50.

`noise_level_function` still fits the line var = a * intensity + b
through the level sets (a ~ 1 / peak for shot noise): a description of
the noise, not what the stop reads.

On Gaussian noise every level set reads sigma^2 and step 4 is a
texture-robust version of the Gaussian estimate. Fine texture at the
noise's amplitude still reads as noise: on textured crops the estimate is
high (up to 1.2-1.3 x on Kodak tuning crops) and the stop comes early
(kodim18 at sigma 25: 1.21 x, 1.95 dB from the peak). On such a crop the
peak can also come after the fit has gone below the true noise level
(kodim18 at sigma 50: at 0.90 x), which no estimate of the level fixes.
"""

import numpy as np

from dip_jax import metrics

MODELS = ("gaussian", "signal_dependent")
PATCH = 4              # patch side in detail coefficients (8 px)
LEVELS = 4             # intensity level sets (step 4)
QUANTILE = 0.25        # the percentile of patch variances taken
MIN_PER_LEVEL = 16     # patches a level set needs; fewer sets otherwise


def _chi2_quantile_ratio(q: float, dof: int) -> float:
  """The q-quantile of chi^2_dof / dof by the Wilson-Hilferty cube
  approximation (within 0.1 % of the exact 0.7445 at q = 0.25, dof = 16),
  which keeps scipy out of the library's imports."""
  from statistics import NormalDist  # pylint: disable=g-import-not-at-top
  z = NormalDist().inv_cdf(q)
  c = 2.0 / (9.0 * dof)
  return (1.0 - c + z * np.sqrt(c)) ** 3


def _haar(y) -> tuple[np.ndarray, np.ndarray]:
  """(local means, orthonormal diagonal details) of the 2 x 2 blocks, each
  H/2 x W/2 x C float64; an odd last row or column is dropped, as in
  `metrics.noise_sigma`."""
  y = np.asarray(y, np.float64)
  if y.ndim == 2:
    y = y[..., None]
  h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
  if h == 0 or w == 0:
    raise ValueError(f"noise_variance needs an image of at least 2 x 2 "
                     f"pixels, got {y.shape[:2]}")
  y = y[:h, :w]
  a, b = y[0::2, 0::2], y[0::2, 1::2]
  c, d = y[1::2, 0::2], y[1::2, 1::2]
  return (a + b + c + d) / 4, (a - b - c + d) / 2


def patch_statistics(y) -> tuple[np.ndarray, np.ndarray, int]:
  """(mean intensity, mean squared detail, degrees of freedom) of each
  patch of PATCH x PATCH detail coefficients (smaller on a tiny image), at
  every offset: (h - p + 1) x (w - p + 1) x channels patches."""
  means, details = _haar(y)
  h, w, _ = means.shape
  p = min(PATCH, h, w)

  def per_patch(a):
    # The p x p box mean at every offset, from 2-D cumulative sums.
    s = np.pad(a, ((1, 0), (1, 0), (0, 0))).cumsum(0).cumsum(1)
    box = s[p:, p:] - s[:-p, p:] - s[p:, :-p] + s[:-p, :-p]
    return (box / (p * p)).ravel()
  return per_patch(means), per_patch(np.square(details)), p * p


def level_variances(y) -> tuple[np.ndarray, np.ndarray]:
  """(mean intensity, noise variance) of each of the equal-count intensity
  level sets of the patches (steps 1-3 of the module docstring); fewer
  sets than LEVELS on an image too small to fill them."""
  mu, var, dof = patch_statistics(y)
  levels = max(1, min(LEVELS, mu.size // MIN_PER_LEVEL))
  groups = np.array_split(np.argsort(mu, kind="stable"), levels)
  norm = _chi2_quantile_ratio(QUANTILE, dof)
  return (np.array([mu[g].mean() for g in groups]),
          np.array([np.quantile(var[g], QUANTILE) / norm for g in groups]))


def noise_level_function(y) -> tuple[float, float]:
  """(a, b) of the least-squares line var = a * intensity + b through the
  level sets' noise variances: a ~ 1 / peak for shot noise, b ~ the read
  noise variance."""
  level_mu, level_var = level_variances(y)
  if level_mu.size < 2 or np.ptp(level_mu) == 0:  # no slope to see
    return 0.0, float(level_var.mean())
  a, b = np.polyfit(level_mu, level_var, 1)
  return float(a), float(b)


def signal_dependent_variance(y) -> float:
  """The mean noise variance: the mean of the level sets' variances (step 4
  of the module docstring)."""
  return float(level_variances(y)[1].mean())


def noise_variance(y, model: str = "signal_dependent") -> float:
  """The mean noise variance per pixel of `y` (values on the 0..1 scale).

  Args:
    y: H x W (x C) observed image, at least 2 x 2.
    model: "gaussian" (metrics.noise_sigma(y)^2, one level for the whole
      image) or "signal_dependent" (the module docstring).

  Returns:
    The variance, a float >= 0.
  """
  if model == "gaussian":
    return metrics.noise_sigma(y) ** 2
  if model != "signal_dependent":
    raise ValueError(f"noise model must be one of {MODELS}, got {model!r}")
  y = np.asarray(y)
  if y.ndim >= 2 and min(y.shape[:2]) >= 2 and not any(y.strides):
    # A constant held as one number (a shape-only stand-in for an image
    # not yet decoded, as in noise_sigma): no noise, and no copy.
    return 0.0
  return signal_dependent_variance(y)
