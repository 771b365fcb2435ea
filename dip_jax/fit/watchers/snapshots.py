"""A fixed number of past images spread over a growing span of steps, for a
detector whose answer is an image from a step it only learns later (the
band stop in stopping.py answers with the image from the middle of a band
whose end it has not yet seen).

The store keeps the images of steps base, base + s, base + 2 s, ... (s the
stride, 1 at first). When all K slots are full, every other image is
dropped and the stride doubles. So K images always span `base` to within
one stride of the latest step, and every step up to the last stored one
has a stored image at most half a stride, (latest - base) / K steps, away
-- e.g. K = 16 over a 600-step band: within 32 steps, where the output
average it holds moves little (its mean age is ~100 steps). The band stop
asks for the band's middle, well inside that span. Memory: K images per
restart, and in every checkpoint.

A pure pytree with jit/vmap-friendly updates: the thinning is a lax.cond
(a select under vmap, K image copies per step: small beside the net's
step).
"""

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Snapshots:
  images: jax.Array   # K x image; slot j holds step base + j * stride
  count: jax.Array    # int32 slots in use
  stride: jax.Array   # int32 steps between slots


def init(image, slots: int) -> Snapshots:
  if slots < 2 or slots % 2:
    raise ValueError(f"snapshot slots must be an even number >= 2, "
                     f"got {slots}")
  return Snapshots(images=jnp.zeros((slots, *image.shape), image.dtype),
                   count=jnp.zeros((), jnp.int32),
                   stride=jnp.ones((), jnp.int32))


def _thin(s: Snapshots) -> Snapshots:
  """Every other image kept (slots 0, 2, 4, ... -> 0, 1, 2, ...), stride x 2."""
  k = s.images.shape[0]
  kept = s.images[0::2]
  return Snapshots(
      images=jnp.concatenate([kept, jnp.zeros_like(kept)])[:k],
      count=jnp.asarray(k // 2, jnp.int32), stride=s.stride * 2)


def add(s: Snapshots, image, t, base, on) -> Snapshots:
  """Stores `image` as step t's when `on`, t >= base and t falls on the
  stride; full slots are thinned first. (After thinning, t still falls on
  the doubled stride: it is base + K * stride with K even.)"""
  k = s.images.shape[0]
  due = on & (t >= base) & ((t - base) % s.stride == 0)
  s = jax.lax.cond(due & (s.count == k), _thin, lambda x: x, s)
  slot = jnp.minimum(s.count, k - 1)
  stored = jax.lax.dynamic_update_index_in_dim(
      s.images, image.astype(s.images.dtype), slot, 0)
  return Snapshots(images=jnp.where(due, stored, s.images),
                   count=s.count + due.astype(jnp.int32), stride=s.stride)


def nearest(s: Snapshots, t, base):
  """(image, its step) of the stored step nearest t (the first slot's
  before any is stored: callers check `count`)."""
  j = jnp.clip(jnp.round((t - base) / s.stride).astype(jnp.int32), 0,
               jnp.maximum(s.count - 1, 0))
  image = jax.lax.dynamic_index_in_dim(s.images, j, 0, keepdims=False)
  return image, (base + j * s.stride).astype(jnp.int32)
