"""The optimizer is data: `config.optim` -> an optax GradientTransformation.

  c.optim.name = "adam"            # adam | adamw | sgd | rmsprop | lion
  c.optim.learning_rate = 0.01     # the peak rate
  c.optim.schedule = "constant"    # constant | cosine | warmup_cosine
  c.optim.warmup_steps = 0         # warmup_cosine: linear ramp from 0
  c.optim.decay_steps = 0          # cosine: steps to the end rate (0 = all)
  c.optim.end_factor = 0.0         # cosine: end rate / peak rate
  c.optim.clip_norm = 0.0          # > 0: clip the gradient's global norm

As optax composes them: `chain(clip_by_global_norm, optimizer(schedule))`,
and a method may chain more transformations after the optimizer (SGLD adds
Gaussian noise to the conv kernels, `kernel_noise`). Transformations get
one per-step key as the extra argument `noise_key` (optax's extra-args
protocol), so a noisy one draws from a stream of its own and a resumed fit
replays it exactly.

The default (constant rate, no clipping, nothing chained) is the plain
`optax.adam(learning_rate)`, the transformation every earlier fit used.
"""

import dataclasses

import jax
import jax.numpy as jnp
import optax

from dip_jax.errors import InputError

OPTIMIZERS = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd,
              "rmsprop": optax.rmsprop, "lion": optax.lion}
SCHEDULES = ("constant", "cosine", "warmup_cosine")


@dataclasses.dataclass(frozen=True)
class OptimSettings:
  """`config.optim`, checked (hashable: part of the fit's static spec)."""
  name: str = "adam"
  learning_rate: float = 0.01
  schedule: str = "constant"
  warmup_steps: int = 0
  decay_steps: int = 0          # resolved (> 0) for the cosine schedules
  end_factor: float = 0.0
  clip_norm: float = 0.0
  kernel_noise: float = 0.0     # std of N(0, s^2) added to 4-D leaves (SGLD)

  @classmethod
  def from_config(cls, optim, num_steps: int) -> "OptimSettings":
    """The settings of a config's `optim` block; one line for a bad one.
    `decay_steps` 0 means the whole run (`num_steps`)."""
    name = str(optim.get("name", "adam"))
    if name not in OPTIMIZERS:
      raise InputError(f"unknown optim.name {name!r}; known: "
                       f"{sorted(OPTIMIZERS)}")
    schedule = str(optim.get("schedule", "constant"))
    if schedule not in SCHEDULES:
      raise InputError(f"optim.schedule must be one of {list(SCHEDULES)}, "
                       f"got {schedule!r}")
    _check("optim.learning_rate", optim.learning_rate, lambda v: v > 0,
           "a positive number")
    for key in ("warmup_steps", "decay_steps"):
      _check(f"optim.{key}", optim.get(key, 0),
             lambda v: v >= 0 and v == int(v), "an integer >= 0")
    _check("optim.end_factor", optim.get("end_factor", 0.0),
           lambda v: 0 <= v <= 1, "in [0, 1]")
    _check("optim.clip_norm", optim.get("clip_norm", 0.0), lambda v: v >= 0,
           "a number >= 0 (0 = off)")
    # Resolved only where a schedule reads it: a constant rate's settings
    # (and so its compiled program) must not depend on num_steps.
    decay = ((int(optim.get("decay_steps", 0)) or int(num_steps))
             if schedule != "constant" else 0)
    warmup = int(optim.get("warmup_steps", 0))
    if schedule == "warmup_cosine" and warmup >= decay:
      raise InputError(f"optim.warmup_steps ({warmup}) must be below the "
                       f"decay steps ({decay})")
    return cls(name=name, learning_rate=float(optim.learning_rate),
               schedule=schedule, warmup_steps=warmup, decay_steps=decay,
               end_factor=float(optim.get("end_factor", 0.0)),
               clip_norm=float(optim.get("clip_norm", 0.0)))


def _check(key, value, ok, need):
  import numpy as np  # pylint: disable=g-import-not-at-top
  if not (isinstance(value, (int, float)) and not isinstance(value, bool)
          and np.isfinite(value) and ok(value)):
    raise InputError(f"{key} must be {need}, got {value!r}")


def schedule_of(s: OptimSettings):
  """The learning rate: a float (constant) or an optax schedule."""
  if s.schedule == "constant":
    return s.learning_rate
  if s.schedule == "cosine":
    return optax.cosine_decay_schedule(s.learning_rate, s.decay_steps,
                                       alpha=s.end_factor)
  return optax.warmup_cosine_decay_schedule(
      0.0, s.learning_rate, s.warmup_steps, s.decay_steps,
      end_value=s.end_factor * s.learning_rate)


def kernel_noise(std: float) -> optax.GradientTransformationExtraArgs:
  """Adds N(0, std^2) to every conv kernel (4-D leaf) of the updates, from
  the step's `noise_key`: the Langevin part of an SGLD step (Cheng et al.
  2019). Biases and norms get none, as in their code. Stateless.

  The key is split over all leaves and a kernel takes its leaf's key
  (rather than masking the tree first, as `optax.masked` would), so the
  noise a kernel gets does not depend on which other leaves are kernels."""

  def init(params):
    del params
    return optax.EmptyState()

  def update(updates, state, params=None, *, noise_key=None, **extra):
    del params, extra
    leaves, treedef = jax.tree.flatten(updates)
    keys = jax.random.split(noise_key, len(leaves))
    return jax.tree.unflatten(treedef, [
        u + std * jax.random.normal(k, u.shape, u.dtype) if u.ndim == 4
        else u for u, k in zip(leaves, keys)]), state

  return optax.GradientTransformationExtraArgs(init, update)


def make(s: OptimSettings) -> optax.GradientTransformationExtraArgs:
  """The transformation `s` describes (see the module docstring)."""
  parts = []
  if s.clip_norm > 0:
    parts.append(optax.clip_by_global_norm(s.clip_norm))
  parts.append(OPTIMIZERS[s.name](schedule_of(s)))
  if s.kernel_noise > 0:
    parts.append(kernel_noise(s.kernel_noise))
  if len(parts) == 1:
    return optax.with_extra_args_support(parts[0])
  return optax.chain(*parts)


def learning_rate_at(s: OptimSettings, step) -> jax.Array:
  """The rate the schedule gives at (0-based) `step`, for logs and tests."""
  rate = schedule_of(s)
  return jnp.asarray(rate(step) if callable(rate) else rate, jnp.float32)
