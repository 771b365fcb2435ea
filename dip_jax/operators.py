"""Forward operators A (net output -> observation space) and data terms.

An operator is any differentiable JAX function of the reconstruction (an
N x H x W x C array in [0, 1]); a data term is any differentiable function
`(prediction, observed, mask) -> scalar`. Both are looked up by name from
registries, so a new task adds one entry here and a config names it.
Builders receive the config's `operator` block, so operators with settings
(a downsampling factor, a blur kernel) read them from there.
"""

from typing import Callable

import jax.numpy as jnp

from dip_jax.errors import InputError

Operator = Callable[[jnp.ndarray], jnp.ndarray]
OPERATORS: dict[str, Callable[..., Operator]] = {}
DATA_TERMS: dict[str, Callable] = {}


def register_operator(name: str):
  def wrap(builder):
    OPERATORS[name] = builder
    return builder
  return wrap


def register_data_term(name: str):
  def wrap(fn):
    DATA_TERMS[name] = fn
    return fn
  return wrap


def build_operator(op_cfg) -> Operator:
  name = op_cfg.get("name", "identity")
  if name not in OPERATORS:
    raise InputError(f"unknown operator {name!r}; known: {sorted(OPERATORS)}")
  return OPERATORS[name](op_cfg)


def get_data_term(name: str):
  if name not in DATA_TERMS:
    raise InputError(f"unknown loss {name!r}; known: {sorted(DATA_TERMS)}")
  return DATA_TERMS[name]


@register_operator("identity")
def _identity(op_cfg=None) -> Operator:
  """Denoising, JPEG artifact removal, blind restoration (and, with a mask in
  the loss, inpainting)."""
  del op_cfg
  return _identity_fn


def _identity_fn(x):
  # Module-level, so equal configs give equal FitSpecs and reuse compiles.
  return x


@register_data_term("mse")
def mse(pred, observed, mask=None):
  """Mean squared error over all elements; with a mask, the masked-out
  elements count as zero (the original's mse(out * mask, x0 * mask))."""
  diff = pred - observed
  if mask is not None:
    diff = diff * mask
  return jnp.mean(jnp.square(diff))


@register_data_term("l1")
def l1(pred, observed, mask=None):
  diff = jnp.abs(pred - observed)
  if mask is not None:
    diff = diff * mask
  return jnp.mean(diff)


def observed_mse(pred, observed, mask=None):
  """MSE over the observed elements only (for PSNR to the observation)."""
  sq = jnp.square(pred - observed)
  if mask is None:
    return jnp.mean(sq)
  mask = jnp.broadcast_to(mask, sq.shape)
  return jnp.sum(sq * mask) / jnp.maximum(jnp.sum(mask), 1.0)
