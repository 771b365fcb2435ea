"""Bayesian DIP by stochastic gradient Langevin dynamics (Cheng, Gadelha,
Maji, Sheldon, CVPR 2019): the DIP fit with Gaussian noise added to the
conv kernels after every Adam step, and the posterior mean of the outputs
as the answer, so no early stopping is needed.

Their code (GP-DIP, Image_Denoising.ipynb): Adam lr 0.01 with input noise,
kernel noise of std 2 x lr, 20000 steps, burn-in 7000, a sample every 50
steps. Here: `config.sgld` (noise_scale, burn_in, sample_every), read
into `Settings`. The
Langevin noise is an optimizer transformation chained after Adam
(`fit.optim.kernel_noise`), the posterior a watcher
(`fit/watchers/posterior.py`) whose mean is the answer; the run also
returns the per-pixel
posterior standard deviation (`posterior_std.png`, scaled to its maximum,
which the summary states) as an uncertainty map.
"""

import dataclasses

import jax
import numpy as np

from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.fit.watchers import posterior
from dip_jax.methods import dip as dip_method
from dip_jax.methods import settings


@dataclasses.dataclass(frozen=True)
class Settings:
  """`config.sgld`: the Langevin noise (x the learning rate) and when the
  posterior is sampled."""
  noise_scale: float
  burn_in: int
  sample_every: int

  @classmethod
  def from_config(cls, block, num_steps) -> "Settings":
    """Refused in one line when a number makes no sense or no sample would
    be taken in `num_steps` steps."""
    v = settings.values(cls, block, "sgld")
    settings.check_number("sgld.noise_scale", v["noise_scale"],
                          lambda x: x >= 0, "a number >= 0")
    settings.check_number("sgld.sample_every", v["sample_every"],
                          lambda x: x >= 1 and settings.is_count(x),
                          ">= 1 (an integer)")
    settings.check_number("sgld.burn_in", v["burn_in"],
                          lambda x: x >= 0 and settings.is_count(x),
                          ">= 0 (an integer)")
    if int(v["burn_in"]) >= int(num_steps):
      raise InputError(f"sgld.burn_in ({v['burn_in']}) must be below "
                       f"num_steps ({num_steps}): no posterior sample would "
                       f"be taken")
    return cls(noise_scale=float(v["noise_scale"]), burn_in=int(v["burn_in"]),
               sample_every=int(v["sample_every"]))

  def watcher(self) -> posterior.Posterior:
    return posterior.Posterior(burn_in=self.burn_in,
                               sample_every=self.sample_every)


def _build(problem, config, **kw):
  s = Settings.from_config(config.sgld, num_steps=config.num_steps)
  # The kernel noise's std is noise_scale x lr, as in their code (2 x lr).
  noise = s.noise_scale * float(config.optim.learning_rate)
  return dip_method.build_fit(config, problem, watchers=(s.watcher(),),
                              optim_changes={"kernel_noise": noise}, **kw)


def _finish(problem, config, fit, result) -> methods.Result:
  """The answer is the restarts' average of their posterior means,
  `images["posterior_std"]` the pooled per-pixel std / its max."""
  del problem, config
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


solve = dip_method.register_fit_method("sgld", _build, _finish)
