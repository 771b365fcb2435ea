"""Blur kernels (Gaussian, box, motion) and the same-size blur they define.

Every kernel is normalised to sum 1 and has an odd side; the blur pads by
reflection (d c b | a b c d), so the output is the input's size with no dark
frame. Rank-one kernels (Gaussian, box) run as two 1-D passes.
"""

import functools
import math

import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError
from dip_jax.nets import resampling


def _number(value, name: str, positive: bool = True) -> float:
  """`value` as a finite float (> 0 if `positive`), else InputError."""
  ok = (isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))
  if not ok or (positive and value <= 0):
    need = "a positive number" if positive else "a finite number"
    raise InputError(f"{name} must be {need}, got {value!r}")
  return float(value)


def _odd_size(value, name: str) -> int:
  if (isinstance(value, (bool, np.bool_))
      or not isinstance(value, (int, float, np.integer, np.floating))
      or not float(value).is_integer() or value < 1 or int(value) % 2 == 0):
    raise InputError(f"{name} must be an odd positive integer, got {value!r}")
  return int(value)


BLUR_KINDS = ("gaussian", "box", "motion")


def blur_kernel(kind: str, *, size=None, sigma=None, length=None,
                angle=0.0) -> np.ndarray:
  """A normalised (sum 1) 2-D blur kernel of odd side.

  Args:
    kind: "gaussian" (needs `sigma`; `size` defaults to ceil(6 sigma) made
      odd), "box" (needs `size`) or "motion" (a straight motion of `length`
      pixels at `angle` degrees counter-clockwise from the +x axis, centred;
      `size` defaults to the smallest odd side that holds it).
    size: kernel side, odd.
    sigma: Gaussian standard deviation in pixels.
    length: motion length in pixels.
    angle: motion direction in degrees.

  Returns:
    float32 size x size array. Every kernel is symmetric under a 180 degree
    rotation, so correlating with it (what the conv does) is convolving.
  """
  if kind == "gaussian":
    sigma = _number(sigma, "blur sigma")
    size = _odd_size(math.ceil(6 * sigma) | 1 if size is None else size, "blur size")
    t = np.arange(size) - size // 2
    g = np.exp(-0.5 * (t / sigma) ** 2)
    k = np.outer(g, g)
  elif kind == "box":
    if size is None:
      raise InputError("blur size is required for a box blur")
    size = _odd_size(size, "blur size")
    k = np.ones((size, size))
  elif kind == "motion":
    length = _number(length, "blur length")
    angle = _number(angle, "blur angle", positive=False)
    # Cell i spans [i - 0.5, i + 0.5]; the segment reaches length / 2.
    need = 2 * max(math.ceil(length / 2 - 0.5), 0) + 1
    size = _odd_size(need if size is None else size, "blur size")
    if size < need:
      raise InputError(f"a motion blur of length {length:g} needs blur size >= {need}, got {size}")
    k = _motion_kernel(length, angle, size)
  else:
    raise InputError(f"blur kind must be one of {BLUR_KINDS}, got {kind!r}")
  return (k / k.sum()).astype(np.float32)


def _motion_kernel(length: float, angle: float, size: int) -> np.ndarray:
  """Length of the centred segment inside each pixel's unit cell.

  Weighting each cell by the time the moving point spends in it (exact
  segment/square clipping, Liang-Barsky) makes a horizontal motion of odd
  integer length an exact box and degrades gracefully for other angles.
  """
  theta = math.radians(angle)
  # Rows grow downwards, so counter-clockwise means negative row direction.
  dx, dy = length * math.cos(theta), -length * math.sin(theta)
  x0, y0 = -dx / 2, -dy / 2
  r = size // 2
  ys, xs = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
  t0, t1 = np.zeros_like(xs), np.ones_like(xs)
  # P(t) = P0 + t d stays in the cell while p * t <= q for all four sides.
  for p, q in ((-dx, x0 - (xs - 0.5)), (dx, xs + 0.5 - x0),
               (-dy, y0 - (ys - 0.5)), (dy, ys + 0.5 - y0)):
    if abs(p) < 1e-12:
      t1 = np.where(q < 0, 0.0, t1)  # Parallel to this side and outside it.
    elif p < 0:
      t0 = np.maximum(t0, q / p)
    else:
      t1 = np.minimum(t1, q / p)
  return np.clip(t1 - t0, 0.0, None) * length


@functools.lru_cache(maxsize=64)
def blur_fn(kernel_bytes: bytes, size: int):
  """The batched (N x H x W x C) blur by a kernel given as bytes (hashable,
  so equal kernels share one function and one compiled program)."""
  kernel = np.frombuffer(kernel_bytes, np.float32).reshape(size, size)
  u, s, vt = np.linalg.svd(kernel.astype(np.float64))
  # Gaussian and box kernels are rank one: two 1-D passes cost 2k taps per
  # pixel instead of k^2.
  separable = s[1] <= 1e-6 * s[0] if size > 1 else True
  col = (u[:, 0] * s[0]).astype(np.float32)
  row = vt[0].astype(np.float32)
  pad = size // 2

  def blur(x):
    h, w = x.shape[1:3]
    if pad >= min(h, w):
      raise InputError(f"blur kernel of size {size} needs an image larger "
                       f"than {pad} pixels per side; got {h}x{w}")
    x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    if separable:
      x = resampling.depthwise_correlate(x, col[:, None])
      return resampling.depthwise_correlate(x, row[None, :])
    return resampling.depthwise_correlate(x, kernel)
  return blur
