"""Early stopping for DIP without the clean image: ES-WMV, ES-EMV and the
discrepancy principle.

Wang et al., "Early Stopping for Deep Image Prior" (TMLR; arXiv 2112.06074):
the fit's PSNR to the (unknown) clean image rises, peaks and falls as the net
starts to fit the noise, and the spread of the recent outputs has its valley
near that peak. The detector tracks the running minimum of a variance of the
outputs x_t = f(z + noise) and stops when it has not decreased for
`patience` consecutive steps; the answer is the iterate at the minimum.

  wmv  windowed moving variance over the last W outputs (W = 100):
         V_t = 1/W sum_i ||x_i - mean||^2 / N   (N = pixels x channels)
  emv  exponential moving variance (alpha = 0.1; the paper's ES-EMV):
         d_t = x_t - ema_{t-1}
         ema_t = ema_{t-1} + alpha d_t
         emv_t = (1 - alpha) (emv_{t-1} + alpha ||d_t||^2 / N)
       with ema_1 = x_1, emv_1 = 0. This is the incremental form of an
       exponentially weighted variance (West 1979; Finch 2009): with weights
       w_1 = (1-a)^(t-1), w_i = a (1-a)^(t-i) (they sum to 1), ema_t is the
       weighted mean and emv_t = sum_i w_i ||x_i - ema_t||^2 / N exactly,
       which tests/test_stopping.py checks. The authors' notebook uses the
       same recursion without the 1/N (a constant factor: same minimum) and
       clips the EMA to [0, 1] (a no-op here: outputs are sigmoids).

Everything is a pure function of a `StopState` pytree carried inside the
fit state, so detection runs in the jitted chunk with no host round-trip
per step, is vmapped with the restarts and is saved in checkpoints.

Steps are counted from 1: the output of the t-th step is x_t, matching the
1-based `oracle_peak_step` of the run summary. A step t is a candidate for
the minimum when t > `start` and (wmv) the window is full (t >= W), and,
with a fit gate, once the gate has opened.

The fit gate (`fit_gate` = kappa > 0) answers ES-WMV's failure on
denoising: the variance has an early minimum (steps ~150-400) while the net
is still drawing the image's coarse content, long before the PSNR peak on
textured images. The gate opens (for good) at the first step whose data
fit MSE(A x_t, y) is at most kappa * sigma^2, sigma^2 the noise variance
estimated from y itself (`metrics.noise_sigma`): the discrepancy principle
(Morozov) as a start condition -- before the fit reaches the noise level
the net has not yet fitted the image. On the first tuning images (Kodak,
not in the evaluation set) the variance minimum after the gate sat within
~0.6 dB of the peak where plain ES-WMV lost up to 5 dB; on a wider tuning
set it still lost up to 2.6 dB, hence the discrepancy stop below.

The discrepancy stop (`discrepancy`, the denoising default) is the gate
alone: the detected step t_d is the first candidate step whose fit has
reached kappa * sigma^2, and the answer is the one the fit stands for `lag`
steps later. With the output average (EMA, decay b) as the answer, the
default lag is the EMA's mean age b / (1 - b) (99 steps at 0.99), so the
answer is the average of the outputs centred on t_d rather than of those
before it. It stops at t_d + lag and needs no window. Chosen on ten Kodak
runs outside the evaluation set (5 crops x sigma 25, 50), where the
window variance's minimum after the gate sat up to 2.6 dB below the peak
(the minimum can come before the PSNR peak on smooth images at sigma =
50, or keep falling for 1000s of steps past it on textured ones at sigma
= 25) and the discrepancy step plus the EMA's lag was within 0.9 dB
everywhere (docs/early_stopping.md has the gap table from records).

The band (`band` = b > 0, the denoising default 0.05) answers the
discrepancy stop's knife edge: the fit's MSE crosses the noise level at a
shallow angle, on smooth images it stays within a few per cent of it for
hundreds of steps, and an estimate a few per cent off then moves the
single crossing by as much. The band stop is detected (best_step) where
the ratio MSE / (kappa sigma^2) first reaches 1 + b and leaves the band
(band_end) where it first reaches 1 - b; the answer is the one from the
band's middle, (best_step + band_end) // 2 + lag. That step can be past
when the band is left, so the detector keeps `slots` past answers
(snapshots.py) from best_step + lag on and answers with the nearest; it
stops once it holds the answer. A run that ends inside the band answers
from the middle of the band so far. b = 0 is the single crossing above.

`lag` applies to every kind: the answer kept is the one `lag` steps after
the detected minimum (until then, the one at the minimum).

Memory (wmv): the window is a ring buffer of W images, W * N * 4 bytes per
restart: 100 x 256 x 256 x 3 floats = 79 MB, 315 MB at 512 x 512 (and the
same on disk in every checkpoint); plus three image-sized buffers (the sums'
centre, sum, and the kept best image). emv keeps only image-sized buffers.

Numerics (wmv): the variance is taken from running sums in O(N) per step,
  V_t = (Q - ||S||^2 / W) / (W N),  S = sum_i (x_i - c), Q = sum_i ||x_i - c||^2,
updated by adding the newest and subtracting the one leaving the window.
In float32 the textbook form (c = 0) cancels catastrophically: Q ~ W N E[x^2]
~ W N / 4 while late in a fit W N V ~ W N 1e-5, so V would keep ~2 of its 7
digits, and add/subtract updates drift further. Two remedies: the sums are
taken about a centre c (the window mean at the last refresh), so Q is of
the order of W N V and little cancels; and every W steps (when the ring
buffer wraps) S and Q are recomputed exactly from the buffer and c is reset
to the current mean, which bounds the drift to W updates. That refresh is
O(W N) once per W steps: O(N) amortized.
"""

import dataclasses
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp

from dip_jax.fit.watchers import StepView, Watcher
from dip_jax.fit.watchers import snapshots as snapshots_lib

KINDS = ("none", "wmv", "emv", "discrepancy")


@dataclasses.dataclass(frozen=True)
class StopSpec(Watcher):
  """The detector's static settings, and the fit's watcher "stop" (it runs
  across the restarts: see `update`)."""
  kind: str                 # wmv | emv | discrepancy
  window: int = 100         # wmv: outputs in the window
  patience: int = 1000      # candidate steps without a new minimum to stop
  alpha: float = 0.1        # emv: weight of the newest output
  start: int = 100          # steps before any step is a candidate
  halt: bool = True         # stop the fit at detection (False: only record)
  fit_gate: float = 0.0     # kappa: candidates once MSE(Ax, y) <= kappa
                            # sigma^2 (sigma from y); 0 = no gate;
                            # discrepancy: its stopping threshold
  lag: int = 0              # answer = the one `lag` steps after detection
  band: float = 0.0         # discrepancy: b > 0 answers from the middle of
                            # the band (1 + b, 1 - b) x fit_gate x sigma^2
  slots: int = 16           # band: past answers kept (snapshots.py)
  name = "stop"
  across_restarts = True

  @property
  def banded(self) -> bool:
    """Whether this is the band stop (the band is the discrepancy
    stop's: other kinds have none)."""
    return self.kind == "discrepancy" and self.band > 0

  def init(self, first: StepView):
    return init(self, first.out)

  def update(self, w, view: StepView):
    """`view` carries all restarts; view.step is the step just taken
    (0-based), so t = view.step + 1 is the 1-based count."""
    gate = {}
    if self.fit_gate > 0:
      # The step's data fit, from its PSNR to y.
      gate = dict(fit_mse=10.0 ** (-view.fit_db / 10.0),
                  noise_var=view.data["noise_var"])
    return update(self, w, view.out, view.answer, view.step + 1,
                  view.per_restart, **gate)

  def stopped(self, w):
    return w.stopped

  def halting(self) -> bool:
    return self.halt

  def metrics(self, w, clean):
    del clean
    return {"es_value": w.value}


@flax.struct.dataclass
class StopState:
  value: jax.Array          # float32 criterion at the last step (nan: none yet)
  best: jax.Array           # float32 its minimum over candidate steps
  best_step: jax.Array      # int32 1-based step of the minimum (0: none yet)
  best_image: jax.Array     # the fit's answer at best_step + lag (at
                            # best_step until that step is reached)
  wait: jax.Array           # int32 candidate steps since the last minimum
  stopped: jax.Array        # bool: patience ran out (discrepancy: lag steps
                            # after detection); nothing changes after
  gate: jax.Array           # bool: the fit gate has opened (True without one)
  window: Any = None        # wmv: W x image ring buffer; x_t in slot (t-1)%W
  center: Any = None        # wmv: c, the point the sums are taken about
  sum: Any = None           # wmv: S = sum over the window of x_i - c
  sumsq: Any = None         # wmv: Q = sum over the window of ||x_i - c||^2
  ema: Any = None           # emv: exponential moving average of x
  emv: Any = None           # emv: exponential moving variance (per element)
  band_end: Any = None      # band: int32 step the fit left the band (0: not yet)
  answer_step: Any = None   # band: int32 step of best_image (0: none)
  snapshots: Any = None     # band: past answers (snapshots.Snapshots)


def default_lag(ema_decay: float) -> int:
  """The mean age of an EMA of decay b, b / (1 - b) steps (0 without one):
  the EMA `lag` steps after t is centred on t."""
  b = float(ema_decay)
  return int(round(b / (1.0 - b))) if 0.0 < b < 1.0 else 0


def from_config(es, ema_decay: float = 0.0) -> StopSpec | None:
  """The StopSpec of a config's `early_stopping` block (None for none);
  `lag` -1 means `default_lag(ema_decay)`."""
  kind = str(es.kind)
  if kind not in KINDS:
    raise ValueError(f"early_stopping.kind must be one of {list(KINDS)}, "
                     f"got {kind!r}")
  if kind == "none":
    return None
  spec = StopSpec(kind=kind, window=int(es.window), patience=int(es.patience),
                  alpha=float(es.alpha), start=int(es.start),
                  halt=bool(es.halt), fit_gate=float(es.get("fit_gate", 0.0)),
                  lag=int(es.get("lag", 0)), band=float(es.get("band", 0.0)),
                  slots=int(es.get("slots", 16)))
  if spec.lag == -1:
    spec = dataclasses.replace(spec, lag=default_lag(ema_decay))
  if spec.window < 2:
    raise ValueError(f"early_stopping.window must be >= 2, got {spec.window}")
  if spec.patience < 1:
    raise ValueError(f"early_stopping.patience must be >= 1, "
                     f"got {spec.patience}")
  if not 0.0 < spec.alpha < 1.0:
    raise ValueError(f"early_stopping.alpha must be in (0, 1), "
                     f"got {spec.alpha}")
  if spec.start < 0:
    raise ValueError(f"early_stopping.start must be >= 0, got {spec.start}")
  if not spec.fit_gate >= 0.0:  # also refuses nan
    raise ValueError(f"early_stopping.fit_gate must be >= 0, "
                     f"got {spec.fit_gate}")
  if spec.lag < 0:
    raise ValueError(f"early_stopping.lag must be >= 0 (or -1: the output "
                     f"average's mean age), got {spec.lag}")
  if not 0.0 <= spec.band < 1.0:
    raise ValueError(f"early_stopping.band must be in [0, 1), got "
                     f"{spec.band}")
  if kind != "discrepancy":
    # The band is the discrepancy stop's: a config that sets it (denoising)
    # can switch to wmv/emv with one flag.
    spec = dataclasses.replace(spec, band=0.0)
  if spec.banded and (spec.slots < 2 or spec.slots % 2):
    raise ValueError(f"early_stopping.slots must be an even number >= 2, "
                     f"got {spec.slots}")
  if kind == "discrepancy" and spec.fit_gate <= 0:
    raise ValueError("early_stopping.kind=discrepancy stops where the fit "
                     "reaches fit_gate x the noise variance: set "
                     "early_stopping.fit_gate > 0 (1.0 is the default)")
  if kind != "discrepancy" and spec.lag > spec.patience:
    # It stops `patience` steps after the minimum: the lagged answer
    # would never be reached.
    raise ValueError(f"early_stopping.lag ({spec.lag}) must be <= "
                     f"early_stopping.patience ({spec.patience})")
  return spec


def init(spec: StopSpec, image) -> StopState:
  """A fresh detector for one restart; `image` gives shape and dtype (and is
  the placeholder answer until a candidate step is seen)."""
  f32 = lambda v: jnp.asarray(v, jnp.float32)
  state = StopState(
      value=f32(jnp.nan), best=f32(jnp.inf),
      best_step=jnp.zeros((), jnp.int32), best_image=image,
      wait=jnp.zeros((), jnp.int32), stopped=jnp.zeros((), bool),
      gate=jnp.asarray(spec.fit_gate <= 0.0))
  if spec.kind == "wmv":
    return state.replace(
        window=jnp.zeros((spec.window, *image.shape), jnp.float32),
        center=image.astype(jnp.float32),
        sum=jnp.zeros(image.shape, jnp.float32), sumsq=f32(0.0))
  if spec.kind == "emv":
    return state.replace(ema=image.astype(jnp.float32), emv=f32(0.0))
  if spec.banded:
    i32 = jnp.zeros((), jnp.int32)
    return state.replace(band_end=i32, answer_step=i32,
                         snapshots=snapshots_lib.init(image, spec.slots))
  return state


def _sq(a):
  return jnp.sum(jnp.square(a))


def _observe(spec: StopSpec, st: StopState, x, t) -> StopState:
  """Feeds x_t into the running statistic: O(N)."""
  if spec.kind == "discrepancy":
    return st
  x = x.astype(jnp.float32)
  if spec.kind == "wmv":
    slot = (t - 1) % spec.window
    old = jax.lax.dynamic_index_in_dim(st.window, slot, 0, keepdims=False)
    # While the buffer fills (t <= W) the slot holds no output to drop; the
    # sums of those steps are replaced by the exact refresh at t = W anyway.
    leaving = t > spec.window
    d_new, d_old = x - st.center, old - st.center
    return st.replace(
        window=jax.lax.dynamic_update_index_in_dim(st.window, x, slot, 0),
        sum=st.sum + d_new - jnp.where(leaving, d_old, 0.0),
        sumsq=st.sumsq + _sq(d_new) - jnp.where(leaving, _sq(d_old), 0.0))
  n = x.size
  first = t == 1
  d = x - st.ema
  return st.replace(
      ema=jnp.where(first, x, st.ema + spec.alpha * d),
      emv=jnp.where(first, 0.0,
                    (1 - spec.alpha) * (st.emv + spec.alpha * _sq(d) / n)))


def _refresh(window):
  """wmv: exact (center, sum, sumsq) from the buffer about its mean: O(W N)."""
  center = jnp.mean(window, axis=0)
  d = window - center
  return center, jnp.sum(d, axis=0), _sq(d)


def _criterion(spec: StopSpec, st: StopState, t, ratio=None):
  """(value, defined) of the variance after step t (discrepancy: of the
  fit's MSE over the noise variance, `ratio`)."""
  if spec.kind == "discrepancy":
    return ratio, t >= 1
  if spec.kind == "wmv":
    w, n = spec.window, st.center.size
    var = (st.sumsq - _sq(st.sum) / w) / (w * n)
    return jnp.maximum(var, 0.0), t >= w
  return st.emv, t >= 1


def _decide(spec: StopSpec, st: StopState, answer, t, ratio=None
            ) -> StopState:
  """The running minimum and the patience count (discrepancy: the first
  candidate step, and the stop `lag` steps later). A stopped detector is
  frozen, so steps a fit takes after detection (other restarts still going,
  or halt=False) cannot change what it detected."""
  value, defined = _criterion(spec, st, t, ratio)
  candidate = defined & (t > spec.start) & ~st.stopped & st.gate
  if spec.kind == "discrepancy":
    better = candidate & (st.best_step == 0)
  else:
    better = candidate & (value < st.best)
  wait = jnp.where(better, 0, st.wait + candidate.astype(jnp.int32))
  best_step = jnp.where(better, t, st.best_step).astype(jnp.int32)
  # The answer at the minimum, replaced by the one `lag` steps on when the
  # minimum still stands then.
  keep = better | ((best_step > 0) & (t == best_step + spec.lag) & ~st.stopped)
  if spec.kind == "discrepancy":
    done = (best_step > 0) & (t >= best_step + spec.lag)
  else:
    done = candidate & (wait >= spec.patience)
  return st.replace(
      value=jnp.where(defined, value, jnp.nan).astype(jnp.float32),
      best=jnp.where(better, value, st.best),
      best_step=best_step,
      best_image=jnp.where(keep, answer, st.best_image),
      wait=wait,
      stopped=st.stopped | done)


def _decide_band(spec: StopSpec, st: StopState, answer, t, ratio
                 ) -> StopState:
  """The band stop: detected (best_step) at the first step after `start`
  whose ratio is at most kappa (1 + b), the band left (band_end) at the
  first at most kappa (1 - b); the answer is the one from the band's
  middle plus `lag`, (best_step + band_end) // 2 + lag -- the nearest
  snapshot where that step is past, and the fit stops once it has it.
  Until the band is left the kept answer is the one for the band so far
  (as if it ended now), so a run that ends inside the band answers from
  its middle."""
  kappa = spec.fit_gate
  live = (t > spec.start) & ~st.stopped
  entered = live & (st.best_step == 0) & (ratio <= kappa * (1 + spec.band))
  hi = jnp.where(entered, t, st.best_step).astype(jnp.int32)
  left = live & (hi > 0) & (st.band_end == 0) & (
      ratio <= kappa * (1 - spec.band))
  lo = jnp.where(left, t, st.band_end).astype(jnp.int32)
  base = hi + spec.lag  # the first step a middle + lag can be
  inside = live & (hi > 0)  # entered, not stopped: the answer can change
  snaps = snapshots_lib.add(st.snapshots, answer, t, base, inside)
  target = (hi + jnp.where(lo > 0, lo, t)) // 2 + spec.lag
  past, past_step = snapshots_lib.nearest(snaps, target, base)
  from_past = target < t
  return st.replace(
      value=ratio.astype(jnp.float32),
      best=jnp.where(entered, ratio, st.best),
      best_step=hi, band_end=lo, snapshots=snaps,
      best_image=jnp.where(inside, jnp.where(from_past, past, answer),
                           st.best_image),
      answer_step=jnp.where(inside, jnp.where(from_past, past_step, t),
                            st.answer_step).astype(jnp.int32),
      stopped=st.stopped | (live & (lo > 0) & (t >= target)))


def update(spec: StopSpec, st: StopState, x, answer, t,
           per_restart: Callable = lambda f: f, fit_mse=None,
           noise_var=None) -> StopState:
  """One step of the detector: x = the step's output, answer = the image
  the fit stands for at this step (kept at the minimum), t = the 1-based
  step number, a scalar shared by all restarts (they step together);
  with a fit gate, fit_mse = the step's MSE(A x, y) per restart and
  noise_var = the estimated noise variance of y.
  `per_restart` vmaps a per-restart function over the restart axis (or is
  the identity for one restart).

  The periodic wmv refresh is a lax.cond on the shared t, outside the vmap:
  a cond on a batched predicate would turn into a select that pays the
  O(W N) refresh every step.
  """
  st = per_restart(lambda s, x: _observe(spec, s, x, t))(st, x)
  if spec.kind == "wmv":
    # Only the window goes into the cond and only the small sums come out:
    # with the whole state as its operand and result, the untaken branch
    # cost a copy of the W-image window every step (+3 % step time at
    # 128 px, measured by benchmarks/early_stopping.py).
    center, sums, sumsq = jax.lax.cond(
        t % spec.window == 0, per_restart(_refresh),
        lambda w: (st.center, st.sum, st.sumsq), st.window)
    st = st.replace(center=center, sum=sums, sumsq=sumsq)
  if spec.fit_gate > 0:
    if fit_mse is None or noise_var is None:
      raise ValueError("a fit gate needs fit_mse and noise_var")
    # Per restart, elementwise: it opens for good at the first step whose
    # fit reaches the noise level.
    st = st.replace(gate=st.gate | (fit_mse <= spec.fit_gate * noise_var))
  if spec.kind == "discrepancy":
    ratio = (fit_mse / noise_var).astype(jnp.float32)
    decide = _decide_band if spec.banded else _decide
    return per_restart(lambda s, a, r: decide(spec, s, a, t, r))(
        st, answer, ratio)
  return per_restart(lambda s, a: _decide(spec, s, a, t))(st, answer)
