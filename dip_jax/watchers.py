"""Watchers: small pure updates the DIP step applies after its optimizer
update, optax-style, each on its own fields of the fit state.

  ema    the exponential average of the outputs (the paper's "output
         averaging"): its state is the average image.
  guard  the divergence guard (the original's backtracking): a snapshot of
         the parameters and optimizer state that fit well, restored when
         the loss turns non-finite or the fit to y drops.

The early-stopping detectors (`stopping.py`) have the same shape but run
outside the per-restart vmap (see `priors/dip.step_restarts`). A new watcher
(a posterior mean, say) adds its fields to `FitState` and one update here.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp


def ema_update(decay: float, ema, out, step):
  """The running average after output `out` of step `step` (0-based): the
  first output starts it, so no zero image biases the early average."""
  return jnp.where(step == 0, out, decay * ema + (1 - decay) * out)


@dataclasses.dataclass(frozen=True)
class GuardSpec:
  psnr_drop: float   # dB drop in the fit to y (PSNR to y) that counts as a jump
  every: int         # steps between snapshots of a good state


@dataclasses.dataclass
class Guarded:
  """What the guard decides for one step."""
  params: Any
  opt_state: Any
  good_params: Any
  good_opt_state: Any
  good_psnr: jax.Array
  bad: jax.Array     # bool: this step was undone


def guard_update(spec: GuardSpec, step, loss, fit_db, old_params,
                 old_opt_state, new_params, new_opt_state, good_params,
                 good_opt_state, good_psnr) -> Guarded:
  """A non-finite loss, or the fit to y (`fit_db`, PSNR to y) falling by more
  than `psnr_drop` below the last good snapshot, sends the fit back to that
  snapshot, optimizer moments included; every `every` steps a good state
  becomes the snapshot."""
  bad = ~jnp.isfinite(loss) | (fit_db < good_psnr - spec.psnr_drop)
  snap = ~bad & (step % spec.every == 0)
  # lax.cond, not jnp.where: the copies of the parameter and optimizer trees
  # then happen only on the rare snapshot/restore steps (a where over the
  # trees every step cost ~13 % of a 64 px step).
  keep = lambda old, new, c: jax.lax.cond(c, lambda: new, lambda: old)
  kept_params, kept_opt = keep((good_params, good_opt_state),
                               (old_params, old_opt_state), snap)
  params, opt_state = keep((new_params, new_opt_state),
                           (good_params, good_opt_state), bad)
  return Guarded(params=params, opt_state=opt_state, good_params=kept_params,
                 good_opt_state=kept_opt,
                 good_psnr=jnp.where(snap, fit_db, good_psnr), bad=bad)
