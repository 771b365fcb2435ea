"""Many images in one program: B fits of one spec stepped together.

A 128 px DIP step leaves most of a GPU idle; B fits that share a spec (the
same task, net, canvas and watchers: only the data, the input z and the
keys differ) can share one program instead. The batch is one more vmapped
axis, outside the restart axis: every lane is exactly its own fit. Each
lane's BatchNorm sees only its own image, its keys are the ones its own run
would draw, and its watchers (EMA, guard, early stopping, SGLD) are its
own: a lane that stops early is frozen (its remaining steps are skipped,
as a halting single fit skips them) while the others go on.

`run_batch` is the loop, on the default device (no restart mesh, no
checkpoints or snapshots: a batch is meant for sweeps of short fits; a
single run keeps `driver.run_fit`'s sharding and resuming).
`methods.dip.solve_batch` turns each lane into the Result its own run gives.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import driver
from dip_jax.errors import InputError
from dip_jax.priors import dip


def _stack(trees):
  return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def lane(tree, i: int):
  """Lane i of a batched pytree (numpy or jax leaves)."""
  return jax.tree.map(lambda a: a[i], tree)


def check_batchable(fits) -> dip.FitSpec:
  """The spec every fit shares, or one line naming what differs."""
  spec = fits[0].spec
  for i, fit in enumerate(fits[1:], 1):
    if fit.spec != spec:
      fields = [f for f in spec.__dataclass_fields__
                if getattr(fit.spec, f) != getattr(spec, f)]
      raise InputError(f"image {i} cannot share a program with image 0: "
                       f"their fits differ in {', '.join(fields)} (a batch "
                       f"needs one task, canvas size and setting)")
    if (jax.tree.structure(fit.data) != jax.tree.structure(fits[0].data)
        or [np.shape(a) for a in jax.tree.leaves(fit.data)]
        != [np.shape(a) for a in jax.tree.leaves(fits[0].data)]):
      raise InputError(f"image {i}'s data differ in shape from image 0's")
  return spec


def compile_batch(spec: dip.FitSpec):
  """The batched chunk: `dip.run_chunk` vmapped over lanes (state, data,
  loop keys; the step count is shared), the state donated."""
  chunk = lambda s, d, k, n: dip.run_chunk(spec, s, d, k, n)
  return jax.jit(jax.vmap(chunk, in_axes=(0, 0, 0, None)), donate_argnums=0)


def run_batch(fits, num_steps: int, say=None):
  """Runs the fits of `fits` (one shared spec) to `num_steps` in one
  program. Returns, per fit, (state, history, timing) as `driver.run_fit`
  does; a lane's history ends at its own detection when it halts early,
  and its fit_seconds are the batch's divided by its size."""
  spec = check_batchable(fits)
  init_fn, _, _ = dip.compile_fit(spec)
  state = _stack([init_fn(f.init_key, f.data["z"]) for f in fits])
  data = _stack([f.data for f in fits])
  keys = _stack([f.loop_key for f in fits])
  t0 = time.perf_counter()
  exe = compile_batch(spec).lower(state, data, keys, jnp.int32(1)).compile()
  compile_seconds = time.perf_counter() - t0
  halt = spec.stopping is not None and spec.stopping.halt
  step, history, t_fit = 0, {}, time.perf_counter()
  while step < num_steps:
    n = min(spec.chunk, num_steps - step)
    state, m = exe(state, data, keys, jnp.int32(n))
    m = jax.device_get(m)   # leaves: B x chunk x (restarts)
    for k, v in m.items():
      history.setdefault(k, []).append(np.asarray(v)[:, :n])
    step += n
    loss = np.asarray(m["loss"])[:, n - 1]
    if not spec.guard and not np.all(np.isfinite(loss)):
      bad = sorted({int(i) for i in np.nonzero(~np.isfinite(loss))[0]})
      raise FloatingPointError(f"loss became non-finite by step {step} in "
                               f"image(s) {bad}; lower optim.learning_rate "
                               f"or enable guard")
    if say:
      say(f"batch of {len(fits)}: step {step}/{num_steps}, mean loss "
          f"{float(np.nanmean(loss)):.5f}")
    if halt and driver.all_stopped(state):   # every restart of every lane
      break
  seconds = time.perf_counter() - t_fit
  history = {k: np.concatenate(v, axis=1) for k, v in history.items()}
  runs = []
  for i in range(len(fits)):
    st = lane(state, i)
    # Steps this lane took (fewer than the loop's when it halted early).
    taken = int(np.ravel(jax.device_get(st.step))[0])
    runs.append((st, {k: v[i, :taken] for k, v in history.items()},
                 {"fit_seconds": seconds / len(fits),
                  "compile_seconds": compile_seconds,
                  "batch_size": len(fits)}))
  return runs
