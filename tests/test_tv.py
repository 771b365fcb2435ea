"""Tests for the TV prior and its Chambolle–Pock solver (dip_jax.solvers.tv)."""

import jax.numpy as jnp
import numpy as np
import pytest

from conftest import smooth_image
from dip_jax import metrics
from dip_jax.solvers import tv as tv_lib


def _pool2(v):
  """2x average pooling of an N x H x W x C batch (a linear JAX operator)."""
  n, h, w, c = v.shape
  return v.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def test_tv_matches_hand_computation():
  # A vertical edge of height 1 over 4 rows, in 2 channels: 4 per channel.
  edge = np.zeros((4, 5, 2), np.float32)
  edge[:, 2:] = 1.0
  assert float(tv_lib.tv(edge)) == pytest.approx(8.0)
  # A centre spike: sqrt(2) at the spike (both differences couple) plus 1 for
  # the pixels above and left of it.
  spike = np.zeros((3, 3, 1), np.float32)
  spike[1, 1] = 1.0
  assert float(tv_lib.tv(spike)) == pytest.approx(2.0 + np.sqrt(2.0))
  # Neumann boundary: nothing past the last row / column at the corner.
  corner = np.zeros((3, 3, 1), np.float32)
  corner[2, 2] = 1.0
  assert float(tv_lib.tv(corner)) == pytest.approx(2.0)


def test_gradient_adjoint_is_exact():
  rng = np.random.default_rng(0)
  x = rng.standard_normal((5, 6, 2)).astype(np.float32)
  p = rng.standard_normal((2, 5, 6, 2)).astype(np.float32)
  lhs = float(jnp.vdot(tv_lib._grad(x), p))
  rhs = float(jnp.vdot(x, tv_lib._grad_adjoint(p)))
  assert lhs == pytest.approx(rhs, rel=1e-5)


def test_denoising_matches_skimage():
  restoration = pytest.importorskip("skimage.restoration")
  clean = smooth_image(48, 48, 3, seed=1)
  rng = np.random.default_rng(0)
  noisy = (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)
  weight = 0.1
  # skimage minimises 0.5||u − f||² + weight·TV(u) per channel, unclipped, so
  # λ = weight and box=False. Its default stop (eps=2e-4) halts well short of
  # the minimum, so compare against a tightly converged run as well.
  sk_default = restoration.denoise_tv_chambolle(
      noisy, weight=weight, channel_axis=-1)
  sk_tight = restoration.denoise_tv_chambolle(
      noisy.astype(np.float64), weight=weight, eps=1e-7, max_num_iter=3000,
      channel_axis=-1)
  max_iters = 2000
  x, info = tv_lib.solve_tv(noisy, None, weight, box=False,
                            max_iters=max_iters, tol=1e-5)
  obj = lambda v: float(tv_lib.objective(v, noisy, None, weight))
  assert info["objective"] == pytest.approx(obj(x), rel=1e-4)
  assert obj(x) <= obj(sk_tight) * (1 + 1e-3)
  assert obj(x) <= obj(sk_default)
  assert np.mean(np.abs(np.asarray(x) - sk_tight)) < 1e-2
  assert info["converged"] and 0 < info["iterations"] < max_iters


def test_inpainting_beats_masked_input():
  clean = smooth_image(48, 48, 3, seed=2)
  rng = np.random.default_rng(1)
  mask = (rng.random((48, 48, 1)) < 0.5).astype(np.float32)
  observed = clean * mask
  filled = np.where(mask > 0, clean, 0.5)
  lam = 0.03
  x, info = tv_lib.solve_tv(observed, None, lam, mask=mask, max_iters=3000)
  x = np.asarray(x)
  assert x.min() >= 0.0 and x.max() <= 1.0  # box constraint on by default
  # Smooth images inpaint well: demand a 10 dB gain over the 0.5-filled input
  # (about 13 dB is seen).
  assert metrics.psnr(x, clean) > metrics.psnr(filled, clean) + 10.0
  assert info["converged"]
  # The general K = [A; ∇] path (mask as the operator) reaches the same
  # minimum as the identity special case (data term in the primal prox).
  mask_op = lambda v: v * jnp.asarray(mask)
  _, info_general = tv_lib.solve_tv(observed, mask_op, lam, mask=mask,
                                    max_iters=3000)
  assert info_general["objective"] == pytest.approx(info["objective"], rel=1e-3)


def test_downsampling_reconstruction():
  clean = smooth_image(48, 48, 3, seed=3)
  low = np.asarray(_pool2(jnp.asarray(clean)[None]))  # 1 x 24 x 24 x 3
  lam = 0.01
  x, info = tv_lib.solve_tv(low, _pool2, lam, x_shape=clean.shape,
                            max_iters=3000)
  assert x.shape == clean.shape
  nearest = np.repeat(np.repeat(low[0], 2, 0), 2, 1)
  obj = lambda v: float(tv_lib.objective(v, low, _pool2, lam))
  assert obj(x) < obj(np.zeros_like(clean))
  assert obj(x) < obj(nearest)
  assert metrics.psnr(np.asarray(x), clean) > metrics.psnr(nearest, clean)
  # The solver stopped on its tolerance, not on the cap.
  assert info["converged"] and info["iterations"] < 3000, info
  assert np.isfinite(info["objective"])


def test_shape_mismatch_is_reported():
  low = np.zeros((1, 24, 24, 3), np.float32)
  with pytest.raises(ValueError, match="x_shape"):
    tv_lib.solve_tv(low, _pool2, 0.1)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (7, 1, 1), (2, 2, 3)])
def test_tiny_images(shape):
  """One row or column: the gradient's adjoint must keep the image's shape
  (it once built an empty border from an empty slice)."""
  y = np.random.default_rng(0).random(shape).astype(np.float32)
  x, _ = tv_lib.solve_tv(y, lam=0.1, max_iters=20)
  assert np.asarray(x).shape == shape and np.all(np.isfinite(x))


def test_tv_gradient_reaches_the_chambolle_pock_solution():
  """The gradient method solves mean((x - y)^2) + lam TV_eps(x) / |x|, which
  is (2 / |x|) (0.5 ||x - y||^2 + (lam / 2) TV): with lam = 2 x the TV
  method's lambda both find the same image (up to eps and the step count)."""
  import dip_jax  # pylint: disable=g-import-not-at-top
  clean = smooth_image(32, 32, 3)
  noisy = np.clip(clean + 0.1 * np.random.default_rng(0).standard_normal(
      clean.shape), 0, 1).astype(np.float32)
  cp = dip_jax.reconstruct(noisy, method="tv", clean=clean,
                           **{"tv.lam": 0.1}).reconstruction
  gd = dip_jax.reconstruct(noisy, method="tv_gradient", clean=clean,
                           **{"tv_gradient.lam": 0.2,
                              "tv_gradient.num_steps": 1500,
                              "tv_gradient.learning_rate": 0.005})
  assert gd.history["loss"][-1] < gd.history["loss"][0]
  assert np.abs(gd.reconstruction - cp).mean() < 5e-3
  assert metrics.psnr(gd.reconstruction, clean) == pytest.approx(
      metrics.psnr(cp, clean), abs=0.1)


def test_regularizer_adds_tv_of_x_to_the_objective_dip_tv():
  """config.regularizer.tv > 0 (DIP-TV) adds tv * TV_eps(x) per pixel to
  the data term; 0 leaves the objective itself (the same compiled fit)."""
  from dip_jax import config_lib, objectives, problem as problem_lib  # pylint: disable=g-import-not-at-top
  from dip_jax.methods import dip as dip_method  # pylint: disable=g-import-not-at-top
  from dip_jax.solvers import tv as tv_prior  # pylint: disable=g-import-not-at-top
  c = config_lib.base_config()
  x = np.random.default_rng(0).uniform(size=(1, 8, 8, 3)).astype(np.float32)
  p = problem_lib.Problem(observed=x[0] * 0.5, clean=None, mask=None,
                          out_shape=(8, 8, 3))
  assert dip_method.regularized_objective(p, c) is objectives.mse
  c.regularizer.tv = 0.5
  fn = dip_method.regularized_objective(p, c)
  assert fn is dip_method.regularized_objective(p, c)  # cached
  y = jnp.asarray(x * 0.5)
  want = objectives.mse(x, x, y) + 0.5 * tv_prior.smooth_tv(x, 1e-3) / x.size
  np.testing.assert_allclose(fn(x, x, y), want, rtol=1e-6)
