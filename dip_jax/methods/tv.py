"""The TV method: argmin_x 0.5 ||M (A x - y)||^2 + lam TV(x), on x directly.

Chambolle-Pock on the problem's operator (dip_jax/solvers/tv.py). It needs an
adjoint, so a nonlinear operator (or a measurement that is not one real
image) is refused with one line instead of a traceback from
`jax.linear_transpose`.
"""

import dataclasses
import time

import jax.numpy as jnp
import numpy as np

from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.methods import settings
from dip_jax.solvers import tv as tv_prior


@dataclasses.dataclass(frozen=True)
class Settings:
  """`config.tv`: the TV weight and the solver's iteration cap. (Its
  `enabled`, the TV baseline beside every CLI run, is the CLI's.)"""
  lam: float
  max_iters: int

  @classmethod
  def from_config(cls, block) -> "Settings":
    v = settings.values(cls, block, "tv")
    settings.check_number("tv.lam", v["lam"], lambda x: x > 0,
                          "a positive number")
    settings.check_number("tv.max_iters", v["max_iters"],
                          lambda x: x >= 1 and settings.is_count(x),
                          "an integer >= 1")
    return cls(lam=float(v["lam"]), max_iters=int(v["max_iters"]))


def check(problem) -> None:
  """Raises InputError when TV cannot be solved for `problem`."""
  op = problem.operator
  if not op.linear:
    raise InputError(f"TV needs a linear operator; {op.name!r} is nonlinear "
                     f"(use the dip method, or set tv.enabled=False)")
  if not problem.image_measurement:
    raise InputError(f"TV needs one real image as the measurement; operator "
                     f"{op.name!r} gives another kind")
  if problem.objective not in ("mse", None):
    raise InputError(f"TV solves the squared-error data term; loss "
                     f"{problem.objective!r} is not supported")


def _forward(op):
  """A as a function of x alone: `op.apply`, the key the solver's compiled
  programs are cached on, or the operator bound to its params."""
  return op.apply if op.params is None else op


def _prepare(problem, config) -> dict:
  check(problem)
  Settings.from_config(config.tv)
  return {}


@methods.register("tv", prepare=_prepare)
def solve(problem, config, hooks=None) -> methods.Result:
  """TV reconstruction with the `Settings` of `config.tv`."""
  del hooks
  check(problem)
  s = Settings.from_config(config.tv)
  observed = jnp.asarray(problem.observed)[None]
  mask = None if problem.mask is None else jnp.asarray(problem.mask)[None]
  t0 = time.perf_counter()
  x, info = tv_prior.solve_tv(
      observed, _forward(problem.operator), lam=s.lam, mask=mask,
      x_shape=(1, *problem.out_shape), max_iters=s.max_iters)
  x = np.asarray(x)[0]
  info = {"seconds": round(time.perf_counter() - t0, 3),
          "iterations": int(info["iterations"]),
          "converged": bool(info["converged"]), "lam": s.lam}
  return methods.Result(reconstruction=x, info=info)
