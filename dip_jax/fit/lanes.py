"""A fit ready to run (`Fit`) and its compiled program on the devices: one
fit (`Runner`, its restarts on the restart mesh) or B fits stepped together
(`Lanes`, the lanes' vmapped program on the lane mesh). The driver's loop
(fit/driver.py) sees every fit as lanes: B x steps x R metrics, whatever B.
"""

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax.fit import batch
from dip_jax.fit import sharding
from dip_jax.fit import step as fit_core


@dataclasses.dataclass
class Fit:
  """A fit ready to run: the static spec, its data, the restart keys."""
  spec: fit_core.FitSpec
  data: dict
  init_key: Any
  loop_key: Any
  num_devices: int = 0
  executable: Any = None   # the chunk program compiled from shapes (budget)
  estimate: Any = None     # its budget.Estimate


class Runner:
  """A compiled fit on its devices: `chunk(n)` runs n steps (one dispatch)
  and returns their metrics on the host. The benchmarks drive this directly;
  `run_fits` adds resuming, logging, snapshots and checkpoints."""

  def __init__(self, fit: Fit):
    spec = fit.spec
    init_fn, chunk_fn, self.output_fn = fit_core.compile_fit(spec)
    state = init_fn(fit.init_key, fit.data["z"])
    mesh = sharding.restart_mesh(spec.num_restarts, fit.num_devices)
    self.state, self.data = sharding.place(mesh, state, fit.data)
    self.loop_key = sharding.place_keys(mesh, fit.loop_key)
    if fit.executable is not None and mesh is None:
      # Compiled from the shapes by the budget check: the same program.
      self.exe = fit.executable
      self.compile_seconds = fit.estimate.compile_seconds
    else:
      t_compile = time.perf_counter()
      # Compiled ahead of time: no timed chunk includes compilation.
      self.exe = chunk_fn.lower(self.state, self.data, self.loop_key,
                                jnp.int32(1)).compile()
      self.compile_seconds = time.perf_counter() - t_compile

  def chunk(self, n: int) -> dict:
    """Runs min(n, spec.chunk) steps; the state is donated and replaced."""
    self.state, m = self.exe(self.state, self.data, self.loop_key,
                             jnp.int32(n))
    return jax.device_get(m)


class Lanes:
  """B >= 1 fits of one spec stepped together, as the loop sees them: the
  lane axis leads every metric (B x steps x R) whatever B is. One lane runs
  the unbatched program (`Runner`, on the restart mesh), exactly as a
  single fit always has; B > 1 run the lanes' vmapped program
  (`batch.compile_for`), its lanes split over the devices where there are
  several (`sharding.lane_mesh`)."""

  def __init__(self, fits, compiled=None):
    self.fits, self.batched = fits, len(fits) > 1
    if not self.batched:
      self.runner = Runner(fits[0])
      self.compile_seconds = self.runner.compile_seconds
      return
    self.mesh = sharding.lane_mesh(len(fits), fits[0].num_devices)
    self.exe, estimate = compiled or batch.compile_for(fits)
    self.compile_seconds = estimate.compile_seconds
    self.data = sharding.place_lanes(
        self.mesh, batch.stack([f.data for f in fits]))
    self.keys = sharding.place_lanes(
        self.mesh, batch.stack([f.loop_key for f in fits]))
    if self.mesh is not None:
      # The program compiled from shapes (for the memory check) runs on one
      # device; the lanes' own shardings need theirs, compiled once here.
      t0 = time.perf_counter()
      init_fn = fit_core.compile_fit(fits[0].spec)[0]
      lanes = jax.sharding.NamedSharding(self.mesh,
                                         jax.sharding.PartitionSpec(
                                             sharding.LANE_AXIS))
      state = jax.tree.map(
          lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=lanes),
          jax.eval_shape(lambda: batch.stack(
              [init_fn(f.init_key, f.data["z"]) for f in fits])))
      self.exe = batch.compile_batch(fits[0].spec).lower(
          state, self.data, self.keys, jnp.int32(1)).compile()
      self.compile_seconds += time.perf_counter() - t0
    spec = fits[0].spec
    self.output_fn = jax.jit(jax.vmap(
        lambda s, d: fit_core.reconstruct_output(spec, s, d)))
    self.state = None

  def first_state(self):
    """Lane 0's starting state (also what checkpoints restore into)."""
    if not self.batched:
      return self.runner.state
    init_fn = fit_core.compile_fit(self.fits[0].spec)[0]
    return init_fn(self.fits[0].init_key, self.fits[0].data["z"])

  def start(self, states):
    """Sets the lanes' states (a list; lanes drawn afresh where None)."""
    if not self.batched:
      self.runner.state = states[0]
      return
    init_fn = fit_core.compile_fit(self.fits[0].spec)[0]
    self.state = sharding.place_lanes(self.mesh, batch.stack([
        s if s is not None else init_fn(f.init_key, f.data["z"])
        for s, f in zip(states, self.fits)]))

  @property
  def states(self):
    return self.runner.state if not self.batched else self.state

  def lane(self, i: int):
    return self.states if not self.batched else batch.lane(self.states, i)

  def chunk(self, n: int) -> dict:
    if not self.batched:
      return {k: np.asarray(v)[None] for k, v in self.runner.chunk(n).items()}
    self.state, m = self.exe(self.state, self.data, self.keys, jnp.int32(n))
    return {k: np.asarray(v) for k, v in jax.device_get(m).items()}

  def taken(self) -> np.ndarray:
    """Steps each lane has taken (a halted lane stops counting)."""
    steps = np.asarray(jax.device_get(self.states.step))
    return steps.reshape(len(self.fits), -1)[:, 0]

  def outputs(self) -> np.ndarray:
    """Every lane's answers now: B x R x 1 x H x W x C."""
    if not self.batched:
      return np.asarray(self.runner.output_fn(self.runner.state,
                                              self.runner.data))[None]
    return np.asarray(self.output_fn(self.state, self.data))
