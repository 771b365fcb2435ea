"""Resampling kernels shared by the networks (Lanczos downsampling layers) and
the forward operators (super-resolution's degradation model).

Downsampling by an integer factor f maps each f x f block of input pixels to
one output pixel whose centre is the block's centre. A continuous kernel w(t)
of half-width `support` (in output pixels) is sampled at the input pixels
around that centre, t = offset / f, and normalised to sum to one. The
sampling grid depends on the parity of f:

* even f: the block centre lies between input pixels, so the offsets are
  half-integers (the DIP paper's "phase 0.5") and the kernel has 2 * support * f
  taps (4f for support 2), e.g. 8 taps for f = 2;
* odd f: the block centre is an input pixel, so the offsets are integers and
  the kernel has 2 * support * f - 1 taps (the two taps at |t| = support would
  be zeros for both Lanczos and cubic kernels, so they are dropped).

In both cases k - f is even, so padding (k - f) / 2 pixels on each side keeps
every kernel centred on its block and turns H x W into H/f x W/f. The padding
replicates the edge pixels (the paper's ReplicationPad2d).

Kernels:
  * Lanczos-2 (the DIP paper's downsampler): w(t) = sinc(t) * sinc(t / 2).
  * Bicubic: Keys' cubic convolution with a = -0.5, stretched by f (the
    antialiased reduction PIL's `Image.resize(..., BICUBIC)` does; in the
    interior our output equals PIL's; PIL shrinks and renormalises the kernel
    at the image border where we replicate the edge instead).
  * Box: the plain block mean (f taps of 1/f, no padding).
"""

import numpy as np
import jax
import jax.numpy as jnp
from PIL import Image

from dip_jax.errors import InputError


def check_factor(factor, name: str = "downsampling factor") -> int:
  """`factor` as an int; integral floats (4.0) pass, bools and 3.5 do not.

  Raises:
    InputError: naming `name`, for anything but a positive integer.
  """
  numeric = (isinstance(factor, (int, float, np.integer, np.floating))
             and not isinstance(factor, (bool, np.bool_)))
  if not numeric or not float(factor).is_integer() or factor < 1:
    raise InputError(f"{name} must be a positive integer, got {factor!r}")
  return int(factor)


def block_offsets(factor: int, support: float) -> np.ndarray:
  """Tap positions relative to the block centre, in output pixels (t above).

  Args:
    factor: integer downsampling factor f >= 1.
    support: the kernel's half-width in output pixels (2 for Lanczos-2 and
      cubic); must be an integer so the tap count is an integer.

  Returns:
    float64 array of k offsets, k = 2*support*f (f even) or that minus 1
    (f odd), symmetric about zero.
  """
  factor = check_factor(factor)
  width = int(2 * support * factor) - (factor % 2)
  return (np.arange(width) - (width - 1) / 2.0) / factor


def lanczos_taps(factor: int, support: int = 2) -> np.ndarray:
  """1-D Lanczos taps for downsampling by `factor` (see the module doc)."""
  t = block_offsets(factor, support)
  taps = np.sinc(t) * np.sinc(t / support)
  return (taps / taps.sum()).astype(np.float32)


def box_taps(factor: int) -> np.ndarray:
  """1-D box taps: the mean of each block of `factor` pixels."""
  factor = check_factor(factor)
  return np.full(factor, 1.0 / factor, np.float32)


# Separable taps of the downsampling kernels; "bicubic" is jax.image.resize's
# antialiased cubic (see operators.downsample), which matches PIL's.
DOWNSAMPLE_TAPS = {"lanczos2": lanczos_taps, "box": box_taps}
DOWNSAMPLE_KERNELS = ("lanczos2", "bicubic", "box")


def lanczos_kernel_2d(factor: int, support: int = 2) -> np.ndarray:
  """The separable 2-D kernel, outer product of `lanczos_taps`."""
  t = lanczos_taps(factor, support)
  return np.outer(t, t)


def depthwise_correlate(x: jax.Array, kernel, strides=(1, 1)) -> jax.Array:
  """VALID per-channel correlation of NHWC `x` with one 2-D kernel.

  Args:
    x: N x H x W x C array.
    kernel: kh x kw array, applied to every channel alone (depthwise).
    strides: (row, column) strides.

  Returns:
    N x H' x W' x C with H' = (H - kh) // sh + 1 (likewise W').
  """
  c = x.shape[-1]
  kernel = jnp.asarray(kernel, x.dtype)
  kh, kw = kernel.shape
  kernel = jnp.tile(kernel.reshape(kh, kw, 1, 1), (1, 1, 1, c))
  return jax.lax.conv_general_dilated(
      x, kernel, tuple(strides), "VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c)


def separable_downsample(x: jax.Array, taps, factor: int,
                         preserve_size: bool = True) -> jax.Array:
  """Depthwise separable filtering with 1-D `taps` and decimation, NHWC.

  Linear in `x` (edge padding, convolutions and striding all are), so
  `jax.linear_transpose` gives its adjoint.

  Args:
    x: N x H x W x C array.
    taps: 1-D taps of length k >= factor, applied along rows then columns.
    factor: integer decimation factor.
    preserve_size: edge-pad (k - f) / 2 pixels per side (the extra pixel on
      the bottom/right when k - f is odd) so H x W gives H/f x W/f when f
      divides H and W (otherwise floor of the padded VALID size).

  Returns:
    The N x H' x W' x C downsampled array.
  """
  taps = jnp.asarray(taps, x.dtype)
  k = taps.shape[0]
  if preserve_size:
    lo = max(k - factor, 0) // 2
    hi = max(k - factor, 0) - lo
    if lo or hi:
      x = jnp.pad(x, ((0, 0), (lo, hi), (lo, hi), (0, 0)), mode="edge")
  # Two 1-D passes (k + k taps per pixel instead of k * k); the first pass
  # already decimates rows, so the second runs on f times fewer rows.
  x = depthwise_correlate(x, taps[:, None], (factor, 1))
  return depthwise_correlate(x, taps[None, :], (1, factor))


def lanczos_downsample(x: jax.Array, factor: int, support: int = 2,
                       preserve_size: bool = True) -> jax.Array:
  """Depthwise Lanczos filtering and decimation by `factor`, NHWC.

  With `preserve_size`, the input is edge-padded by (k - f) / 2 on each side
  (the paper's replication padding), so an H x W input gives H/f x W/f.
  """
  return separable_downsample(x, lanczos_taps(factor, support), factor,
                              preserve_size)


def upsample_bicubic(x, factor: int, clip: bool = True) -> np.ndarray:
  """Bicubic upsampling by `factor`, the usual super-resolution baseline.

  Uses PIL's `Image.resize(..., Image.BICUBIC)` on each channel as a 32-bit
  float ("F") image, so nothing is quantised to 8 bits. PIL's geometry is
  pixel-centred (output pixel i samples input position (i + 0.5) / f - 0.5),
  the same convention as our downsamplers, and it shrinks the kernel at the
  borders instead of padding. `jax.image.resize(x, shape, "cubic",
  antialias=True)` does the same (Keys a = -0.5, kernel renormalised at the
  borders) and agrees to 5e-6 (measured at x2, x3, x4, x8); PIL stays
  because it is the reference the papers' bicubic numbers come from, and
  this is its exact output.

  Args:
    x: H x W or H x W x C (numpy or JAX) array.
    factor: positive integer scale.
    clip: clip to [0, 1]; the cubic kernel's negative lobes overshoot edges.

  Returns:
    float32 numpy array of shape (H*f, W*f) + x.shape[2:].
  """
  factor = check_factor(factor)
  x = np.asarray(x, np.float32)
  if x.ndim not in (2, 3):
    raise InputError(f"upsample_bicubic expects H x W or H x W x C, got shape {x.shape}")
  planes = x[..., None] if x.ndim == 2 else x
  h, w = planes.shape[:2]
  out = np.stack([
      np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c]))
                 .resize((w * factor, h * factor), Image.BICUBIC), np.float32)
      for c in range(planes.shape[-1])], axis=-1)
  if clip:
    out = np.clip(out, 0.0, 1.0)
  return out[..., 0] if x.ndim == 2 else out
