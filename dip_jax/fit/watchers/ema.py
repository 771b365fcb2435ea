"""The output average (the paper's "output averaging"): an exponential
moving average of the net's outputs, the fit's answer when `decay` > 0."""

import dataclasses

import jax.numpy as jnp

from dip_jax import metrics
from dip_jax.fit.watchers import StepView, Watcher


@dataclasses.dataclass(frozen=True)
class Ema(Watcher):
  """`decay` 0 keeps the average equal to the output (no averaging): the
  history still has its `psnr_ema`, and the answer stays the output."""
  decay: float = 0.99
  name = "ema"

  def init(self, first: StepView):
    return first.out

  def update(self, w, view: StepView):
    # The first output starts the average: no zero image biases it.
    return jnp.where(view.step == 0, view.out,
                     self.decay * w + (1 - self.decay) * view.out)

  def answer(self, w, current):
    return w if self.decay > 0 else current

  def metrics(self, w, clean):
    if clean is None:
      return {}
    return {"psnr_ema": metrics.psnr_jax(w, clean)}
