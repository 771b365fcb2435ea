"""Scoring reconstructions by the task's conventions, and the baselines
every result is shown beside.

Conventions: PSNR on all channels by default and SSIM; for inpainting also
PSNR over the missing pixels only; for super-resolution also the paper's
PSNR on the Y channel (BT.601, 16-235) with the factor's border cropped,
with bicubic upscaling as the reference baseline. Baselines: the TV-
regularised solution on the same operator (every task) and bicubic (SR).
"""

import time

import jax.numpy as jnp
import numpy as np

from dip_jax import metrics
from dip_jax import operators
from dip_jax import resampling
from dip_jax.priors import tv as tv_prior


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
  if problem.factor > 1:
    out["psnr_y"] = metrics.psnr_y(x, clean, border=problem.factor)
  return {prefix + k: v for k, v in out.items()}


def corrupted_baseline(problem) -> tuple[str, np.ndarray]:
  """What the reconstruction must beat: the observation itself, or for SR
  the bicubic upscaling of the low-resolution image."""
  if problem.factor > 1:
    return "bicubic", resampling.upsample_bicubic(problem.observed,
                                                  problem.factor)
  return "corrupted", problem.observed_for_display()


def solve_tv(problem, config):
  """The TV-regularised reconstruction on the problem's operator and mask.

  Returns (image, info) with info holding seconds, iterations and lambda.
  """
  op = operators.build_operator(config.operator)
  observed = jnp.asarray(problem.observed)[None]
  mask = None if problem.mask is None else jnp.asarray(problem.mask)[None]
  t0 = time.perf_counter()
  x, info = tv_prior.solve_tv(
      observed, op, lam=float(config.tv.lam), mask=mask,
      x_shape=(1, *problem.out_shape), max_iters=int(config.tv.max_iters))
  x = np.asarray(x)[0]
  info = {"seconds": round(time.perf_counter() - t0, 3),
          "iterations": int(info["iterations"]),
          "converged": bool(info["converged"]), "lam": float(config.tv.lam)}
  return x, info
