"""Image quality numbers: PSNR (RGB, and Y with a border crop) and SSIM.

Images are float arrays in [0, 1]. `psnr_jax` runs inside the jitted fit;
the rest are numpy, used on the host at logging points and for summaries.
SSIM follows Wang et al. (2004) with an 11x11 Gaussian window of sigma 1.5,
K1 = 0.01, K2 = 0.03, computed per channel and averaged; it agrees with
scikit-image's `structural_similarity(..., gaussian_weights=True,
use_sample_covariance=False, data_range=1)` (tests check this).
"""

import jax.numpy as jnp
import numpy as np


def psnr(x, ref, data_range: float = 1.0) -> float:
  mse = float(np.mean((np.asarray(x, np.float64) - np.asarray(ref, np.float64)) ** 2))
  if mse == 0:
    return float("inf")
  return float(10.0 * np.log10(data_range ** 2 / mse))


def psnr_jax(x, ref):
  """PSNR in dB of two [0, 1] arrays, as a jnp scalar (used in the fit)."""
  mse = jnp.mean(jnp.square(x.astype(jnp.float32) - ref.astype(jnp.float32)))
  return -10.0 * jnp.log10(jnp.maximum(mse, 1e-20))


def rgb_to_y(x: np.ndarray) -> np.ndarray:
  """ITU-R BT.601 luma in [16, 235]/255, the SR papers' Y channel."""
  x = np.asarray(x, np.float64)
  if x.shape[-1] == 1:
    return x
  y = 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]
  return (y / 255.0)[..., None]


def psnr_y(x, ref, border: int = 0) -> float:
  """PSNR on the Y channel after trimming `border` pixels on every side."""
  x, ref = rgb_to_y(x), rgb_to_y(ref)
  if border:
    x = x[border:-border, border:-border]
    ref = ref[border:-border, border:-border]
  return psnr(x, ref)


def _gaussian_taps(sigma=1.5, size=11):
  t = np.arange(size) - (size - 1) / 2
  g = np.exp(-0.5 * (t / sigma) ** 2)
  return g / g.sum()


def _filter(x, taps):
  """Separable 'reflect'-mode filtering of H x W (scipy.ndimage convention)."""
  r = len(taps) // 2
  xp = np.pad(x, r, mode="symmetric")
  h, w = x.shape
  rows = sum(taps[i] * xp[i:i + h, :] for i in range(len(taps)))
  return sum(taps[i] * rows[:, i:i + w] for i in range(len(taps)))


def ssim(x, ref, data_range: float = 1.0) -> float:
  """Mean SSIM over channels of H x W x C images."""
  x = np.asarray(x, np.float64)
  ref = np.asarray(ref, np.float64)
  if x.ndim == 2:
    x, ref = x[..., None], ref[..., None]
  taps = _gaussian_taps()
  c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
  pad = (len(taps) - 1) // 2
  values = []
  for c in range(x.shape[-1]):
    a, b = x[..., c], ref[..., c]
    mu_a, mu_b = _filter(a, taps), _filter(b, taps)
    var_a = _filter(a * a, taps) - mu_a ** 2
    var_b = _filter(b * b, taps) - mu_b ** 2
    cov = _filter(a * b, taps) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2) /
         ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    # Like scikit-image, average away from the borders the window overhangs.
    values.append(s[pad:-pad or None, pad:-pad or None].mean())
  return float(np.mean(values))
