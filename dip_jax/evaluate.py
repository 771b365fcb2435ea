"""Scoring reconstructions by the task's conventions, and the baseline every
result is shown beside.

Conventions: PSNR on all channels by default and SSIM; with a mask also PSNR
over the missing pixels only; for operators with a `score_border` (super-
resolution) also the paper's PSNR on the Y channel (BT.601, 16-235) with
that border cropped. The baseline is the operator's own (`baseline(y)`): the
observation itself, or bicubic upscaling for SR; none for Fourier data.
"""

import numpy as np

from dip_jax import metrics


def score(problem, x: np.ndarray, prefix: str = "") -> dict:
  """Quality numbers of reconstruction `x` against the clean image."""
  if problem.clean is None:
    return {}
  clean = problem.clean
  out = {"psnr": metrics.psnr(x, clean), "ssim": metrics.ssim(x, clean)}
  if problem.mask is not None:
    missing = np.broadcast_to(problem.mask < 0.5, clean.shape)
    if missing.any():
      mse = float(np.mean((np.asarray(x, np.float64)[missing]
                           - clean[missing]) ** 2))
      out["psnr_missing"] = float(10 * np.log10(1 / max(mse, 1e-20)))
  border = problem.operator.score_border
  if border:
    out["psnr_y"] = metrics.psnr_y(x, clean, border=border)
  return {prefix + k: v for k, v in out.items()}


def corrupted_baseline(problem) -> tuple[str, np.ndarray] | None:
  """What the reconstruction must beat: (name, image) from the operator's
  baseline (the observation as the method sees it, or bicubic for SR), or
  None when the measurement has no image-space estimate."""
  if not problem.image_measurement:
    return None
  return problem.operator.baseline(problem.observed)
