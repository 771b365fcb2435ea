"""dip_jax's SkipNet against an independent PyTorch implementation.

The torch net lives in benchmarks/torch_skip.py (it doubles as the baseline
of benchmarks/step_speed.py). Copying dip_jax's weights into it and getting
the same output checks, layer for layer, what the parameter counts alone
cannot: padding sides, stride-2 alignment, bilinear upsampling with half-pixel
centres, BN with batch statistics and biased variance, the concat order of
skip and deeper branches.
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dip_jax.nets import SkipNet, count_params  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import torch_skip  # pylint: disable=g-import-not-at-top,wrong-import-position


def _jax_params(net, in_ch, size=64):
  shapes = jax.eval_shape(lambda: net.init(
      jax.random.key(0), jnp.zeros((1, size, size, in_ch))))
  return count_params(shapes)


@pytest.mark.parametrize("skip,expected", [((4,) * 5, 2_217_831),
                                           ((128,) * 5, 3_002_627)])
def test_parameter_counts_match(skip, expected):
  net = torch_skip.SkipNetTorch(skip=skip)
  assert torch_skip.count_params(net) == expected
  assert _jax_params(SkipNet(channels_skip=skip), 32) == expected


def _random_params(net, z, seed):
  """A parameter tree for `net` with every leaf random, made in numpy.

  Random rather than `net.init`'s: fresh BN layers are scale 1, bias 0,
  which would hide a scale/bias swap or a missing copy. And numpy rather
  than jax.random: compiling flax's init costs several seconds per shape.
  """
  shapes = jax.eval_shape(net.init, jax.random.key(0), z)["params"]
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = path[-1].key
    if name == "kernel":  # PyTorch's default bound, 1/sqrt(fan_in).
      bound = 1 / np.sqrt(np.prod(leaf.shape[:3]))
      return rng.uniform(-bound, bound, leaf.shape).astype(np.float32)
    base = 1.0 if name == "scale" else 0.0
    return (base + 0.3 * rng.standard_normal(leaf.shape)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def _nchw(a):
  # np.array copies: torch warns on wrapping the read-only buffers of jax.
  return torch.from_numpy(np.array(a).transpose(0, 3, 1, 2).copy())


@pytest.mark.parametrize("skip", [(2, 2, 2), (2, 0, 3)])
def test_forward_matches_dip_jax(skip):
  in_ch, h, w = 5, 32, 48  # Non-square, so H and W cannot be swapped.
  net = SkipNet(out_channels=3, channels_down=(8, 8, 8), channels_up=(8, 6, 8),
                channels_skip=skip, conv_impl="xla")
  z = jax.random.uniform(jax.random.key(1), (1, h, w, in_ch))
  params = _random_params(net, z, seed=2)
  # Compared before the sigmoid, which would squash errors near 0 and 1.
  raw = net.clone(sigmoid=False)
  want = np.asarray(jax.jit(raw.apply)({"params": params}, z))

  model = torch_skip.SkipNetTorch(in_ch=in_ch, out_ch=3, down=(8, 8, 8),
                                  up=(8, 6, 8), skip=skip, sigmoid=False)
  torch_skip.load_flax_params(model, params)
  assert torch_skip.count_params(model) == count_params(params)
  with torch.no_grad():
    got = model(_nchw(z))
  got = got.numpy().transpose(0, 2, 3, 1)
  assert got.shape == want.shape == (1, h, w, 3)
  # BN renormalises every layer, so outputs are O(1): an absolute tolerance.
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_gradients_match_dip_jax():
  # The benchmark compares training steps, so check the backward pass too:
  # same MSE loss, same parameter gradients (a few, by name).
  net = SkipNet(out_channels=3, channels_down=(8, 8), channels_up=(8, 8),
                channels_skip=(2, 2), conv_impl="xla")
  z = jax.random.uniform(jax.random.key(3), (1, 16, 24, 4))
  target = jax.random.uniform(jax.random.key(4), (1, 16, 24, 3))
  params = _random_params(net, z, seed=5)
  grads = jax.jit(jax.grad(lambda p: jnp.mean(
      (net.apply({"params": p}, z) - target) ** 2)))(params)

  model = torch_skip.SkipNetTorch(in_ch=4, out_ch=3, down=(8, 8), up=(8, 8),
                                  skip=(2, 2))
  torch_skip.load_flax_params(model, params)
  loss = torch.mean((model(_nchw(z)) - _nchw(target)) ** 2)
  loss.backward()
  units = model.units
  pairs = [(units["down0_a"].conv.conv.weight.grad,
            grads["down0_a"]["conv"]["kernel"]),
           (units["skip1"].bn.weight.grad, grads["skip1"]["bn"]["scale"]),
           # Not merge/conv biases: a BN right after them zeroes their
           # gradients analytically, so they would compare rounding noise.
           (units["merge0_bn"].weight.grad, grads["merge0_bn"]["scale"]),
           (units["up0"].bn.bias.grad, grads["up0"]["bn"]["bias"]),
           (units["head"].conv.bias.grad, grads["head"]["bias"])]
  for got, want in pairs:
    want = np.asarray(want)
    if want.ndim == 4:
      want = want.transpose(3, 2, 0, 1)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got.numpy(), want, atol=1e-4 * scale, rtol=0)


def test_flop_count_agrees_with_torch_counter():
  from torch.utils.flop_counter import FlopCounterMode  # pylint: disable=g-import-not-at-top
  model = torch_skip.SkipNetTorch()
  with FlopCounterMode(display=False) as counter, torch.no_grad():
    model(torch.zeros(1, 32, 64, 64))
  assert counter.get_total_flops() == torch_skip.forward_conv_flops(64)


def test_loader_refuses_a_different_architecture():
  net = SkipNet(channels_down=(8, 8), channels_up=(8, 8), channels_skip=(2, 2))
  params = jax.eval_shape(net.init, jax.random.key(0),
                          jnp.zeros((1, 16, 16, 4)))["params"]
  model = torch_skip.SkipNetTorch(in_ch=4, down=(8, 8), up=(8, 8),
                                  skip=(2, 0))
  with pytest.raises(ValueError, match="do not match"):
    torch_skip.load_flax_params(model, params)
