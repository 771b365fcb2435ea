"""The TV-gradient method: x itself, TV-regularized, by projected Adam.

  argmin_{x in [0, 1]} objective(x, A x, y, w) + lam * TV_eps(x) / |x|

TV_eps is the isotropic TV with its square root smoothed by eps
(differentiable where neighbours are equal), divided by the number of
elements so that lam does not depend on the image size. Adam on x, then a
projection onto the box, every step. No adjoint is needed, so it solves
what Chambolle-Pock (the `tv` method) cannot: a nonlinear operator (the
amplitude loss of phase retrieval) or an objective with no observation.
It starts from the operator's baseline when that is an image of x's shape,
else from 0.5 everywhere.
"""

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dip_jax import methods
from dip_jax import operators
from dip_jax.methods import dip as dip_method
from dip_jax.methods import settings
from dip_jax.solvers import tv as tv_prior


def _start(problem) -> np.ndarray:
  shape = tuple(problem.out_shape)
  if problem.observed is not None:
    base = problem.operator.baseline(problem.observed)
    if base is not None and np.shape(base[1]) == shape:
      return np.clip(np.asarray(base[1], np.float32), 0.0, 1.0)
  return np.full(shape, 0.5, np.float32)


@dataclasses.dataclass(frozen=True)
class Settings:
  """`config.tv_gradient`: the TV weight, Adam's rate, the steps and the TV
  smoothing eps."""
  lam: float
  learning_rate: float
  num_steps: int
  eps: float

  @classmethod
  def from_config(cls, block) -> "Settings":
    v = settings.values(cls, block, "tv_gradient")
    for key, ok, need in (
        ("lam", lambda x: x >= 0, "a number >= 0"),
        ("learning_rate", lambda x: x > 0, "a positive number"),
        ("eps", lambda x: x > 0, "a positive number"),
        ("num_steps", lambda x: x >= 1 and settings.is_count(x),
         "an integer >= 1")):
      settings.check_number(f"tv_gradient.{key}", v[key], ok, need)
    return cls(lam=float(v["lam"]), learning_rate=float(v["learning_rate"]),
               num_steps=int(v["num_steps"]), eps=float(v["eps"]))


@functools.lru_cache(maxsize=16)
def _program(apply, objective, lam: float, lr: float, eps: float, steps: int):
  """The jitted run (x0, y, w, op_params) -> (x, losses), one per operator
  function and settings: the data and the operator's params (a
  classifier's weights) are arguments, so fits that differ only in them
  (another image, another unit) reuse the compiled program."""
  opt = optax.adam(lr)

  def loss(x, y, w, op_params):
    return (objective(x, operators.forward(apply, x, op_params), y, w)
            + lam * tv_prior.smooth_tv(x, eps) / x.size)

  @jax.jit
  def run(x, y, w, op_params):
    def step(carry, _):
      x, state = carry
      value, grad = jax.value_and_grad(loss)(x, y, w, op_params)
      updates, state = opt.update(grad, state, x)
      x = jnp.clip(optax.apply_updates(x, updates), 0.0, 1.0)
      return (x, state), value
    (x, _), losses = jax.lax.scan(step, (x, opt.init(x)), None, length=steps)
    return x, losses

  return run


def _prepare(problem, config) -> dict:
  del problem
  Settings.from_config(config.tv_gradient)   # refused before a run writes
  return {}


@methods.register("tv_gradient", prepare=_prepare)
def solve(problem, config, hooks=None) -> methods.Result:
  """Projected Adam on x for `config.tv_gradient.num_steps` steps."""
  s = Settings.from_config(config.tv_gradient)
  lam, lr, eps, steps = s.lam, s.learning_rate, s.eps, s.num_steps
  objective = dip_method.regularized_objective(problem, config)
  y = (None if problem.observed is None else
       jax.tree.map(lambda a: jnp.asarray(a)[None], problem.observed))
  w = None if problem.mask is None else jnp.asarray(problem.mask)[None]
  x0 = jnp.asarray(_start(problem))[None]
  run = _program(problem.operator.apply, objective, lam, lr, eps, steps)
  if hooks is not None and hooks.progress:
    print(f"tv_gradient: {steps} steps of projected Adam on x "
          f"(one program, no progress lines until it ends)",
          file=hooks.stream, flush=True)
  t0 = time.perf_counter()
  x, losses = run(x0, y, w, problem.operator.params)
  x, losses = np.asarray(x)[0], np.asarray(losses)
  if not np.all(np.isfinite(x)):
    raise FloatingPointError("tv_gradient diverged (non-finite x); lower "
                             "tv_gradient.learning_rate")
  info = {"seconds": round(time.perf_counter() - t0, 3), "steps": steps,
          "lam": lam, "final_loss": float(losses[-1])}
  if hooks is not None and hooks.progress:
    print(f"tv_gradient: done in {info['seconds']:.1f} s, final loss "
          f"{info['final_loss']:.6g}", file=hooks.stream, flush=True)
  return methods.Result(reconstruction=x, history={"loss": losses},
                        info=info)
