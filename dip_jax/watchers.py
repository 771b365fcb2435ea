"""Watchers: small pure updates the DIP step applies after its optimizer
update, optax-style, each on its own fields of the fit state.

  ema    the exponential average of the outputs (the paper's "output
         averaging"): its state is the average image.
  guard  the divergence guard (the original's backtracking): a snapshot of
         the parameters and optimizer state that fit well, restored when
         the loss turns non-finite or the fit to y drops.

The early-stopping detectors (`stopping.py`) have the same shape but run
outside the per-restart vmap (see `priors/dip.step_restarts`). A new watcher
(a posterior mean, say) adds its fields to `FitState` and one update here.
"""

import dataclasses
from typing import Any

import flax
import jax
import jax.numpy as jnp


def ema_update(decay: float, ema, out, step):
  """The running average after output `out` of step `step` (0-based): the
  first output starts it, so no zero image biases the early average."""
  return jnp.where(step == 0, out, decay * ema + (1 - decay) * out)


@dataclasses.dataclass(frozen=True)
class GuardSpec:
  psnr_drop: float   # dB drop in the fit to y (PSNR to y) that counts as a jump
  every: int         # steps between snapshots of a good state


@flax.struct.dataclass
class GuardState:
  """The snapshot the guard goes back to."""
  params: Any
  opt_state: Any
  psnr: jax.Array    # the snapshot's fit to y (PSNR to y), -inf at first


def guard_init(params, opt_state) -> GuardState:
  return GuardState(params=params, opt_state=opt_state,
                    psnr=jnp.array(-jnp.inf, jnp.float32))


def guard_update(spec: GuardSpec, guard: GuardState, step, loss, fit_db,
                 old, new):
  """One step of the guard: `old` and `new` are the (params, opt_state)
  before and after the optimizer step, `fit_db` the step's fit to y.

  A non-finite loss, or a fit more than `psnr_drop` below the snapshot's,
  sends the fit back to the snapshot (optimizer moments included). Every
  `every` steps the state becomes the snapshot, but only if it fits at
  least as well: a slow slide (a learning rate far too large) never turns
  into the reference, so the snapshot holds the best fit seen at those
  steps and the guard compares with it.

  Returns ((params, opt_state) to continue from, new GuardState, bad).
  """
  bad = ~jnp.isfinite(loss) | (fit_db < guard.psnr - spec.psnr_drop)
  snap = ~bad & (step % spec.every == 0) & (fit_db >= guard.psnr)
  # lax.cond, not jnp.where: the copies of the parameter and optimizer trees
  # then happen only on the rare snapshot/restore steps (a where over the
  # trees every step cost ~13 % of a 64 px step).
  pick = lambda c, yes, no: jax.lax.cond(c, lambda: yes, lambda: no)
  snapshot = pick(snap, old, (guard.params, guard.opt_state))
  keep = pick(bad, (guard.params, guard.opt_state), new)
  guard = GuardState(params=snapshot[0], opt_state=snapshot[1],
                     psnr=jnp.where(snap, fit_db, guard.psnr))
  return keep, guard, bad


# --- SGLD (Cheng et al., CVPR 2019): parameter noise and the posterior mean.

@dataclasses.dataclass(frozen=True)
class SgldSpec:
  noise_std: float   # std of the Gaussian noise added to every conv kernel
                     # after each optimizer step (Cheng et al.: 2 x lr)
  burn_in: int       # steps before the first posterior sample
  sample_every: int  # steps between samples after the burn-in


@flax.struct.dataclass
class PosteriorState:
  """Running sums of the sampled outputs: their mean is the answer, their
  spread a per-pixel uncertainty."""
  total: jax.Array
  total_sq: jax.Array
  count: jax.Array   # int32: samples taken


def posterior_init(out) -> PosteriorState:
  zeros = jnp.zeros_like(out)
  return PosteriorState(total=zeros, total_sq=zeros,
                        count=jnp.zeros((), jnp.int32))


def posterior_update(spec: SgldSpec, post: PosteriorState, out,
                     step) -> PosteriorState:
  """Adds `out` (the output of 0-based step `step`) as a sample when the
  burn-in is over and the step falls on the sampling grid."""
  take = (step >= spec.burn_in) & ((step - spec.burn_in)
                                   % spec.sample_every == 0)
  w = take.astype(out.dtype)
  return PosteriorState(total=post.total + w * out,
                        total_sq=post.total_sq + w * out * out,
                        count=post.count + take.astype(jnp.int32))


def _counts(post: PosteriorState):
  """The sample count shaped to broadcast against `total`: outside the
  per-restart vmap `count` is (R,) and `total` (R, ...)."""
  extra = post.total.ndim - post.count.ndim
  return post.count.reshape(post.count.shape + (1,) * extra)


def posterior_mean(post: PosteriorState, fallback):
  """The mean of the samples, or `fallback` before the first one."""
  count = _counts(post)
  n = jnp.maximum(count, 1).astype(post.total.dtype)
  return jnp.where(count > 0, post.total / n, fallback)


def posterior_std(post: PosteriorState):
  """Per-pixel standard deviation of the samples (0 before two)."""
  n = jnp.maximum(_counts(post), 1).astype(post.total.dtype)
  mean = post.total / n
  return jnp.sqrt(jnp.maximum(post.total_sq / n - mean * mean, 0.0))


def perturb_kernels(params, key, std: float):
  """params with N(0, std^2) noise added to every conv kernel (4-D leaf),
  the Langevin part of the SGLD step; biases and norms stay as they are,
  as in Cheng et al.'s code."""
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(key, len(leaves))
  return jax.tree.unflatten(treedef, [
      p + std * jax.random.normal(k, p.shape, p.dtype) if p.ndim == 4 else p
      for p, k in zip(leaves, keys)])
