"""Seeded synthetic degradations, for experiments and demos.

Each takes the clean image (H x W x C float32 in [0, 1]) and a numpy
Generator and returns the corrupted observation. Later tasks add JPEG, text
overlays and masks here.
"""

import numpy as np

from dip_jax.errors import InputError

CORRUPTIONS = ("none", "gaussian")


def gaussian_noise(clean: np.ndarray, sigma: float, rng: np.random.Generator,
                   clip: bool = True) -> np.ndarray:
  """Additive white Gaussian noise, sigma on the 0-255 scale, clipped to
  [0, 1] by default as the original code's noisy images are."""
  noisy = clean + rng.normal(0.0, sigma / 255.0, clean.shape).astype(np.float32)
  return np.clip(noisy, 0, 1) if clip else noisy


def corrupt(clean: np.ndarray, corruption_cfg, seed: int) -> np.ndarray:
  kind = corruption_cfg.get("kind", "gaussian")
  rng = np.random.default_rng(seed)
  if kind == "none":
    return clean
  if kind == "gaussian":
    sigma = float(corruption_cfg.sigma)
    if not np.isfinite(sigma) or sigma < 0:
      raise InputError(f"corruption.sigma must be a finite number >= 0, got {sigma}")
    return gaussian_noise(clean, sigma, rng, corruption_cfg.get("clip", True))
  raise InputError(f"unknown corruption.kind {kind!r}; known: {CORRUPTIONS}")
