"""Objectives: what a method minimises, `objective(x, ax, y, weights)`::

  x        the candidate image, N x H x W x C (N = 1 inside a fit)
  ax       A(x), the operator's measurement of it (array or pytree)
  y        the observation (same structure as ax, leading axis 1), or None
           for a problem with no observation (a classifier's unit)
  weights  per-measurement weights (the inpainting mask, 1 = observed), or None

Each one returns a scalar to minimise, so a data term (masked MSE, L1,
Poisson NLL, the amplitude loss of phase retrieval, the normalized feature
distance of feature inversion), a regulariser on x itself and an objective
with no observation at all ("maximize": a classifier's unit) are each one
function. `get(name_or_fn)` resolves `config.loss`; pass a function for a
new one; `regularized(base, l2=, tv=)` adds weights on x to any of them.

Objectives are module-level functions (or come from a cached factory,
`regularized`): the compiled fit keys its program on the function object,
so equal configs share one compilation.
"""

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp

from dip_jax.errors import InputError
from dip_jax.solvers import tv as tv_prior

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
  """Mean absolute error over all elements; with weights, the masked-out
  elements count as zero."""
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
  """Phase retrieval's amplitude loss `mean (sqrt(I) - |A x|)^2`, with ax the
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


@register("maximize")
def maximize(x, ax, y=None, weights=None):
  """-mean(A x) over all elements (pytrees allowed): minimising it raises
  what the operator selects (a classifier's logit or unit, for activation
  maximization). Needs no observation; a y given is not used."""
  del x, y
  leaves = jax.tree.leaves(ax if weights is None else jax.tree.map(
      lambda a, w: a * w, ax, weights))
  return -sum(jnp.sum(a) for a in leaves) / sum(a.size for a in leaves)


@register("normalized_mse")
def normalized_mse(x, ax, y, weights=None):
  """||A x - y||^2 / ||y||^2, per leaf of the pytree, averaged over the
  leaves (feature inversion: each layer's features count alike, whatever
  their size and scale)."""
  del x
  _need(y, "normalized_mse")
  if weights is not None:
    ax = jax.tree.map(lambda a, w: a * w, ax, weights)
    y = jax.tree.map(lambda a, w: a * w, y, weights)
  ratios = jax.tree.leaves(jax.tree.map(
      lambda a, b: jnp.sum(jnp.square(a - b))
      / jnp.maximum(jnp.sum(jnp.square(b)), 1e-20), ax, y))
  return sum(ratios) / len(ratios)


def regularized(base, l2: float = 0.0, tv: float = 0.0,
                eps: float = 1e-3) -> Objective:
  """`base` plus weights on x itself: l2 * mean((x - 0.5)^2) (the distance
  from mid-grey, the zero of a mean-subtracted input) and
  `tv * TV_eps(x) / |x|` (the smoothed isotropic TV of `priors.tv.smooth_tv`, per element, as
  the tv_gradient method weighs it). Cached: equal settings give the same
  function object (one compiled fit); both weights 0 give `base` itself."""
  base = get(base)
  number = lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)
                      and math.isfinite(v))
  for key, value in (("l2", l2), ("tv", tv)):
    if not (number(value) and value >= 0):
      raise InputError(f"the {key} weight on x must be a number >= 0, got "
                       f"{value!r}")
  if not (number(eps) and eps > 0):
    raise InputError(f"the TV smoothing eps must be > 0, got {eps!r}")
  l2, tv, eps = float(l2), float(tv), float(eps)
  if l2 == 0 and tv == 0:
    return base
  return _regularized(base, l2, tv, eps)


@functools.lru_cache(maxsize=64)
def _regularized(base, l2, tv, eps):
  def objective(x, ax, y, weights=None):
    value = base(x, ax, y, weights)
    if l2:
      value = value + l2 * jnp.mean(jnp.square(x - 0.5))
    if tv:
      value = value + tv * tv_prior.smooth_tv(x, eps) / x.size
    return value
  objective.__name__ = objective.__qualname__ = (
      f"{getattr(base, '__name__', 'objective')}"
      + (f"+{l2:g}*l2" if l2 else "") + (f"+{tv:g}*tv" if tv else ""))
  return objective


def observed_mse(ax, y, weights=None):
  """MSE over the observed elements only (for PSNR to the observation)."""
  sq = jnp.square(ax - y)
  if weights is None:
    return jnp.mean(sq)
  weights = jnp.broadcast_to(weights, sq.shape)
  return jnp.sum(sq * weights) / jnp.maximum(jnp.sum(weights), 1.0)

