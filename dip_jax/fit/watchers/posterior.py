"""SGLD's posterior moments (Bayesian DIP, Cheng et al., CVPR 2019): running
sums of the outputs sampled after a burn-in; their mean is the answer,
their spread a per-pixel uncertainty. (The Langevin noise itself is an
optimizer transformation: `dip_jax.fit.optim.kernel_noise`.)"""

import dataclasses

import flax
import jax
import jax.numpy as jnp

from dip_jax.fit.watchers import StepView, Watcher


@flax.struct.dataclass
class PosteriorState:
  total: jax.Array
  total_sq: jax.Array
  count: jax.Array   # int32: samples taken


@dataclasses.dataclass(frozen=True)
class Posterior(Watcher):
  burn_in: int = 0       # steps before the first sample
  sample_every: int = 1  # steps between samples after the burn-in
  name = "posterior"
  own_answer = True

  def init(self, first: StepView):
    zeros = jnp.zeros_like(first.out)
    return PosteriorState(total=zeros, total_sq=zeros,
                          count=jnp.zeros((), jnp.int32))

  def update(self, w, view: StepView):
    """Adds the step's output as a sample when the burn-in is over and the
    step falls on the sampling grid."""
    step, out = view.step, view.out
    take = (step >= self.burn_in) & ((step - self.burn_in)
                                     % self.sample_every == 0)
    k = take.astype(out.dtype)
    return PosteriorState(total=w.total + k * out,
                          total_sq=w.total_sq + k * out * out,
                          count=w.count + take.astype(jnp.int32))

  def answer(self, w, current):
    return posterior_mean(w, current)


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
