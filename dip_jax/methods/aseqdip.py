"""aSeqDIP: autoencoding sequential DIP (Alkhouri, Liang, Bell, Qu, Wang,
Ravishankar, NeurIPS 2024, "Image reconstruction via autoencoding
sequential deep image prior").

The net's input is an image estimate z, not noise. In rounds of `every`
steps the net is fitted, from where the last round left it, to

    || A f(z) - y ||^2  +  lam * || f(z) - z ||^2

(the second term asks the net to be close to an autoencoder of its input),
and then the input moves to the net's output: z <- f(z). The answer is the
last z. z starts at the operator's classical estimate of the image (the
observation for denoising and inpainting, bicubic upscaling for SR) or,
without one, A^T y.

Everything the method needs is here: one watcher (`InputRefresh`, the
state z) that replaces the net's input, adds the autoencoding term to the
objective and gives the answer, and the method that builds a DIP fit with
it. Settings: `config.aseqdip` (every, lam); `configs/aseqdip.py` runs it
on a task. Missing keys take the defaults of `Settings`.
"""

import dataclasses

import flax
import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.fit.watchers import StepView, Watcher
from dip_jax.methods import dip as dip_method
from dip_jax.methods import settings


@dataclasses.dataclass(frozen=True)
class Settings:
  """`config.aseqdip`: steps per round and the autoencoding weight."""
  every: int = 2
  lam: float = 1.0

  @classmethod
  def from_config(cls, block) -> "Settings":
    # Strict: `aseqdip` is not in the base config, so nothing else would
    # catch a misspelt key.
    v = settings.values(cls, block, "aseqdip", strict=True)
    settings.check_number("aseqdip.every", v["every"],
                          lambda x: x >= 1 and settings.is_count(x),
                          "an integer >= 1")
    settings.check_number("aseqdip.lam", v["lam"], lambda x: x >= 0,
                          "a number >= 0")
    return cls(every=int(v["every"]), lam=float(v["lam"]))


@flax.struct.dataclass
class InputState:
  z: jax.Array   # the net's input on its canvas (1 x H' x W' x C)
  x: jax.Array   # z's image part, where the net's output sits (1 x H x W x C)


@dataclasses.dataclass(frozen=True)
class InputRefresh(Watcher):
  """The sequential input z as a watcher (see the module docstring)."""
  every: int = 2
  lam: float = 1.0
  name = "aseqdip"
  own_answer = True

  def init(self, first: StepView):
    t, l, h, w = first.crop
    z = first.data["z"]
    return InputState(z=z, x=z[:, t:t + h, l:l + w, :])

  def net_input(self, s, z):
    del z
    return s.z

  def loss(self, s, out):
    return self.lam * jnp.mean(jnp.square(out - s.x))

  def update(self, s, view: StepView):
    t, l, h, w = view.crop
    x = jax.lax.stop_gradient(view.out)
    refresh = (view.step + 1) % self.every == 0
    z = s.z.at[:, t:t + h, l:l + w, :].set(x)
    return InputState(z=jnp.where(refresh, z, s.z),
                      x=jnp.where(refresh, x, s.x))

  def answer(self, s, current):
    del current
    return s.x


def start_image(problem) -> np.ndarray:
  """z's first value: the operator's classical estimate, else A^T y."""
  found = problem.operator.baseline(problem.observed)
  if found is not None:
    return np.asarray(found[1], np.float32)
  if not problem.operator.linear:
    raise InputError("aseqdip needs a first image estimate: the operator "
                     "has no classical baseline and no adjoint")
  return np.clip(np.asarray(problem.operator.adjoint(problem.observed),
                            np.float32), 0, 1)


def _build(problem, config, **kw):
  s = Settings.from_config(config.get("aseqdip"))
  if problem.observed is None or not problem.image_measurement:
    raise InputError("aseqdip needs an image measurement y")
  problem = dataclasses.replace(problem, net_input=start_image(problem))
  return dip_method.build_fit(
      config, problem, watchers=(InputRefresh(every=s.every, lam=s.lam),),
      **kw)


def _finish(problem, config, fit, result) -> methods.Result:
  """The answer is the last z (restarts averaged)."""
  del problem, config
  result.info["reconstruction"] = "aSeqDIP's last input z" + (
      " averaged over restarts" if fit.spec.num_restarts > 1 else "")
  return result


solve = dip_method.register_fit_method("aseqdip", _build, _finish)
