"""The DIP fit: it denoises, it is deterministic, chunks replay exactly, and
the divergence guard restores the last good state."""

import logging

import jax
import jax.numpy as jnp
import numpy as np

from conftest import smooth_image, tiny_config
from dip_jax import metrics, problem as problem_lib
from dip_jax.data import corruptions
from dip_jax.fit import driver
from dip_jax.fit import step as fit_core
from dip_jax.fit.watchers import guard as guard_lib
from dip_jax.methods import dip as dip_method


def _problem(size=32, sigma=25.0, seed=0):
  clean = smooth_image(size, size, 3, seed)
  noisy = corruptions.gaussian_noise(clean, sigma, np.random.default_rng(seed))
  return problem_lib.Problem(observed=noisy, clean=clean, mask=None,
                             out_shape=clean.shape)


def _fit(config, problem, steps):
  fit = dip_method.build_fit(config, problem)
  state, history, _ = driver.run_fit(fit, steps, driver.Hooks(progress=False))
  return state, driver.ensemble(driver.outputs(fit, state)), history["loss"]


def test_same_seed_same_reconstruction():
  cfg, prob = tiny_config(num_steps=12, log_every=6), _problem()
  _, a, la = _fit(cfg, prob, 12)
  _, b, lb = _fit(cfg, prob, 12)
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(la, lb)
  _, c, _ = _fit(tiny_config(num_steps=12, log_every=6, seed=1), prob, 12)
  assert np.abs(a - c).max() > 1e-4


def test_chunking_does_not_change_the_fit():
  # Per-step noise comes from fold_in(key, step), so how the steps are cut
  # into dispatches (and hence where a resumed run restarts) is invisible.
  prob = _problem()
  s1, a, _ = _fit(tiny_config(log_every=12), prob, 12)
  s2, b, _ = _fit(tiny_config(log_every=5), prob, 12)
  np.testing.assert_allclose(a, b, atol=1e-6)
  for x, y in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params)):
    np.testing.assert_allclose(x, y, atol=1e-5)


def test_log_every_and_num_steps_do_not_recompile(caplog):
  prob = _problem()
  _fit(tiny_config(log_every=5, num_steps=10), prob, 10)
  caplog.set_level(logging.DEBUG)
  with jax.log_compiles(True):
    _, b, _ = _fit(tiny_config(log_every=3, num_steps=7), prob, 7)
  compiles = [r.getMessage() for r in caplog.records
              if "ompil" in r.getMessage() and "cache" not in r.getMessage()]
  assert not compiles, compiles
  assert np.all(np.isfinite(b))


def test_tiny_denoising_fit_beats_the_noisy_input():
  prob = _problem(size=32, sigma=25.0)
  cfg = tiny_config(num_steps=400, log_every=100)
  _, recon, losses = _fit(cfg, prob, 400)
  gain = metrics.psnr(recon, prob.clean) - metrics.psnr(
      np.clip(prob.observed, 0, 1), prob.clean)
  assert losses[-1] < losses[0]
  assert gain > 3.0, gain


def test_guard_restores_last_good_state_on_nan():
  cfg = tiny_config(**{"guard.every": 1})
  fit = dip_method.build_fit(cfg, _problem(), compile_chunk=False)
  spec, data, init_key, loop_key = fit.spec, fit.data, fit.init_key, fit.loop_key
  # One restart's step, unbatched (the fit's keys and z carry the R axis).
  data = {**data, "z": data["z"][0]}
  state = fit_core.init_state(spec, init_key[0], data["z"])
  step = jax.jit(lambda s: fit_core.fit_step(spec, s, data, loop_key[0]))
  for _ in range(3):
    state, m = step(state)
  assert not bool(m["restored"])
  good = state.watch["guard"].params
  poisoned = state.replace(params=jax.tree.map(lambda p: p * jnp.nan, state.params))
  state, m = step(poisoned)
  assert bool(m["restored"])
  for x, y in zip(jax.tree.leaves(state.params), jax.tree.leaves(good)):
    np.testing.assert_array_equal(x, y)
  state, m = step(state)
  assert np.isfinite(float(m["loss"])) and not bool(m["restored"])


def test_guard_snapshot_holds_the_best_fit_seen():
  """A slow slide (each snapshot a little worse, as at a learning rate far
  too large) must not become the reference: the guard only snapshots a state
  that fits at least as well as the one it holds."""
  spec = guard_lib.Guard(psnr_drop=5.0, every=1)
  guard = guard_lib.guard_init(jnp.float32(0.0), ())
  ok = lambda p: (jnp.float32(p), ())
  # Step 0 fits at 20 dB: snapshot.
  keep, guard, bad = guard_lib.guard_update(spec, guard, 0, 1.0, 20.0, ok(1), ok(2))
  assert float(guard.psnr) == 20.0 and float(guard.params) == 1.0 and not bad
  # 18 dB: within the 5 dB drop, not undone, but not a new snapshot either.
  keep, guard, bad = guard_lib.guard_update(spec, guard, 1, 1.0, 18.0, ok(2), ok(3))
  assert not bad and float(keep[0]) == 3.0
  assert float(guard.psnr) == 20.0 and float(guard.params) == 1.0
  # 14 dB: more than 5 dB below the best: back to the 20 dB snapshot.
  keep, guard, bad = guard_lib.guard_update(spec, guard, 2, 1.0, 14.0, ok(3), ok(4))
  assert bad and float(keep[0]) == 1.0
  # A non-finite loss is undone whatever the fit says.
  keep, guard, bad = guard_lib.guard_update(spec, guard, 3, jnp.nan, 30.0, ok(1), ok(5))
  assert bad and float(keep[0]) == 1.0
  # 21 dB: better, so it becomes the snapshot.
  keep, guard, bad = guard_lib.guard_update(spec, guard, 4, 1.0, 21.0, ok(6), ok(7))
  assert float(guard.psnr) == 21.0 and float(guard.params) == 6.0
