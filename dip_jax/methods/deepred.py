"""DeepRED (Mataev, Elad, Milanfar, ICCVW 2019): the DIP fit coupled by
ADMM with an image x that non-local means regularizes by denoising
(`dip_jax/fit/watchers/admm.py`); the answer is x. `config.deepred`, read
into `Settings`: mu, beta, sigma_f (the denoiser's noise level, 0-255
scale), every (steps between denoiser calls).
"""


import dataclasses

from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.fit.watchers import admm
from dip_jax.methods import dip as dip_method
from dip_jax.methods import settings


@dataclasses.dataclass(frozen=True)
class Settings:
  """`config.deepred`: the ADMM weights, the denoiser's noise level (0-255
  scale) and the steps between its calls."""
  mu: float
  beta: float
  sigma_f: float
  every: int

  @classmethod
  def from_config(cls, block) -> "Settings":
    v = settings.values(cls, block, "deepred")
    for key in ("mu", "beta", "sigma_f"):
      settings.check_number(f"deepred.{key}", v[key], lambda x: x > 0,
                            "a positive number")
    settings.check_number("deepred.every", v["every"],
                          lambda x: x >= 1 and settings.is_count(x),
                          "an integer >= 1")
    return cls(mu=float(v["mu"]), beta=float(v["beta"]),
               sigma_f=float(v["sigma_f"]), every=int(v["every"]))

  def watcher(self) -> admm.Admm:
    return admm.Admm(mu=self.mu, beta=self.beta, every=self.every,
                     sigma=self.sigma_f / 255.0)


def _build(problem, config, **kw):
  if problem.out_shape[-1] not in (1, 3):
    raise InputError(f"deepred's denoiser takes 1- or 3-channel images, x "
                     f"has {problem.out_shape[-1]} channels")
  s = Settings.from_config(config.deepred)
  return dip_method.build_fit(config, problem, watchers=(s.watcher(),), **kw)


def _finish(problem, config, fit, result) -> methods.Result:
  """The answer is x (the restarts' average of theirs)."""
  del problem, config
  result.info["reconstruction"] = "DeepRED x" + (
      " averaged over restarts" if fit.spec.num_restarts > 1 else "")
  return result


solve = dip_method.register_fit_method("deepred", _build, _finish)
