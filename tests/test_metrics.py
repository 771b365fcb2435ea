"""PSNR and SSIM against independent implementations, and the library
functions that replaced hand-written ones (SSIM, leaky ReLU) against them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax import metrics
from dip_jax.nets import layers


def test_psnr_of_known_mse():
  ref = np.zeros((8, 8, 3))
  assert metrics.psnr(ref + 0.1, ref) == pytest.approx(20.0)
  assert float(metrics.psnr_jax(ref + 0.1, ref)) == pytest.approx(20.0, abs=1e-4)


@pytest.mark.parametrize("shape,sigma", [((40, 33, 3), 0.1), ((11, 64, 1), 0.02),
                                         ((64, 48, 3), 0.005)])
def test_ssim_matches_scikit_image(shape, sigma):
  skm = pytest.importorskip("skimage.metrics")
  rng = np.random.default_rng(0)
  ref = rng.random(shape)
  x = np.clip(ref + rng.normal(0, sigma, ref.shape), 0, 1)
  expected = skm.structural_similarity(
      x, ref, channel_axis=-1, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False, data_range=1.0)
  assert metrics.ssim(x, ref) == pytest.approx(expected, abs=1e-4)
  assert metrics.ssim(ref, ref) == pytest.approx(1.0, abs=1e-6)


def test_ssim_jax_jits_per_image_and_small_images_give_nan():
  rng = np.random.default_rng(2)
  ref = rng.random((2, 16, 16, 3)).astype(np.float32)
  x = np.clip(ref + 0.1 * rng.standard_normal(ref.shape), 0, 1).astype(np.float32)
  both = jax.jit(metrics.ssim_jax)(jnp.asarray(x), jnp.asarray(ref))
  assert both.shape == (2,)
  np.testing.assert_allclose(both, [metrics.ssim(x[i], ref[i]) for i in range(2)],
                             atol=1e-6)
  assert np.isnan(metrics.ssim(x[0, :10], ref[0, :10]))


def test_y_channel_psnr_crops_border():
  rng = np.random.default_rng(1)
  ref = rng.random((20, 20, 3))
  x = ref.copy()
  x[:2] = 0  # damage only the border
  assert metrics.psnr_y(x, ref, border=2) == float("inf")
  assert metrics.psnr_y(x, ref) < 30


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_leaky_relu_is_bit_identical_to_the_hand_written_one(dtype):
  def hand_written(x):
    return jnp.where(x >= 0, x, 0.2 * x)

  x = jnp.concatenate([
      jnp.asarray([0.0, -0.0, 1e-38, -1e-38, 3.0, -3.0, jnp.inf, -jnp.inf]),
      jax.random.normal(jax.random.key(0), (1000,)) * 10]).astype(dtype)
  same = lambda a, b: np.testing.assert_array_equal(
      np.asarray(a, np.float32).view(np.uint32),
      np.asarray(b, np.float32).view(np.uint32))
  same(layers.leaky_relu(x), hand_written(x))
  same(jax.jit(layers.leaky_relu)(x), jax.jit(hand_written)(x))
  loss = lambda f: jax.grad(lambda v: jnp.sum(jnp.sin(f(v)).astype(jnp.float32)))
  same(loss(layers.leaky_relu)(x), loss(hand_written)(x))
  same(jax.jit(loss(layers.leaky_relu))(x), jax.jit(loss(hand_written))(x))
