"""Objectives: what a method minimises, `objective(x, ax, y, weights)`.

  x        the candidate image, N x H x W x C (N = 1 inside a fit)
  ax       A(x), the operator's measurement of it (array or pytree)
  y        the observation (same structure as ax, leading axis 1), or None
           for a problem with no observation (a classifier's unit)
  weights  per-measurement weights (the inpainting mask, 1 = observed), or None

Each one returns a scalar to minimise, so a data term (masked MSE, L1,
Poisson NLL, the amplitude loss of phase retrieval), a regulariser on x
itself and an objective with no observation at all are each one function.
`get(name_or_fn)` resolves `config.loss`; pass a function for a new one.

Objectives are module-level functions: the compiled fit keys its program on
the function object, so equal configs share one compilation.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from dip_jax.errors import InputError

Objective = Callable[..., jax.Array]
OBJECTIVES: dict[str, Objective] = {}


def register(name: str):
  def wrap(fn):
    OBJECTIVES[name] = fn
    return fn
  return wrap


def get(objective) -> Objective:
  """A registered objective by name, or a callable as it is."""
  if callable(objective):
    return objective
  if objective not in OBJECTIVES:
    raise InputError(f"unknown loss {objective!r}; known: {sorted(OBJECTIVES)}")
  return OBJECTIVES[objective]


def _need(y, name):
  if y is None:
    raise InputError(f"objective {name!r} needs an observation y")


@register("mse")
def mse(x, ax, y, weights=None):
  """Mean squared error over all elements; with weights, the masked-out
  elements count as zero (the original's mse(out * mask, x0 * mask))."""
  del x
  _need(y, "mse")
  diff = ax - y
  if weights is not None:
    diff = diff * weights
  return jnp.mean(jnp.square(diff))


@register("l1")
def l1(x, ax, y, weights=None):
  del x
  _need(y, "l1")
  diff = jnp.abs(ax - y)
  if weights is not None:
    diff = diff * weights
  return jnp.mean(diff)


@register("poisson")
def poisson_nll(x, ax, y, weights=None):
  """Poisson negative log-likelihood of counts y at rates ax (up to a
  constant): mean(ax - y log ax)."""
  del x
  _need(y, "poisson")
  rate = jnp.maximum(ax, 1e-12)
  nll = rate - y * jnp.log(rate)
  if weights is not None:
    nll = nll * weights
  return jnp.mean(nll)


@register("amplitude")
def amplitude(x, ax, y, weights=None):
  """Phase retrieval's amplitude loss mean (sqrt(I) - |A x|)^2, with ax the
  complex field A x and y the measured intensities I (pytrees allowed)."""
  del x
  _need(y, "amplitude")
  terms = jax.tree.map(
      lambda a, i: jnp.square(jnp.sqrt(jnp.maximum(i, 0.0)) - jnp.abs(a)),
      ax, y)
  if weights is not None:
    terms = jax.tree.map(lambda t, w: t * w, terms, weights)
  leaves = jax.tree.leaves(terms)
  return sum(jnp.sum(t) for t in leaves) / sum(t.size for t in leaves)


def observed_mse(ax, y, weights=None):
  """MSE over the observed elements only (for PSNR to the observation)."""
  sq = jnp.square(ax - y)
  if weights is None:
    return jnp.mean(sq)
  weights = jnp.broadcast_to(weights, sq.shape)
  return jnp.sum(sq * weights) / jnp.maximum(jnp.sum(weights), 1.0)

