"""The network family: the paper's parameter counts, shapes, hourglass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax import nets
from dip_jax.nets import SkipNet, count_params


def _count(net, in_channels=32, size=64):
  shapes = jax.eval_shape(
      lambda: net.init(jax.random.key(0), jnp.zeros((1, size, size, in_channels))))
  return count_params(shapes)


def test_skip5_has_the_papers_parameter_count():
  assert _count(SkipNet()) == 2_217_831


def test_text_inpainting_net_has_the_papers_parameter_count():
  assert _count(SkipNet(channels_skip=(128,) * 5)) == 3_002_627


def test_hourglass_is_a_skip_net_without_skips():
  hourglass = SkipNet(channels_skip=(0,) * 5)
  # Dropping the 4-channel skip branches removes their 1x1 conv + BN and the
  # 4 extra input channels of each merge BN and merge conv.
  per_level = [32 * 4 + 4 + 8 + 8 + 9 * 4 * 128] + [128 * 4 + 4 + 8 + 8 + 9 * 4 * 128] * 4
  assert _count(hourglass) == 2_217_831 - sum(per_level)


@pytest.mark.parametrize("pad,up,down", [("reflection", "bilinear", "stride"),
                                         ("zero", "nearest", "avg"),
                                         ("reflection", "nearest", "max"),
                                         ("zero", "bilinear", "lanczos2")])
def test_output_shape_and_range(pad, up, down):
  net = SkipNet(out_channels=1, channels_down=(4, 4), channels_up=(4, 4),
                channels_skip=(2, 0), pad=pad, upsample=up, downsample=down)
  z = jax.random.uniform(jax.random.key(1), (1, 16, 24, 3))
  params = net.init(jax.random.key(0), z)
  y = net.apply(params, z)
  assert y.shape == (1, 16, 24, 1)
  assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_refuses_canvas_not_multiple_of_depth():
  net = SkipNet(channels_down=(4,) * 3, channels_up=(4,) * 3, channels_skip=(1,) * 3)
  with pytest.raises(ValueError, match="multiple of 8"):
    net.init(jax.random.key(0), jnp.zeros((1, 12, 16, 2)))


def test_build_net_from_config(tiny):
  cfg = tiny()
  net = nets.build_net(cfg.net, out_channels=3)
  assert isinstance(net, SkipNet) and net.depth == 3


def test_cpu_and_xla_conv_paths_agree():
  kw = dict(channels_down=(6, 6), channels_up=(6, 6), channels_skip=(2, 2))
  z = jax.random.uniform(jax.random.key(1), (1, 16, 16, 4))
  fast, ref = SkipNet(conv_impl="cpu", **kw), SkipNet(conv_impl="xla", **kw)
  params = ref.init(jax.random.key(0), z)
  np.testing.assert_allclose(fast.apply(params, z), ref.apply(params, z),
                             atol=1e-6)


def test_whole_net_gradients_match_autodiff_in_float64():
  # In float32 BatchNorm over the tiny deepest maps amplifies rounding, so
  # autodiff itself is only good to ~1e-2 there; float64 shows the custom
  # backward pass computes the same gradient.
  kw = dict(channels_down=(6, 6, 6), channels_up=(6, 6, 6),
            channels_skip=(2, 2, 2))
  fast, ref = SkipNet(conv_impl="cpu", **kw), SkipNet(conv_impl="xla", **kw)
  with jax.enable_x64(True):
    z = jax.random.uniform(jax.random.key(1), (1, 24, 16, 4), jnp.float64)
    target = jax.random.uniform(jax.random.key(2), (1, 24, 16, 3), jnp.float64)
    params = jax.tree.map(lambda p: p.astype(jnp.float64),
                          ref.init(jax.random.key(0), z))

    def loss(net):
      return lambda p: jnp.mean(jnp.square(net.apply(p, z) - target))

    # Jitted: op by op, every primitive of both backward passes would
    # compile on its own (~50 s).
    g_fast = jax.jit(jax.grad(loss(fast)))(params)
    g_ref = jax.jit(jax.grad(loss(ref)))(params)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref)):
      assert a.dtype == jnp.float64
      np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
