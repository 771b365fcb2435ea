"""The budget check: what a DIP fit will need, known before it allocates.

The fit's chunk program is compiled from shapes alone (`jax.ShapeDtypeStruct`,
nothing allocated), so XLA's own memory analysis of that program gives its
peak (arguments + outputs + temporaries, less what the donated state
aliases) and its cost analysis the FLOPs of a step. A fit whose peak exceeds
what the backend has (or `config.memory_limit_gb`) is refused with one line
before the input z or any state exists; a long one is announced with the
estimate. The compiled program is the one the driver then runs, so the check
costs no second compilation.

Measured against the RSS growth of the first chunk on CPU
(benchmarks/memory_budget.py, denoise :quick net at 128/256/512 px and the
tiny test net at 256/512 px): measured / estimate = 0.95-1.54 on an idle
machine, the larger ratios on fits under 70 MiB, and up to 52 MiB over the
estimate under load (the runtime's thread stacks and buffers, the host
copies of the metrics). A fit is refused when 1.1 x the estimate + 128 MiB
exceeds the free memory.

A large image file is checked from its header, before its pixels are
decoded: the fit is built on a stand-in of the same shapes whose arrays are
constants (`problem.shape_problem`) and `checked_only` stops it right after
this check (see HEADER_CHECK_BYTES). There the fit is first held to a floor
that needs no compilation (`floor_bytes`: its state, its image-sized inputs
and one full-resolution activation of the net): refusing a 10000 x 10000
photo after compiling its fit peaked at 0.78 GiB of RSS, from the floor at
0.27 GiB, of which importing dip_jax.cli.run is 0.20 (tests/test_input_edges.py).
"""

import contextvars
import dataclasses
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError
from dip_jax import nets

# What the runtime adds to XLA's count (see the module docstring).
OVERHEAD = 1.1
OVERHEAD_BYTES = 128 * 2 ** 20
# Assumed sustained rates for the time estimate, FLOP/s: the skip net's step
# reached ~75 GFLOP/s per core here (issue "Speed to the hardware limit");
# for accelerators a deliberately modest fraction of their peak.
CPU_FLOPS_PER_CORE = 75e9
ACCELERATOR_FLOPS = 20e12
# An image file whose decoded float32 pixels take more than this is checked
# from its header first (`run.check_before_decoding`): decoding and
# converting a photo takes several copies of it (the 10000 x 10000 PNG of
# the issue reached 6.6 GiB before its fit was refused), more than a fit a
# machine can run would need to be told no. Smaller ones are checked once
# decoded, which spares them a second compilation of the fit.
HEADER_CHECK_BYTES = 32 * 2 ** 20

# True inside `checked_only`: a passing `check` stops its caller there.
_CHECK_ONLY = contextvars.ContextVar("budget_check_only", default=False)
# The config `checked_only` checks: `compile_chunk` holds its fit to the
# floor before compiling it.
_FLOOR_CONFIG = contextvars.ContextVar("budget_floor_config", default=None)


class _Passed(Exception):
  """Raised by a passing `check` inside `checked_only`."""


@dataclasses.dataclass(frozen=True)
class Estimate:
  peak_bytes: int            # XLA's peak of the chunk program
  flops_per_step: float      # 0 when the backend does not say
  compile_seconds: float

  @property
  def gib(self) -> float:
    """The memory the fit is expected to need, GiB."""
    return (OVERHEAD * self.peak_bytes + OVERHEAD_BYTES) / 2 ** 30

  def seconds_per_step(self, backend: str) -> float:
    rate = (CPU_FLOPS_PER_CORE * (os.cpu_count() or 1) if backend == "cpu"
            else ACCELERATOR_FLOPS)
    return self.flops_per_step / rate


def struct(a):
  # The dtype the array will have on the device (float64 numpy -> float32);
  # PRNG keys (an extended dtype) stay as they are.
  dtype = a.dtype
  if not jax.dtypes.issubdtype(dtype, jax.dtypes.extended):
    dtype = jax.dtypes.canonicalize_dtype(dtype)
  return jax.ShapeDtypeStruct(a.shape, dtype)


def compile_chunk(chunk_fn, init_fn, init_keys, loop_keys, z_struct, data):
  """(executable, Estimate) of the chunk program for these shapes."""
  state = jax.eval_shape(init_fn, init_keys, z_struct)
  data = jax.tree.map(struct, {**data, "z": z_struct})
  config = _FLOOR_CONFIG.get()
  if config is not None:
    floor, what = floor_bytes(config, state, data)
    _refuse(Estimate(peak_bytes=floor, flops_per_step=0.0,
                     compile_seconds=0.0),
            float(config.memory_limit_gb), what, "needs at least about")
  t = time.perf_counter()
  exe = chunk_fn.lower(state, data, struct(loop_keys),
                       jax.ShapeDtypeStruct((), jnp.int32)).compile()
  return exe, estimate_of(exe, time.perf_counter() - t)


def floor_bytes(config, state, data) -> tuple[int, str]:
  """A lower bound of the peak XLA will give the chunk program of a DIP fit,
  from shapes alone (nothing compiled), and the fit's size in words.

  The program's arguments hold the whole state (the chunk's skip branch
  passes every leaf through, so none is pruned; donated, each is counted
  once) and the data the step reads: z, the observation, its mask, the
  clean image. Its temporaries hold at least one full-resolution
  activation of the net, for the restarts vmapped together (each conv's
  output is a buffer of its own): `nets.full_resolution_channels` of it (each
  family's own: the nets' docstrings).

  Args:
    config: the run's config (net, precision, restart_group).
    state: the fit's starting state, as ShapeDtypeStructs (R x ... leaves).
    data: the chunk's data as ShapeDtypeStructs, z of R x 1 x H x W x C.

  Returns:
    (bytes, "H x W px on a canvas, R restart(s)" as `check` names a fit).
  """
  restarts, _, canvas_h, canvas_w, _ = data["z"].shape
  h, w = state.out.shape[-3:-1]
  arrays = sum(_nbytes(a) for a in jax.tree.leaves(state))
  arrays += sum(_nbytes(a) for k in ("z", "observed", "mask", "clean")
                for a in jax.tree.leaves(data.get(k)))
  # Restarts run in groups (methods/dip.py); on CPU an automatic group may
  # be a single restart, elsewhere it is all of them.
  group = int(config.get("restart_group", 0)) or (
      restarts if jax.default_backend() != "cpu" else 1)
  itemsize = jnp.dtype(config.get("precision", "float32")).itemsize
  activation = (min(group, restarts) * canvas_h * canvas_w * itemsize
                * nets.full_resolution_channels(config.net))
  return (int(arrays + activation),
          f"{h}x{w} px on a {canvas_h}x{canvas_w} canvas, "
          f"{restarts} restart(s)")


def _nbytes(a) -> int:
  """Bytes of a ShapeDtypeStruct (0 for PRNG keys and other extended
  dtypes, whose size the backend decides)."""
  if a is None or jax.dtypes.issubdtype(a.dtype, jax.dtypes.extended):
    return 0
  return int(np.prod(a.shape, dtype=np.int64)) * a.dtype.itemsize


def estimate_of(exe, compile_seconds: float) -> Estimate:
  """The Estimate of a compiled chunk program: XLA's memory and cost
  analyses."""
  mem = exe.memory_analysis()
  peak = 0 if mem is None else (
      mem.argument_size_in_bytes + mem.output_size_in_bytes
      - mem.alias_size_in_bytes + mem.temp_size_in_bytes)
  cost = exe.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else (cost or {})
  # The scan's body is counted once: that is one step (plus a little).
  flops = float(cost.get("flops", 0.0))
  return Estimate(peak_bytes=int(peak), flops_per_step=flops,
                  compile_seconds=compile_seconds)


def available_gib() -> float | None:
  """Memory the fit may use: the accelerator's free memory, or on CPU the
  host's MemAvailable; None when unknown."""
  device = jax.local_devices()[0]
  if device.platform != "cpu":
    stats = device.memory_stats() or {}
    if "bytes_limit" in stats:
      return (stats["bytes_limit"] - stats.get("bytes_in_use", 0)) / 2 ** 30
    return None
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) / 2 ** 20
  except OSError:
    pass
  return None


def check(estimate: Estimate, limit_gib: float, what: str) -> None:
  """Refuses, in one line, a fit that will not fit in memory."""
  _refuse(estimate, limit_gib, what, "needs about")
  if _CHECK_ONLY.get():
    raise _Passed()


def _refuse(estimate: Estimate, limit_gib: float, what: str,
            needs: str) -> None:
  """The one-line refusal of `check` ("this fit `needs` X GiB ...") where
  the estimate exceeds memory_limit_gb (`limit_gib` > 0) or else the
  memory available."""
  limit = limit_gib if limit_gib > 0 else available_gib()
  source = ("memory_limit_gb" if limit_gib > 0 else
            "available on this machine")
  if limit is not None and estimate.gib > limit:
    raise InputError(
        f"this fit {needs} {estimate.gib:.1f} GiB ({what}) but "
        f"{limit:.1f} GiB are {source}; use a smaller image "
        f"(--config.center_crop), fewer restarts or a narrower net, or set "
        f"--config.memory_limit_gb")


def checked_only(prepare, config=None) -> None:
  """Runs `prepare()` (a method's validation, which builds its fit and
  checks its budget) up to the budget check and no further: a refusal
  raises as it would, a fit that fits returns here, before the caller
  allocates its input and state. Used on shape-only problems
  (`problem.shape_problem`), whose arrays are constants held as one
  number; a method without a budget check just runs its validation.

  With `config` (the one `prepare` builds its fit from), a fit whose floor
  (`floor_bytes`) already exceeds the memory is refused before its
  program is compiled."""
  token = _CHECK_ONLY.set(True)
  floor_token = _FLOOR_CONFIG.set(config)
  try:
    prepare()
  except _Passed:
    pass
  finally:
    _FLOOR_CONFIG.reset(floor_token)
    _CHECK_ONLY.reset(token)


def describe(estimate: Estimate, num_steps: int, backend: str) -> str:
  per_step = estimate.seconds_per_step(backend)
  total = per_step * num_steps
  span = (f"{total / 3600:.1f} h" if total >= 3600 else
          f"{total / 60:.0f} min" if total >= 60 else f"{total:.0f} s")
  return (f"estimate before the fit: about {estimate.gib:.2f} GiB, "
          f"~{per_step:.3g} s/step, ~{span} for {num_steps} steps on "
          f"{backend} (from the program's FLOPs at an assumed rate)")
