"""The fit's equivalences over a whole 100-step curve, to float rounding.

A batch lane is its image's own run, restart 0 of R is the R = 1 run, and
restarts run one at a time in a lax.map (`restart_group`) are the vmapped
ones. With the default fit (Adam, LeakyReLU) such checks hold only the
first 3 to 10 steps closely (tests/test_batch.py's stopping lanes and
SGLD/aSeqDIP lanes, test_devices.py's device counts do so): two programs
that sum in different orders differ by float rounding, and two things in
that fit turn rounding into real differences. This file is where the
batch lanes without a stop, restart 0 of R and restart groups are held.

- Adam: its early updates are sign-like, ~lr whatever the gradient's size,
  so a gradient that is pure rounding (the conv biases in front of batch
  norm: ~1e-9, random sign) becomes an lr-sized move (restart 0 of 4 against
  R = 1 with Adam, measured: relative loss gaps 4.6e-5 at step 1, 0.12 by
  step 19).
- LeakyReLU's kink: a pre-activation within rounding of 0 takes slope 1 in
  one program and 0.2 in the other, so that unit's gradient differs by
  O(1), not by rounding. Measured with SGD (lr 0.1 and 0.3, LeakyReLU, the
  programs below): the curves agree to ~1e-6 and then jump, at a step that
  depends on the trajectory, to 1e-4 .. 2.2e-2 apart (restart 0 vs R = 1
  at step ~40 under lr 0.1; restarts of a lax.map group at steps 20-70).

So here the optimizer is plain SGD (an update is lr x the gradient: a
rounding-sized gradient makes a rounding-sized move) and the net's
LeakyReLU is replaced, for this file only, by a smooth one with the same
slopes far from 0. What is checked is the programs (the batch axis, the
restart vmap, the lax.map groups, each lane's keys), not the activation.
Float64 would be the other way to shrink rounding, but the fit keeps its
parameters, output and observation float32 by design (fit/step.py), so
`jax.enable_x64` would not change the fit's arithmetic.

Measured (jax 0.10.2 CPU, 32 px, the tiny net, 100 steps, SGD lr 0.3, the
loss falling ~45 %): every pair below within 2.2e-6 relative at every step,
PSNRs within 1e-6 dB. Another seed's curve is 3-17 % away, so rtol 2e-5
(about 10x the measured gap) separates "the same run" from "another run"
by three orders of magnitude. Each test compiles two or three tiny
programs (the persistent cache of conftest.py keeps later runs short).
"""

import jax.numpy as jnp
import numpy as np
import pytest

import dip_jax
from conftest import smooth_image, tiny_config
from dip_jax.fit import batch as batch_lib
from dip_jax.fit import step as fit_core
from dip_jax.nets import layers

SIZE, STEPS = 32, 100
RTOL = 2e-5    # measured max 2.2e-6 (see the module docstring)
PSNR_DB = 1e-4  # measured max 1e-6 dB


def smooth_leaky_relu(x):
  """0.6 x + 0.4 |x| is LeakyReLU(0.2); |x| -> sqrt(x^2 + 0.01) - 0.1
  rounds its kink over |x| < ~0.1 (batch-normed inputs are ~1): slopes 0.2
  and 1 far from 0, 0 at 0, and a derivative that rounding moves by
  rounding only."""
  return 0.6 * x + 0.4 * (jnp.sqrt(x * x + 0.01) - 0.1)


def _clear_programs():
  """The compiled programs this process keeps per fit spec. The spec does
  not name the activation, so a program traced with the smooth one must
  not serve another test's fit with the same spec, nor the reverse."""
  fit_core.compile_fit.cache_clear()
  fit_core.compile_net_outputs.cache_clear()
  batch_lib._COMPILED.clear()  # pylint: disable=protected-access


@pytest.fixture(autouse=True)
def smooth_net(monkeypatch):
  # ConvBNAct looks `leaky_relu` up in its module when it is traced.
  _clear_programs()
  monkeypatch.setattr(layers, "leaky_relu", smooth_leaky_relu)
  yield
  _clear_programs()


def _config(**overrides):
  return tiny_config(num_steps=STEPS, log_every=50, **{
      "optim.name": "sgd", "optim.learning_rate": 0.3}, **overrides)


def _images(n):
  cleans = [smooth_image(SIZE, SIZE, seed=s) for s in range(n)]
  rng = np.random.default_rng(0)
  noisy = [np.clip(c + rng.normal(0, 25 / 255, c.shape), 0, 1)
           .astype(np.float32) for c in cleans]
  return cleans, noisy


def _loss(result):
  return np.asarray(result.history["loss"])


def _max_rel(a, b):
  return float(np.max(np.abs(a - b) / np.abs(b)))


def _check_same_run(a, b, what):
  """a and b are one run's loss curves (steps x R); print the gap, so a
  rerun with -s shows the margin."""
  assert a.shape == b.shape == (STEPS, *a.shape[1:]), (a.shape, b.shape)
  print(f"{what}: max relative loss gap over {STEPS} steps "
        f"{_max_rel(a, b):.1e}")
  np.testing.assert_allclose(a, b, rtol=RTOL, err_msg=what)


def test_batch_lanes_are_their_own_runs_for_the_whole_curve():
  cleans, noisy = _images(2)
  cfg = _config()
  alone = [dip_jax.reconstruct(y, clean=c, config=cfg)
           for y, c in zip(noisy, cleans)]
  together = dip_jax.reconstruct_batch(noisy, clean=cleans, config=cfg)
  for k, (a, b) in enumerate(zip(alone, together)):
    assert b.info["batch_size"] == 2
    _check_same_run(_loss(b), _loss(a), f"batch lane {k} vs its run")
    assert b.info["psnr"] == pytest.approx(a.info["psnr"], abs=PSNR_DB)
  # The fit moved: the margins above are over a real curve (measured:
  # the loss falls by ~45 % in 100 steps).
  assert _loss(alone[0])[-1, 0] < 0.7 * _loss(alone[0])[0, 0]
  # The two images' runs are far apart (lanes swapped would fail above).
  assert _max_rel(_loss(alone[1]), _loss(alone[0])) > 100 * RTOL


def test_restarts_are_single_runs_for_the_whole_curve():
  _, noisy = _images(1)
  runs = {(r, g): _loss(dip_jax.reconstruct(noisy[0], config=_config(
      num_restarts=r, restart_group=g))) for r, g in ((4, 4), (4, 1), (1, 0))}
  vmapped, mapped, single = runs[4, 4], runs[4, 1], runs[1, 0]
  assert vmapped.shape == (STEPS, 4)
  # Restart 0 of R = 4 has the R = 1 run's init, input and noise keys.
  _check_same_run(vmapped[:, :1], single, "restart 0 of 4 vs R = 1")
  # One at a time in a lax.map or all four vmapped: the same four fits.
  _check_same_run(mapped, vmapped, "restart_group 1 vs 4")
  # Each restart is a fit of its own (measured 3-17 % apart from restart
  # 0): a restart given restart 0's keys would fail this.
  for r in range(1, 4):
    assert _max_rel(vmapped[:, r], vmapped[:, 0]) > 100 * RTOL, r
