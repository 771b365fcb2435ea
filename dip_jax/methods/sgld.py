"""Bayesian DIP by stochastic gradient Langevin dynamics (Cheng, Gadelha,
Maji, Sheldon, CVPR 2019): the DIP fit with Gaussian noise added to the
conv kernels after every Adam step, and the posterior mean of the outputs
as the answer, so no early stopping is needed.

Their code (GP-DIP, Image_Denoising.ipynb): Adam lr 0.01 with input noise,
kernel noise of std 2 x lr, 20000 steps, burn-in 7000, a sample every 50
steps. Here: `config.sgld` (noise_scale, burn_in, sample_every). The
Langevin noise is an optimizer transformation chained after Adam
(`fit.optim.kernel_noise`), the posterior a watcher
(`fit/watchers/posterior.py`) whose mean is the answer; the run also
returns the per-pixel
posterior standard deviation (`posterior_std.png`, scaled to its maximum,
which the summary states) as an uncertainty map.
"""

import jax
import numpy as np

from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.fit.watchers import posterior
from dip_jax.methods import dip as dip_method


def parts_of(config):
  """(the posterior watcher, the optimizer's kernel noise std) of
  `config.sgld`, refused in one line when no sample would be taken or a
  number makes no sense."""
  s = config.sgld
  dip_method.check_number("sgld.noise_scale", s.noise_scale,
                          lambda v: v >= 0, "a number >= 0")
  dip_method.check_number("sgld.sample_every", s.sample_every,
                          lambda v: v >= 1 and v == int(v), ">= 1 (an integer)")
  dip_method.check_number("sgld.burn_in", s.burn_in,
                          lambda v: v >= 0 and v == int(v), ">= 0 (an integer)")
  if int(s.burn_in) >= int(config.num_steps):
    raise InputError(f"sgld.burn_in ({s.burn_in}) must be below num_steps "
                     f"({config.num_steps}): no posterior sample would be "
                     f"taken")
  watcher = posterior.Posterior(burn_in=int(s.burn_in),
                                sample_every=int(s.sample_every))
  return watcher, float(s.noise_scale) * float(config.optim.learning_rate)


def _prepare(problem, config):
  watcher, noise = parts_of(config)
  return {"fit": dip_method.build_fit(
      config, problem, watchers=(watcher,),
      optim_changes={"kernel_noise": noise})}


@methods.register("sgld", prepare=_prepare)
def solve(problem, config, hooks=None, fit=None) -> methods.Result:
  """The SGLD fit; the answer is the restarts' average of their posterior
  means, `images["posterior_std"]` the pooled per-pixel std / its max."""
  fit = fit or _prepare(problem, config)["fit"]
  result = dip_method.solve(problem, config, hooks, fit=fit)
  # Pooled over restarts: every restart's samples are draws of one posterior.
  pooled = jax.tree.map(lambda a: np.sum(a, axis=0),
                        jax.device_get(
                            result.state.watch[posterior.Posterior.name]))
  count = int(pooled.count)
  std = np.asarray(posterior.posterior_std(pooled))[0]
  peak = float(std.max())
  result.images["posterior_std"] = (std / peak if peak > 0 else std)
  result.info.update(
      reconstruction="posterior mean (SGLD)" + (
          " averaged over restarts" if fit.spec.num_restarts > 1 else ""),
      posterior_samples=count, posterior_std_mean=float(std.mean()),
      posterior_std_max=peak)
  return result
