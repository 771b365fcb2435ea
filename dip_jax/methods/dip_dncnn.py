"""DIP averaged with a pretrained DnCNN, for denoising: the answer is
w * (DIP's answer) + (1 - w) * DnCNN(y), w = `dncnn.dip_weight` (0.5).

Two denoisers of about equal quality whose errors differ average to a
better image than either: DIP's errors are the net's (smooth texture where
it stopped early), DnCNN's those of a CNN trained on other images. On the
three Kodak crops it was chosen on (kodim04/15/20, outside the CBM3D set,
sigma = 25, 128 px, DIP with 4 restarts and the discrepancy stop) the
average gained +0.43 dB over DIP and +0.19 over DnCNN alone (weights 0.3 to
0.6 were within 0.06 dB of each other). Against CBM3D on the CBM3D set:
docs/methods.md, "DIP+DnCNN". DIP runs exactly as `method=dip` (early
stopping, restarts, resume); DnCNN (`dip_jax/solvers/dncnn.py`) is the
grey model trained nearest to the noise level estimated from y, applied in
an opponent colour space and averaged over the 8 flips and turns
(`dncnn.self_ensemble`). Needs DnCNN's weights:
`pip install --no-deps scico==0.0.7`, or `dncnn.weights` (see dncnn.py).
Only for an observation that is the image plus noise (the identity
operator); the images dip.png and dncnn.png are written beside the answer
and shown beside it in comparison.png.
"""

import dataclasses
import time

import numpy as np

from dip_jax import methods
from dip_jax import metrics
from dip_jax.errors import InputError
from dip_jax.methods import dip as dip_method
from dip_jax.methods import settings
from dip_jax.solvers import dncnn


@dataclasses.dataclass(frozen=True)
class Settings:
  """`config.dncnn`: DIP's weight in the average and which DnCNN to use
  (`variant` "auto" picks by y's noise level; `weights` "" = scico's)."""
  dip_weight: float
  variant: str
  self_ensemble: bool
  weights: str

  @classmethod
  def from_config(cls, block) -> "Settings":
    v = settings.values(cls, block, "dncnn")
    settings.check_number("dncnn.dip_weight", v["dip_weight"],
                          lambda x: 0 <= x <= 1, "in [0, 1]")
    return cls(dip_weight=float(v["dip_weight"]), variant=str(v["variant"]),
               self_ensemble=bool(v["self_ensemble"]),
               weights=str(v["weights"]))


def _prepare(problem, config):
  """Refuses a problem DnCNN cannot denoise and finds the weights, before
  a run writes anything; returns the DIP fit and the denoiser."""
  if problem.operator.name != "identity" or problem.mask is not None:
    raise InputError(f"method=dip_dncnn denoises y = x + noise; this task's "
                     f"operator is {problem.operator.name!r}"
                     + (" with a mask" if problem.mask is not None else ""))
  if problem.out_shape[-1] not in (1, 3):
    raise InputError(f"method=dip_dncnn takes 1- or 3-channel images, x has "
                     f"{problem.out_shape[-1]} channels")
  s = Settings.from_config(config.dncnn)
  variant = (dncnn.pick_variant(problem.observed)
             if s.variant == "auto" else s.variant)
  denoiser = dncnn.Denoiser(variant, s.weights, s.self_ensemble)
  return {"fit": dip_method.build_fit(config, problem), "denoiser": denoiser}


@methods.register("dip_dncnn", prepare=_prepare)
def solve(problem, config, hooks=None, fit=None,
          denoiser=None) -> methods.Result:
  """The DIP fit, then DnCNN on y, then their weighted average."""
  if fit is None or denoiser is None:
    prepared = _prepare(problem, config)
    fit, denoiser = prepared["fit"], prepared["denoiser"]
  result = dip_method.solve(problem, config, hooks, fit=fit)
  t0 = time.perf_counter()
  denoised = np.clip(denoiser(problem.observed), 0.0, 1.0)
  seconds = time.perf_counter() - t0
  w = Settings.from_config(config.dncnn).dip_weight
  dip_answer = result.reconstruction
  result.reconstruction = (w * dip_answer + (1 - w) * denoised).astype(
      np.float32)
  result.images.update(dip=dip_answer, dncnn=denoised)
  result.panels.update(DIP="dip", DnCNN="dncnn")
  result.info.update(
      reconstruction=f"{w:g} x DIP ({result.info.get('reconstruction')}) + "
                     f"{1 - w:g} x DnCNN-{denoiser.variant}(y)",
      dncnn_variant=denoiser.variant, dncnn_seconds=seconds)
  result.info["seconds"] = result.info.get("seconds", 0.0) + seconds
  if problem.clean is not None:
    result.info.update(dip_psnr=metrics.psnr(dip_answer, problem.clean),
                       dncnn_psnr=metrics.psnr(denoised, problem.clean))
  return result
