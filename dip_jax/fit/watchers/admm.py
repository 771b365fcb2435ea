"""DeepRED (Mataev, Elad, Milanfar, ICCVW 2019) as a watcher of the DIP
fit: ADMM couples the net's output f = f_theta(z) with an image x that a
denoiser D regularizes by RED (Romano et al. 2017), with u the scaled dual:

  theta:  one Adam step on  data(A f, y) + mu * mean((f - x + u)^2)
  x:      x = (beta * D(x) + mu * (f + u)) / (beta + mu)   (a fixed-point
          step of RED's x-subproblem; D(x) refreshed every `every` steps
          and held in between, as in their code)
  u:      u = u + f - x

D never enters a gradient. The answer is x. Settings from their notebooks:
denoising mu = beta = 0.5, sigma_f = 3 (D's noise level, 0-255 scale);
SR mu = 0.06, beta = 0.05, sigma_f = 5. D here is non-local means in JAX
(`nlm.nlm`), the denoiser their notebooks use by default.
"""

import dataclasses

import flax
import jax
import jax.numpy as jnp

from dip_jax.fit.watchers import StepView, Watcher
from dip_jax.solvers import nlm


@dataclasses.dataclass(frozen=True)
class Admm(Watcher):
  """DeepRED's ADMM variables as a watcher: its coupling is a loss term of
  the net's objective, its x the fit's answer."""
  mu: float          # weight of the ADMM coupling in the net's loss
  beta: float        # weight of the RED prior in the x step
  every: int         # steps between denoiser calls
  sigma: float       # D's noise level on the [0, 1] scale
  patch_size: int = 5
  patch_distance: int = 6
  name = "admm"
  own_answer = True

  def init(self, first: StepView):
    return init(first.out)

  def update(self, w, view: StepView):
    return update(self, w, view.out, view.step)

  def loss(self, w, out):
    return coupling(self, w, out)

  def answer(self, w, current):
    del current
    return w.x

  def denoise(self, x):
    return nlm.nlm(x, self.sigma, self.patch_size, self.patch_distance)


@flax.struct.dataclass
class RedState:
  x: jax.Array       # the ADMM image (the answer)
  u: jax.Array       # the scaled dual variable
  fx: jax.Array      # D(x) as last computed


def init(out) -> RedState:
  """x starts at the net's first output, u at zero."""
  return RedState(x=out, u=jnp.zeros_like(out), fx=out)


def coupling(spec: Admm, red: RedState, out):
  """The term added to the net's loss: mu * mean((f - x + u)^2)."""
  return spec.mu * jnp.mean(jnp.square(out - red.x + red.u))


def update(spec: Admm, red: RedState, out, step) -> RedState:
  """The x and u steps after the net's step `step` (0-based) gave `out`."""
  out = jax.lax.stop_gradient(out)
  fx = jax.lax.cond(step % spec.every == 0,
                    lambda: spec.denoise(red.x).astype(out.dtype),
                    lambda: red.fx)
  x = (spec.beta * fx + spec.mu * (out + red.u)) / (spec.beta + spec.mu)
  return RedState(x=x, u=red.u + out - x, fx=fx)
