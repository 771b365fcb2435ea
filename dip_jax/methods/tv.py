"""The TV method: argmin_x 0.5 ||M (A x - y)||^2 + lam TV(x), on x directly.

Chambolle-Pock on the problem's operator (dip_jax/solvers/tv.py). It needs an
adjoint, so a nonlinear operator (or a measurement that is not one real
image) is refused with one line instead of a traceback from
`jax.linear_transpose`.
"""

import time

import jax.numpy as jnp
import numpy as np

from dip_jax import methods
from dip_jax.errors import InputError
from dip_jax.solvers import tv as tv_prior


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


@methods.register("tv", prepare=lambda problem, config: check(problem))
def solve(problem, config, hooks=None) -> methods.Result:
  """TV reconstruction with `config.tv.lam` and `config.tv.max_iters`."""
  del hooks
  check(problem)
  lam = float(config.tv.lam)
  if not np.isfinite(lam) or lam <= 0:
    raise InputError(f"tv.lam must be a positive number, got {config.tv.lam}")
  observed = jnp.asarray(problem.observed)[None]
  mask = None if problem.mask is None else jnp.asarray(problem.mask)[None]
  t0 = time.perf_counter()
  x, info = tv_prior.solve_tv(
      observed, _forward(problem.operator), lam=lam, mask=mask,
      x_shape=(1, *problem.out_shape), max_iters=int(config.tv.max_iters))
  x = np.asarray(x)[0]
  info = {"seconds": round(time.perf_counter() - t0, 3),
          "iterations": int(info["iterations"]),
          "converged": bool(info["converged"]), "lam": lam}
  return methods.Result(reconstruction=x, info=info)
