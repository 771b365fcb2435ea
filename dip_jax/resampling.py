"""Resampling kernels shared by the networks (Lanczos downsampling layers) and
the forward operators (super-resolution's degradation model).

The Lanczos-2 kernel follows the DIP paper's downsampler: support a = 2, phase
0.5 (the kernel is centred between pixels, so its side is even: 4 * factor),
weights w(t) = sinc(t) * sinc(t / a) at t = offset / factor, normalised to sum
to one. It is separable, so we build the 1-D taps and use them twice.
"""

import numpy as np
import jax
import jax.numpy as jnp


def lanczos_taps(factor: int, support: int = 2) -> np.ndarray:
  """1-D Lanczos taps for downsampling by `factor` with phase 0.5."""
  if factor < 1:
    raise ValueError(f"downsampling factor must be >= 1, got {factor}")
  width = 2 * support * factor  # even: the phase-0.5 kernel has no centre tap
  # Tap centres sit at half-integer offsets from the kernel's middle.
  offsets = (np.arange(width) - (width - 1) / 2.0) / factor
  taps = np.sinc(offsets) * np.sinc(offsets / support)
  return (taps / taps.sum()).astype(np.float32)


def lanczos_kernel_2d(factor: int, support: int = 2) -> np.ndarray:
  """The separable 2-D kernel, outer product of `lanczos_taps` (side 4f)."""
  t = lanczos_taps(factor, support)
  return np.outer(t, t)


def lanczos_downsample(x: jax.Array, factor: int, support: int = 2,
                       preserve_size: bool = True) -> jax.Array:
  """Depthwise Lanczos filtering and decimation by `factor`, NHWC.

  With `preserve_size`, the input is edge-padded by (k - f) / 2 on each side
  (the paper's replication padding), so an H x W input gives H/f x W/f.
  """
  taps = jnp.asarray(lanczos_taps(factor, support), x.dtype)
  k = taps.shape[0]
  if preserve_size:
    p = (k - factor) // 2
    x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="edge")
  c = x.shape[-1]
  # Two 1-D depthwise passes: rows then columns (cheaper than a k x k kernel).
  kh = jnp.tile(taps.reshape(k, 1, 1, 1), (1, 1, 1, c))
  kw = jnp.tile(taps.reshape(1, k, 1, 1), (1, 1, 1, c))
  dn = ("NHWC", "HWIO", "NHWC")
  x = jax.lax.conv_general_dilated(x, kh, (factor, 1), "VALID",
                                   dimension_numbers=dn, feature_group_count=c)
  x = jax.lax.conv_general_dilated(x, kw, (1, factor), "VALID",
                                   dimension_numbers=dn, feature_group_count=c)
  return x
