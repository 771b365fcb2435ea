"""Many images in one program: B fits of one spec stepped together.

A 128 px DIP step leaves most of a GPU idle; B fits that share a spec (the
same task, net, canvas and watchers: only the data, the input z and the
keys differ) can share one program instead. The batch is one more vmapped
axis, outside the restart axis: every lane is exactly its own fit. Each
lane's BatchNorm sees only its own image, its keys are the ones its own run
would draw, and its watchers (EMA, guard, early stopping, SGLD) are its
own: a lane that stops early is frozen (its remaining steps are skipped,
as a halting single fit skips them) while the others go on.

This module holds the lanes' program and its helpers; the loop that runs
it is the driver's one loop (`driver.run_fits`, for one fit or B), which
gives every lane its own history, metrics, snapshots and checkpoints.
`compile_for` compiles the batched program from shapes, once, and gives
its memory estimate; `methods.dip.solve_batch` halves a batch that will not
fit, groups fits by the step their checkpoints reached and turns each lane
into the Result its own run gives.
"""

import collections
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError
from dip_jax.fit import budget
from dip_jax.fit import step as fit_core


def stack(trees):
  return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def lane(tree, i: int):
  """Lane i of a batched pytree (numpy or jax leaves)."""
  return jax.tree.map(lambda a: a[i], tree)


def check_batchable(fits) -> fit_core.FitSpec:
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


def compile_batch(spec: fit_core.FitSpec):
  """The batched chunk: `fit_core.run_chunk` vmapped over lanes (state, data,
  loop keys; the step count is shared), the state donated."""
  chunk = lambda s, d, k, n: fit_core.run_chunk(spec, s, d, k, n)
  return jax.jit(jax.vmap(chunk, in_axes=(0, 0, 0, None)), donate_argnums=0)


# The last few batched programs, by spec, batch size and shapes: a halved
# batch runs two halves of one size, and a sweep many batches of one shape.
_COMPILED = collections.OrderedDict()
_KEEP = 4


def compile_for(fits):
  """(executable, budget.Estimate) of the batched chunk for `fits`,
  compiled from shapes alone: its memory is known before any lane's state
  is allocated, and `run_batch` runs this same executable. A program this
  process compiled already is reused (its estimate then says 0 s of
  compile)."""
  spec = check_batchable(fits)
  lanes = lambda tree: jax.tree.map(
      lambda a: jax.ShapeDtypeStruct((len(fits), *a.shape),
                                     budget.struct(a).dtype), tree)
  data, keys = lanes(fits[0].data), lanes(fits[0].loop_key)
  leaves, tree = jax.tree.flatten((data, keys))
  key = (spec, tree, tuple((a.shape, a.dtype) for a in leaves))
  if key in _COMPILED:
    _COMPILED.move_to_end(key)
    exe, estimate = _COMPILED[key]
    return exe, dataclasses.replace(estimate, compile_seconds=0.0)
  init_fn, _, _ = fit_core.compile_fit(spec)
  state = jax.eval_shape(
      lambda: stack([init_fn(f.init_key, f.data["z"]) for f in fits]))
  t0 = time.perf_counter()
  exe = compile_batch(spec).lower(state, data, keys,
                                  jax.ShapeDtypeStruct((), jnp.int32)
                                  ).compile()
  _COMPILED[key] = exe, budget.estimate_of(exe, time.perf_counter() - t0)
  while len(_COMPILED) > _KEEP:
    _COMPILED.popitem(last=False)
  return _COMPILED[key]
