"""Where a task's image comes from: `config.image` (read with its size
checked from the header first, then center-cropped) or the built-in sample.
"""

import dataclasses
import os

import numpy as np

from dip_jax.errors import InputError
from dip_jax.io import images


@dataclasses.dataclass(frozen=True)
class Source:
  """The image a task starts from (`config.image` or the built-in sample)."""
  pixels: np.ndarray
  alpha: np.ndarray | None = None
  bit_depth: int = 8
  source: str = "built-in sample"
  notes: tuple = ()
  full_hw: tuple | None = None  # its size before center_crop (masks match it)


def load_source(config) -> Source:
  """`config.image` (cropped by `center_crop`) or the built-in sample."""
  if config.image:
    loaded, full_hw = load(config.image, config)
    return Source(loaded.pixels, loaded.alpha, loaded.bit_depth,
                  os.path.abspath(config.image), tuple(loaded.notes), full_hw)
  if config.corrupted or config.clean_image:
    raise InputError("corrupted/clean_image need config.image to be set")
  if config.sample_size < 1:
    raise InputError(f"sample_size must be >= 1, got {config.sample_size}")
  return Source(images.sample_image(int(config.sample_size)))


def load(path, config):
  """(image, its size before center_crop or None when not cropped)."""
  loaded = images.load_image(path, max_pixels=int(config.max_pixels))
  if not config.center_crop:
    return loaded, None
  return (center_crop(loaded, int(config.center_crop)),
          loaded.pixels.shape[:2])


def center_crop(loaded, size):
  h, w = loaded.pixels.shape[:2]
  if size > min(h, w) or size < 1:
    raise InputError(f"center_crop={size} does not fit image {loaded.path} "
                     f"({w}x{h})")
  t, l = (h - size) // 2, (w - size) // 2
  crop = lambda a: None if a is None else a[t:t + size, l:l + size]
  return dataclasses.replace(loaded, pixels=crop(loaded.pixels),
                             alpha=crop(loaded.alpha))


def describe(x):
  """W x H x C of an image, as messages name sizes."""
  return f"{x.shape[1]}x{x.shape[0]}x{x.shape[2]}"
