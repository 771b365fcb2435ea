"""Image quality numbers: PSNR (RGB, and Y with a border crop), SSIM, and
a roughness statistic for images without a reference.

Images are float arrays in [0, 1]. `psnr_jax` and `ssim_jax` are jittable;
the rest return Python floats, used on the host at logging points and for
summaries. SSIM is dm_pix's (Wang et al. 2004: an 11x11 Gaussian window of
sigma 1.5, K1 = 0.01, K2 = 0.03, per channel, averaged over the windows that
fit inside the image), in float32; it agrees with scikit-image's
`structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)` to 1e-5 (tests check this).
"""

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

_WINDOW = 11  # SSIM's Gaussian window side


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


def ssim_jax(x, ref, data_range: float = 1.0):
  """Mean SSIM over channels of H x W x C (or N x H x W x C) JAX arrays, as
  a jnp scalar (per image for N x ...); jittable. Needs H, W >= 11."""
  return dm_pix.ssim(x, ref, max_val=data_range, filter_size=_WINDOW,
                     filter_sigma=1.5, k1=0.01, k2=0.03)


_ssim_jit = jax.jit(ssim_jax)


def ssim(x, ref, data_range: float = 1.0) -> float:
  """Mean SSIM over channels of H x W x C (or H x W) images, as a float.

  NaN for images smaller than the 11 x 11 window, where SSIM is undefined
  (scikit-image refuses them; a score table should show a gap, not stop).
  """
  x = np.asarray(x, np.float32)
  ref = np.asarray(ref, np.float32)
  if x.ndim == 2:
    x, ref = x[..., None], ref[..., None]
  if min(x.shape[:2]) < _WINDOW:
    return float("nan")
  return float(_ssim_jit(x, ref, data_range))


def roughness(x) -> float:
  """Mean |difference of neighbours| (down and right) over the std of x, a
  scale-free measure of how noisy an image looks: 0.19 for the built-in
  photo at 128 px (0.40 at 32 px), 1.16 for uniform pixel noise."""
  x = np.asarray(x, np.float64)
  diff = (np.abs(np.diff(x, axis=0)).mean()
          + np.abs(np.diff(x, axis=1)).mean()) / 2
  return float(diff / max(x.std(), 1e-8))


def noise_sigma(y) -> float:
  """The std of i.i.d. Gaussian noise in an image, estimated from the image
  alone: the median absolute value of its finest diagonal Haar wavelet
  coefficients over 0.6745 (Donoho & Johnstone, Biometrika 1994), pooled
  over channels. The orthonormal diagonal coefficient of pure noise has the
  noise's std, and natural images have few large diagonal details, so the
  median sees mostly noise; on a clean photo it returns a small value
  (texture), not 0. An odd last row or column is dropped."""
  y = np.asarray(y)
  if y.ndim == 2:
    y = y[..., None]
  h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
  if h and w and not any(y.strides):
    # A constant held as one number (a shape-only stand-in for an image
    # not yet decoded): no noise, and no full-size copy to find that out.
    return 0.0
  y = y.astype(np.float64, copy=False)
  if h == 0 or w == 0:
    raise ValueError(f"noise_sigma needs an image of at least 2 x 2 pixels, "
                     f"got {y.shape[:2]}")
  y = y[:h, :w]
  hh = (y[0::2, 0::2] - y[0::2, 1::2] - y[1::2, 0::2] + y[1::2, 1::2]) / 2
  return float(np.median(np.abs(hh)) / 0.6745)


# Scores by the task's conventions, and the baseline every result is shown
# beside. Conventions: PSNR on all channels by default and SSIM; with a mask also PSNR
# over the missing pixels only; for operators with a `score_border` (super-
# resolution) also the paper's PSNR on the Y channel (BT.601, 16-235) with
# that border cropped; an operator's own `score_fn` replaces them all (Fourier
# ptychography: amplitude, and phase up to its offset). The baseline is the
# operator's own (`baseline(y)`): the observation itself, bicubic upscaling for
# SR, alternating projection for ptychography.

def score(problem, x: np.ndarray, prefix: str = "") -> dict:
  """Quality numbers of reconstruction `x` against the clean image."""
  if problem.clean is None:
    return {}
  clean = problem.clean
  if problem.operator.score_fn is not None:
    # The operator knows what its measurement cannot tell (a global phase).
    return {prefix + k: v for k, v in
            problem.operator.score_fn(x, clean).items()}
  out = {"psnr": psnr(x, clean), "ssim": ssim(x, clean)}
  if problem.mask is not None:
    missing = np.broadcast_to(problem.mask < 0.5, clean.shape)
    if missing.any():
      mse = float(np.mean((np.asarray(x, np.float64)[missing]
                           - clean[missing]) ** 2))
      out["psnr_missing"] = float(10 * np.log10(1 / max(mse, 1e-20)))
  border = problem.operator.score_border
  if border:
    out["psnr_y"] = psnr_y(x, clean, border=border)
  return {prefix + k: v for k, v in out.items()}


def corrupted_baseline(problem) -> tuple[str, np.ndarray] | None:
  """What the reconstruction must beat: (name, image) from the operator's
  baseline (the observation as the method sees it, bicubic for SR,
  alternating projection for ptychography), or None when the operator has
  none or there is no observation."""
  if problem.observed is None:
    return None
  return problem.operator.baseline(problem.observed)
