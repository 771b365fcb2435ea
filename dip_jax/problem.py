"""The Problem record: what is observed, through which operator, and what
the reconstruction is scored against (when a clean image is known).

Built from a config: an image file (clean, corrupted synthetically) or an
already corrupted file with an optional ground truth, or, with no file at
all, the built-in sample, so every command runs on a fresh install.
"""

import dataclasses
import os

import numpy as np

from dip_jax import corruptions
from dip_jax import images
from dip_jax.errors import InputError


@dataclasses.dataclass
class Problem:
  observed: np.ndarray            # x0, H x W x C float32 (may leave [0, 1])
  clean: np.ndarray | None        # ground truth for scoring, if known
  mask: np.ndarray | None         # 1 = observed pixel, for masked data terms
  out_shape: tuple                # shape of the reconstruction (H, W, C)
  alpha: np.ndarray | None = None  # passed through to the outputs
  bit_depth: int = 8
  source: str = "built-in sample"


def build_problem(config) -> Problem:
  """Loads or synthesises the observation named by `config`."""
  if config.image:
    loaded = _load(config.image, config)
    alpha, depth, source = loaded.alpha, loaded.bit_depth, config.image
    if config.corrupted:
      observed, clean = loaded.pixels, None
      if config.clean_image:
        clean = _load(config.clean_image, config).pixels
        if clean.shape != observed.shape:
          raise InputError(
              f"clean_image {config.clean_image} is {_describe(clean)} but "
              f"image {config.image} is {_describe(observed)}")
    else:
      clean = loaded.pixels
      observed = corruptions.corrupt(clean, config.corruption, config.seed)
  else:
    if config.corrupted or config.clean_image:
      raise InputError("corrupted/clean_image need config.image to be set")
    clean = images.sample_image(int(config.sample_size))
    alpha, depth, source = None, 8, "built-in sample"
    observed = corruptions.corrupt(clean, config.corruption, config.seed)
  if not np.all(np.isfinite(observed)):
    raise InputError(f"the observed image from {source} has non-finite values")
  return Problem(observed=observed.astype(np.float32), clean=clean, mask=None,
                 out_shape=observed.shape, alpha=alpha, bit_depth=depth,
                 source=os.path.abspath(source) if config.image else source)


def _load(path, config):
  loaded = images.load_image(path)
  if config.center_crop:
    loaded = _center_crop(loaded, int(config.center_crop))
  return loaded


def _center_crop(loaded, size):
  h, w = loaded.pixels.shape[:2]
  if size > min(h, w) or size < 1:
    raise InputError(f"center_crop={size} does not fit image {loaded.path} "
                     f"({w}x{h})")
  t, l = (h - size) // 2, (w - size) // 2
  crop = lambda a: None if a is None else a[t:t + size, l:l + size]
  return dataclasses.replace(loaded, pixels=crop(loaded.pixels),
                             alpha=crop(loaded.alpha))


def _describe(x):
  return f"{x.shape[1]}x{x.shape[0]}x{x.shape[2]}"
