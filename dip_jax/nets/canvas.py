"""The canvas a net works on: an image padded so that every level of an
encoder-decoder of depth d halves it evenly (a multiple of 2**d), and
cropped back after. Reflect padding keeps the border's statistics, which a
constant border would not.
"""

import numpy as np


def canvas_padding(h: int, w: int, multiple: int, minimum: int = 0):
  """Per-side (top, bottom, left, right) padding to the next multiple.

  The canvas is also at least `minimum` on each side, so the deepest level of
  an encoder-decoder still has a map large enough for its 3x3 convolutions.
  """
  def split(n):
    target = max(-(-n // multiple) * multiple, minimum)
    extra = target - n
    return extra // 2, extra - extra // 2

  return (*split(h), *split(w))


def pad_canvas(x: np.ndarray, padding) -> np.ndarray:
  """Reflect-pads H x W x C by `padding` (edge mode for 1-pixel-wide images,
  which have nothing to reflect)."""
  t, b, l, r = padding
  mode = "reflect" if min(x.shape[:2]) > 1 else "edge"
  return np.pad(x, ((t, b), (l, r), (0, 0)), mode=mode)


def crop_canvas(x, padding, h: int, w: int):
  """Inverse of `pad_canvas` on the two spatial axes just before channels."""
  t, _, l, _ = padding
  return x[..., t:t + h, l:l + w, :]
