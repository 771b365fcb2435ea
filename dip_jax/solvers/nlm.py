"""Classical denoisers in JAX, jittable, for use inside a compiled fit
(DeepRED's regularization by denoising, `dip_jax/fit/watchers/admm.py`).

  nlm(x, sigma)   non-local means (Buades, Coll, Morel 2005) with the
                  per-pixel patch distance of scikit-image's fast mode:
                  the weight of a neighbour is exp(-max(d - 2 sigma^2, 0)
                  / h^2), d the mean squared difference of the two patches
                  over the patch and the channels.

No gradient is taken through them (DeepRED runs D off the gradient path),
so they are written for a cheap forward pass: one `lax.scan` over the
search offsets, each a shifted difference and a box filter.
"""

import jax
import jax.numpy as jnp


def nlm(x, sigma: float, patch_size: int = 5, patch_distance: int = 6,
        h: float | None = None):
  """Non-local means of x (N x H x W x C, or H x W x C) with noise std
  `sigma` (on x's scale), patches of `patch_size` px searched within
  `patch_distance` px; h = 0.8 sigma by default (scikit-image's advice
  for its fast mode)."""
  if x.ndim == 3:
    return nlm(x[None], sigma, patch_size, patch_distance, h)[0]
  h = 0.8 * sigma if h is None else h
  n, height, width, c = x.shape
  p, r = patch_size // 2, patch_distance
  m = p + r
  # Reflect padding needs the margin to be smaller than the image.
  mode = "reflect" if m < min(height, width) else "edge"
  xp = jnp.pad(x, ((0, 0), (m, m), (m, m), (0, 0)), mode=mode)
  # The reference pixels with their patch margin.
  center = xp[:, r:r + height + 2 * p, r:r + width + 2 * p]
  offsets = jnp.asarray([(dy, dx) for dy in range(-r, r + 1)
                         for dx in range(-r, r + 1)], jnp.int32)
  inv_h2 = 1.0 / max(h * h, 1e-12)
  var2 = 2.0 * sigma * sigma

  def one_offset(carry, off):
    num, den = carry
    shifted = jax.lax.dynamic_slice(
        xp, (0, r + off[0], r + off[1], 0),
        (n, height + 2 * p, width + 2 * p, c))
    sq = jnp.mean(jnp.square(center - shifted), axis=-1)
    d = jax.lax.reduce_window(sq, 0.0, jax.lax.add,
                              (1, patch_size, patch_size), (1, 1, 1),
                              "VALID") / (patch_size * patch_size)
    w = jnp.exp(-jnp.maximum(d - var2, 0.0) * inv_h2)
    num = num + w[..., None] * shifted[:, p:p + height, p:p + width]
    return (num, den + w), None

  init = (jnp.zeros_like(x), jnp.zeros(x.shape[:3], x.dtype))
  (num, den), _ = jax.lax.scan(one_offset, init, offsets)
  return num / den[..., None]

