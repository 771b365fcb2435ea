"""conv2d (custom CPU VJP) must match conv2d_xla and its autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax.nets.cpu_conv import conv2d, conv2d_xla

# (N, H, W) of the already padded input: odd and even, non-square.
SHAPES = [(1, 17, 23), (2, 14, 19)]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def rel_err(a, b):
  a, b = np.asarray(a), np.asarray(b)
  return np.abs(a - b).max() / np.abs(b).max()


def make_inputs(seed, n, h, w, k, cin, cout, stride, dtype):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.standard_normal((n, h, w, cin)), dtype)
  ker = jnp.asarray(rng.standard_normal((k, k, cin, cout)), dtype)
  out = (n, (h - k) // stride + 1, (w - k) // stride + 1, cout)
  g = jnp.asarray(rng.standard_normal(out), dtype)
  return x, ker, g


def loss_fn(conv, stride):
  def loss(x, w, g):
    return jnp.sum(conv(x, w, stride) * g)
  return loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_xla(k, stride, shape, dtype):
  # x64 only inside this block, so it cannot leak into other tests.
  with jax.enable_x64(dtype == np.float64):
    n, h, w = shape
    x, ker, g = make_inputs(0, n, h, w, k, 6, 8, stride, dtype)
    tol = TOL[dtype]

    y = jax.jit(conv2d, static_argnums=2)(x, ker, stride)
    y_ref = conv2d_xla(x, ker, stride)
    assert y.dtype == y_ref.dtype == dtype
    assert y.shape == y_ref.shape == g.shape
    assert rel_err(y, y_ref) < tol

    grad = jax.jit(jax.grad(loss_fn(conv2d, stride), argnums=(0, 1)))
    grad_ref = jax.grad(loss_fn(conv2d_xla, stride), argnums=(0, 1))
    (dx, dw), (dx_ref, dw_ref) = grad(x, ker, g), grad_ref(x, ker, g)
    assert dx.shape == x.shape and dw.shape == ker.shape
    assert dx.dtype == dw.dtype == dtype
    assert rel_err(dx, dx_ref) < tol
    assert rel_err(dw, dw_ref) < tol


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (1, 2)])
def test_vmap_of_grad_over_restarts(k, stride):
  """Restarts: vmap over a leading axis of both the input and the kernel."""
  restarts, n, h, w = 3, 2, 13, 16
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.standard_normal((restarts, n, h, w, 5)), jnp.float32)
  ker = jnp.asarray(rng.standard_normal((restarts, k, k, 5, 7)), jnp.float32)

  def per_restart(conv):
    def loss(x, w):
      y = conv(x, w, stride)
      return jnp.sum(jnp.sin(y))  # Non-linear, so g differs per restart.
    return jax.vmap(jax.value_and_grad(loss, argnums=(0, 1)))

  (v, (dx, dw)) = jax.jit(per_restart(conv2d))(x, ker)
  (v_ref, (dx_ref, dw_ref)) = per_restart(conv2d_xla)(x, ker)
  assert dx.shape == x.shape and dw.shape == ker.shape
  assert rel_err(v, v_ref) < 1e-5
  assert rel_err(dx, dx_ref) < 1e-5
  assert rel_err(dw, dw_ref) < 1e-5


def test_x64_does_not_leak():
  # The float64 gradient checks run under `jax.enable_x64`; leaving the
  # context must restore float32 for every later test on this worker.
  with jax.enable_x64(True):
    assert jnp.zeros(()).dtype == jnp.float64
    conv2d(jnp.zeros((1, 4, 4, 2), jnp.float64), jnp.zeros((3, 3, 2, 2), jnp.float64))
  assert jnp.zeros(()).dtype == jnp.float32


def test_rejects_channel_mismatch():
  with pytest.raises(ValueError):
    conv2d(jnp.zeros((1, 8, 8, 3)), jnp.zeros((3, 3, 4, 2)))
