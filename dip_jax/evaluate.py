"""Scoring reconstructions by the task's conventions, and the baseline every
result is shown beside.

Conventions: PSNR on all channels by default and SSIM; with a mask also PSNR
over the missing pixels only; for operators with a `score_border` (super-
resolution) also the paper's PSNR on the Y channel (BT.601, 16-235) with
that border cropped; an operator's own `score_fn` replaces them all (Fourier
ptychography: amplitude, and phase up to its offset). The baseline is the
operator's own (`baseline(y)`): the observation itself, bicubic upscaling for
SR, alternating projection for ptychography.
"""

import numpy as np

from dip_jax import metrics


def score(problem, x: np.ndarray, prefix: str = "") -> dict:
  """Quality numbers of reconstruction `x` against the clean image."""
  if problem.clean is None:
    return {}
  clean = problem.clean
  if problem.operator.score_fn is not None:
    # The operator knows what its measurement cannot tell (a global phase).
    return {prefix + k: v for k, v in
            problem.operator.score_fn(x, clean).items()}
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
  baseline (the observation as the method sees it, bicubic for SR,
  alternating projection for ptychography), or None when the operator has
  none or there is no observation."""
  if problem.observed is None:
    return None
  return problem.operator.baseline(problem.observed)
