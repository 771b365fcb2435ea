"""Many images in one program: B fits of one spec stepped together.

A 128 px DIP step leaves most of a GPU idle; B fits that share a spec (the
same task, net, canvas and watchers: only the data, the input z and the
keys differ) can share one program instead. The batch is one more vmapped
axis, outside the restart axis: every lane is exactly its own fit. Each
lane's BatchNorm sees only its own image, its keys are the ones its own run
would draw, and its watchers (EMA, guard, early stopping, SGLD) are its
own: a lane that stops early is frozen (its remaining steps are skipped,
as a halting single fit skips them) while the others go on.

`run_batch` is the loop, on the default device (no restart mesh or
snapshots: a single run keeps `driver.run_fit`'s sharding). With a
checkpoint folder per fit, every lane is saved as its own run would save
it (its state, its history, its seconds; `checkpoint.Checkpointer`), every
`checkpoint_every` steps and when a SIGINT/SIGTERM arrives, and a batch
whose lanes all hold a checkpoint of one step resumes from them -- as can
each lane's own single run. `compile_for` compiles the batched program
from shapes, once, and gives its memory estimate; `methods.dip.solve_batch`
halves a batch that will not fit, groups fits by the step their
checkpoints reached and turns each lane into the Result its own run gives.
"""

import collections
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import budget
from dip_jax import checkpoint
from dip_jax import driver
from dip_jax import signals
from dip_jax.errors import InputError
from dip_jax.fit import step as fit_core


def _stack(trees):
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
      lambda: _stack([init_fn(f.init_key, f.data["z"]) for f in fits]))
  t0 = time.perf_counter()
  exe = compile_batch(spec).lower(state, data, keys,
                                  jax.ShapeDtypeStruct((), jnp.int32)
                                  ).compile()
  _COMPILED[key] = exe, budget.estimate_of(exe, time.perf_counter() - t0)
  while len(_COMPILED) > _KEEP:
    _COMPILED.popitem(last=False)
  return _COMPILED[key]


def _resume(ckpts, template, say):
  """(step, states, histories, seconds) restored from every lane's
  checkpoint, or None to start afresh (none saved, or lanes that restored
  different steps: one had a damaged checkpoint moved aside)."""
  restored = [c.restore_latest(template) for c in ckpts]
  steps = {r[0] if r else 0 for r in restored}
  if steps == {0}:
    return None
  if len(steps) > 1:
    if say:
      say(f"batch: its lanes' checkpoints are at steps {sorted(steps)}; "
          f"fitting them again from the start")
    return None
  step = steps.pop()
  states = [r[1] for r in restored]
  histories = [{k: [np.asarray(v)] for k, v in r[2].items()}
               for r in restored]
  seconds = max(float(r[3].get("seconds", 0.0)) for r in restored)
  if say:
    say(f"batch of {len(ckpts)}: resuming from the checkpoints at step "
        f"{step}")
  return step, states, histories, seconds


def run_batch(fits, num_steps: int, say=None, checkpoint_dirs=None,
              checkpoint_every: int = 0, keep_checkpoints: int = 2,
              compiled=None):
  """Runs the fits of `fits` (one shared spec) to `num_steps` in one
  program. Returns, per fit, (state, history, timing) as `driver.run_fit`
  does; a lane's history ends at its own detection when it halts early,
  and its fit_seconds are the batch's divided by its size.

  With `checkpoint_dirs` (one per fit) and `checkpoint_every` > 0, each lane
  is checkpointed there as its own run would be, and the batch resumes
  from them when every lane holds one of the same step. `compiled`: what
  `compile_for(fits)` returned, so the program is not compiled again."""
  spec = check_batchable(fits)
  init_fn, _, _ = fit_core.compile_fit(spec)
  # Lane 0's starting state is also the template checkpoints restore into;
  # the other lanes are only drawn when the batch starts afresh.
  first = init_fn(fits[0].init_key, fits[0].data["z"])
  ckpts = ([checkpoint.Checkpointer(d, keep=keep_checkpoints)
            for d in checkpoint_dirs]
           if checkpoint_dirs and checkpoint_every else [])
  step, previous_seconds = 0, 0.0
  histories = [{} for _ in fits]
  resumed = _resume(ckpts, first, say) if ckpts else None
  if resumed:
    step, lanes, histories, previous_seconds = resumed
  else:
    lanes = [first] + [init_fn(f.init_key, f.data["z"]) for f in fits[1:]]
  del first
  state = _stack(lanes)
  del lanes
  data = _stack([f.data for f in fits])
  keys = _stack([f.loop_key for f in fits])
  exe, estimate = compiled or compile_for(fits)
  compile_seconds = estimate.compile_seconds
  halt = fit_core.halts(spec)
  t_fit = time.perf_counter()

  def taken(i):
    # Steps lane i took (fewer than the loop's when it halted early).
    return int(np.ravel(jax.device_get(state.step[i]))[0])

  def save():
    seconds = previous_seconds + time.perf_counter() - t_fit
    for i, ckpt in enumerate(ckpts):
      hist = {k: np.concatenate(v)[:taken(i)]
              for k, v in histories[i].items()}
      histories[i] = {k: [v] for k, v in hist.items()}
      ckpt.save(step, lane(state, i), hist, {"seconds": seconds})

  try:
    while step < num_steps and not (halt and driver.all_stopped(spec, state)):
      n = min(spec.chunk, num_steps - step,
              *([checkpoint_every - step % checkpoint_every] if ckpts
                else []))
      state, m = exe(state, data, keys, jnp.int32(n))
      m = jax.device_get(m)   # leaves: B x chunk x (restarts)
      for i, hist in enumerate(histories):
        for k, v in m.items():
          hist.setdefault(k, []).append(np.asarray(v)[i, :n])
      step += n
      loss = np.asarray(m["loss"])[:, n - 1]
      if not driver.guarded(spec) and not np.all(np.isfinite(loss)):
        bad = sorted({int(i) for i in np.nonzero(~np.isfinite(loss))[0]})
        raise FloatingPointError(f"loss became non-finite by step {step} in "
                                 f"image(s) {bad}; lower "
                                 f"optim.learning_rate or enable guard")
      if say:
        elapsed = time.perf_counter() - t_fit
        say(f"batch of {len(fits)}: step {step}/{num_steps}, mean loss "
            f"{float(np.nanmean(loss)):.5f}, {elapsed:.1f} s")
      interrupted = signals.pending()
      if ckpts and (interrupted or step % checkpoint_every == 0
                    or step == num_steps):
        save()
      if interrupted:
        raise signals.Interrupted(interrupted, step, resumable=bool(ckpts))
  finally:
    for ckpt in ckpts:
      ckpt.close()
  seconds = previous_seconds + time.perf_counter() - t_fit
  runs = []
  for i in range(len(fits)):
    runs.append((lane(state, i),
                 {k: np.concatenate(v)[:taken(i)]
                  for k, v in histories[i].items()},
                 {"fit_seconds": seconds / len(fits),
                  "compile_seconds": compile_seconds,
                  "batch_size": len(fits)}))
  return runs
