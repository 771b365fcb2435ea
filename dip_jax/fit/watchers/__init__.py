"""Watchers: small pure parts the fit step runs after its optimizer update.

A watcher is a frozen dataclass (hashable: it is part of the fit's static
spec) with a `name` (its key in `FitState.watch`) and

  init(first) -> w               its state at the start (`first`: a StepView
                                 of the initial output, params, opt_state)
  update(w, view) -> w           after each step (`view`: `StepView`)

and, only where it has one,

  review(w, view, old, new) -> ((params, opt_state), w, rejected)
                                 runs before the others and may undo the
                                 step (the divergence guard; old and new
                                 are (params, opt_state) before and after
                                 it): a rejected step leaves the output and
                                 the other watchers as they were
  loss(w, out) -> scalar         a term added to the objective (DeepRED's
                                 coupling); w is the state before the step
  net_input(w, z) -> z           the input the net sees (aSeqDIP's z)
  answer(w, current) -> image    the image the fit stands for; watchers are
                                 asked in order, each given the answer of
                                 those before it (the EMA replaces the
                                 output; SGLD's mean or DeepRED's x replace
                                 that)
  stopped(w) -> bool per restart a detector's decision; where
                                 `halting()` is True a stopped restart is
                                 frozen (its remaining steps skipped)
  metrics(w, clean) -> dict      per-step numbers for the history (clean:
                                 the clean image, or None without one)

`across_restarts = True` runs `update` once over all restarts (leading axis
R) instead of inside the per-restart vmap: the early-stopping detectors
branch on the step every restart shares there. `own_answer = True` marks a
method's own answer (the history then gets `psnr_answer`).

The step (`dip_jax/fit/step.py`) runs whatever watchers the spec lists, in
order, and knows none of them by name.
"""

import dataclasses
from typing import Any, ClassVar

import flax
import jax


@flax.struct.dataclass
class StepView:
  """What a watcher's `update` may read about the step just taken.

  Inside the per-restart vmap each array is one restart's; for an
  `across_restarts` watcher they carry the leading restart axis."""
  step: jax.Array            # int32, 0-based index of the step just taken
  out: jax.Array             # the step's output f(z + noise), image-sized
  loss: Any = None           # the objective's value
  fit_db: Any = None         # PSNR of A x to y (inf without an image y)
  params: Any = None         # the parameters after the step
  opt_state: Any = None      # (init only) the optimizer's first state
  answer: Any = None         # across_restarts only: the fit's answer now
  data: Any = None           # the fit's data (z, observed, noise_var, ...)
  per_restart: Any = flax.struct.field(pytree_node=False, default=None)
  # (top, left, H, W): where the image `out` sits in the net's canvas (z).
  crop: tuple = flax.struct.field(pytree_node=False, default=())


@dataclasses.dataclass(frozen=True)
class Watcher:
  """Base class: the defaults of the optional parts (see the module)."""
  name: ClassVar[str] = ""
  across_restarts: ClassVar[bool] = False
  own_answer: ClassVar[bool] = False

  def init(self, first: StepView):
    raise NotImplementedError

  def update(self, w, view: StepView):
    raise NotImplementedError

  def halting(self) -> bool:
    return False


def has(watcher, part: str) -> bool:
  """Whether `watcher` defines the optional `part` (review, loss, ...)."""
  return callable(getattr(watcher, part, None))


def find(watchers, cls):
  """The watcher of type `cls` in `watchers`, or None."""
  for w in watchers:
    if isinstance(w, cls):
      return w
  return None
