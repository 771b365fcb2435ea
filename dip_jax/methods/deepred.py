"""DeepRED (Mataev, Elad, Milanfar, ICCVW 2019): the DIP fit coupled by
ADMM with an image x that non-local means regularizes by denoising
(`dip_jax/red.py`); the answer is x. `config.deepred`: mu, beta, sigma_f
(the denoiser's noise level, 0-255 scale), every (steps between denoiser
calls).
"""

import numpy as np

from dip_jax import methods
from dip_jax import red
from dip_jax.errors import InputError
from dip_jax.methods import dip as dip_method


def spec_of(config) -> red.RedSpec:
  """The ADMM watcher of `config.deepred` (one line for a bad number)."""
  d = config.deepred
  for key in ("mu", "beta", "sigma_f"):
    v = d[key]
    if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
      raise InputError(f"deepred.{key} must be a positive number, got {v!r}")
  if int(d.every) < 1:
    raise InputError(f"deepred.every must be >= 1, got {d.every}")
  return red.RedSpec(mu=float(d.mu), beta=float(d.beta), every=int(d.every),
                     sigma=float(d.sigma_f) / 255.0)


def _prepare(problem, config):
  if problem.out_shape[-1] not in (1, 3):
    raise InputError(f"deepred's denoiser takes 1- or 3-channel images, x "
                     f"has {problem.out_shape[-1]} channels")
  return {"fit": dip_method.build_fit(config, problem, red=spec_of(config))}


@methods.register("deepred", prepare=_prepare)
def solve(problem, config, hooks=None, fit=None) -> methods.Result:
  """The DeepRED fit; the answer is x (the restarts' average of theirs)."""
  fit = fit or _prepare(problem, config)["fit"]
  result = dip_method.solve(problem, config, hooks, fit=fit)
  result.info["reconstruction"] = "DeepRED x" + (
      " averaged over restarts" if fit.spec.num_restarts > 1 else "")
  return result
