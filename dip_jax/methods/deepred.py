"""DeepRED (Mataev, Elad, Milanfar, ICCVW 2019): the DIP fit coupled by
ADMM with an image x that non-local means regularizes by denoising
(`dip_jax/fit/watchers/admm.py`); the answer is x. `config.deepred`: mu, beta, sigma_f
(the denoiser's noise level, 0-255 scale), every (steps between denoiser
calls).
"""


from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.fit.watchers import admm
from dip_jax.methods import dip as dip_method


def spec_of(config) -> admm.Admm:
  """The ADMM watcher of `config.deepred` (one line for a bad number)."""
  d = config.deepred
  for key in ("mu", "beta", "sigma_f"):
    dip_method.check_number(f"deepred.{key}", d[key], lambda v: v > 0,
                            "a positive number")
  dip_method.check_number("deepred.every", d.every,
                          lambda v: v >= 1 and v == int(v),
                          "an integer >= 1")
  return admm.Admm(mu=float(d.mu), beta=float(d.beta), every=int(d.every),
                     sigma=float(d.sigma_f) / 255.0)


def _prepare(problem, config):
  if problem.out_shape[-1] not in (1, 3):
    raise InputError(f"deepred's denoiser takes 1- or 3-channel images, x "
                     f"has {problem.out_shape[-1]} channels")
  return {"fit": dip_method.build_fit(config, problem,
                                      watchers=(spec_of(config),))}


@methods.register("deepred", prepare=_prepare)
def solve(problem, config, hooks=None, fit=None) -> methods.Result:
  """The DeepRED fit; the answer is x (the restarts' average of theirs)."""
  fit = fit or _prepare(problem, config)["fit"]
  result = dip_method.solve(problem, config, hooks, fit=fit)
  result.info["reconstruction"] = "DeepRED x" + (
      " averaged over restarts" if fit.spec.num_restarts > 1 else "")
  return result
