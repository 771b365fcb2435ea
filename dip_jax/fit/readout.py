"""What a fit's watchers say, read on the host by kind: its early stop,
its output average, its guard. The step itself knows no watcher by name;
the driver's messages and a method's summary do, and read them here."""

import jax
import numpy as np

from dip_jax.fit import step as fit_core
from dip_jax.fit import watchers as watchers_lib
from dip_jax.fit.watchers import ema as ema_lib
from dip_jax.fit.watchers import guard as guard_lib
from dip_jax.fit.watchers import stopping


def stop_of(spec):
  """The fit's early-stopping watcher (a stopping.StopSpec), or None."""
  return watchers_lib.find(spec.watchers, stopping.StopSpec)


def ema_decay(spec) -> float:
  """The output average's decay (0: the answer is the output itself)."""
  ema = watchers_lib.find(spec.watchers, ema_lib.Ema)
  return ema.decay if ema is not None else 0.0


def guarded(spec) -> bool:
  return watchers_lib.find(spec.watchers, guard_lib.Guard) is not None


def all_stopped(spec, state) -> bool:
  """Whether a halting watcher has stopped every restart."""
  return bool(jax.device_get(fit_core.halted(spec, state)))


def detected_steps(spec, state) -> list:
  """The detected step of each restart."""
  stop = state.watch[stop_of(spec).name]
  return [int(s) for s in np.asarray(jax.device_get(stop.best_step))]


def band_ends(spec, state) -> list:
  """The band stop's step where each restart's fit left the band (0: not
  yet)."""
  stop = state.watch[stop_of(spec).name]
  return [int(s) for s in np.asarray(jax.device_get(stop.band_end))]


def answer_steps(spec, state) -> list:
  """The step whose answer each restart kept: `lag` steps after its
  detection, or the detected step itself where the fit ended before that
  (or 0: no detection). The band stop records the step it kept."""
  if stop_of(spec).banded:
    stop = state.watch[stop_of(spec).name]
    return [int(s) for s in np.asarray(jax.device_get(stop.answer_step))]
  lag = stop_of(spec).lag
  ran = int(np.max(jax.device_get(state.step)))
  return [t + lag if t and t + lag <= ran else t
          for t in detected_steps(spec, state)]


def restores(history) -> int:
  """How many steps the guard undid (over all restarts) so far."""
  undone = history.get("restored", [])
  return int(sum(np.sum(a) for a in undone))
