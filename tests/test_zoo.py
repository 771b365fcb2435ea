"""The architecture zoo: presets, parameter counts, odd image sizes.

Expected parameter counts are computed here from each architecture's layer
list, written out independently of the module code, so a changed layer
shows up as a count mismatch.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax import config_lib
from dip_jax import nets
from dip_jax import problem as problem_lib
from dip_jax.errors import InputError
from dip_jax.fit import step as fit_core
from dip_jax.methods import dip as dip_method
from dip_jax.nets import presets
from tests.conftest import smooth_image

IN_CH, OUT_CH = 32, 3


def _conv(k, cin, cout, bias=True):
  return k * k * cin * cout + (cout if bias else 0)


def _unit(k, cin, cout):
  """conv (with bias) + BN (scale, bias) + activation."""
  return _conv(k, cin, cout) + 2 * cout


def skip_count(cin, down, up, skip, kd=3, ku=3, ks=1, need_1x1=True,
               out=OUT_CH):
  total, d = 0, cin
  for i, (n, u, s) in enumerate(zip(down, up, skip)):
    if s:
      total += _unit(ks, d, s)
    total += _unit(kd, d, n) + _unit(kd, n, n)
    deeper = up[i + 1] if i + 1 < len(down) else n
    total += 2 * (s + deeper)                      # merge BN
    total += _unit(ku, s + deeper, u)
    if need_1x1:
      total += _unit(1, u, u)
    d = n
  return total + _conv(1, up[0], out)


def unet_count(cin, widths, out=OUT_CH):
  total = _unit(3, cin, widths[0]) + _unit(3, widths[0], widths[0])
  for prev, w in zip(widths, widths[1:]):
    total += _unit(3, prev, w) + _unit(3, w, w)            # encoder level
    total += _conv(3, w, prev)                             # conv after up
    total += _unit(3, 2 * prev, prev) + _unit(3, prev, prev)
  return total + _conv(1, widths[0], out)


def resnet_count(cin, c, blocks, out=OUT_CH):
  block = 2 * (_conv(3, c, c, bias=False) + 2 * c)
  return (_conv(3, cin, c) + blocks * block + _conv(3, c, c, bias=False)
          + 2 * c + _conv(3, c, out))


def deep_decoder_count(cin, k, layers, out=OUT_CH):
  return cin * k + layers * k * k + 2 * (layers + 1) * k + k * out


EXPECTED = {
    "hourglass-1": skip_count(IN_CH, (128,), (128,), (0,)),
    "hourglass-3": skip_count(IN_CH, (128,) * 3, (128,) * 3, (0,) * 3),
    "hourglass-5": skip_count(IN_CH, (128,) * 5, (128,) * 5, (0,) * 5),
    "skip-5": skip_count(IN_CH, (128,) * 5, (128,) * 5, (4,) * 5),
    "skip-5-nearest": skip_count(IN_CH, (128,) * 5, (128,) * 5, (4,) * 5),
    "encoder-decoder-6": skip_count(
        IN_CH, (16, 32, 64, 128, 128, 128), (16, 32, 64, 128, 128, 128),
        (0,) * 6, kd=5, need_1x1=False),
    "unet": unet_count(IN_CH, (16, 32, 64, 128, 128, 128)),
    "resnet-8": resnet_count(IN_CH, 32, 8),
    "deep-decoder": deep_decoder_count(IN_CH, 64, 5),
}
DEPTHS = {"hourglass-1": 1, "hourglass-3": 3, "hourglass-5": 5, "skip-5": 5,
          "skip-5-nearest": 5, "encoder-decoder-6": 6, "unet": 5,
          "resnet-8": 0, "deep-decoder": 5}
FAMILY = {"unet": nets.UNet, "resnet-8": nets.ResNet,
          "deep-decoder": nets.DeepDecoder}


def _preset_config(name, **net):
  c = config_lib.base_config()
  c.net.preset = name
  for k, v in net.items():
    c.net[k] = v
  return c


def _count(net, size):
  shapes = jax.eval_shape(lambda: net.init(
      jax.random.key(0), jnp.zeros((1, size, size, IN_CH))))
  return nets.count_params(shapes)


def test_every_preset_has_an_expected_count():
  assert set(EXPECTED) == set(presets.names()) == set(DEPTHS)


def test_counts_match_known_values():
  # Checks the library against numbers found without the count formulas
  # above (those only say the library and the formulas agree): the paper's
  # skip-5 as the zoo builds it (2,217,831, the count of the original
  # PyTorch code) and a one-level net counted by hand, layer by layer.
  skip5 = nets.build_net(_preset_config("skip-5").net, out_channels=OUT_CH)
  assert _count(skip5, 64) == 2_217_831
  tiny = nets.SkipNet(out_channels=1, channels_down=(2,), channels_up=(2,),
                      channels_skip=(1,))
  # 1 input channel: skip 1x1 conv 1->1 (1 + 1 bias) + BN (2) = 4;
  # down 3x3 1->2 (18 + 2) + BN 4 = 24; 3x3 2->2 (36 + 2) + BN 4 = 42;
  # merge BN over 1 + 2 channels = 6; up 3x3 3->2 (54 + 2) + BN 4 = 60;
  # up 1x1 2->2 (4 + 2) + BN 4 = 10; head 1x1 2->1 (2 + 1) = 3.  Sum: 149.
  shapes = jax.eval_shape(lambda: tiny.init(jax.random.key(0),
                                            jnp.zeros((1, 4, 4, 1))))
  assert nets.count_params(shapes) == 4 + 24 + 42 + 6 + 60 + 10 + 3 == 149


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_parameter_count_and_depth(name):
  cfg = _preset_config(name)
  net = nets.build_net(cfg.net, out_channels=OUT_CH)
  assert isinstance(net, FAMILY.get(name, nets.SkipNet))
  depth = nets.net_depth(cfg.net)
  assert depth == DEPTHS[name]
  assert _count(net, 2 ** (depth + 1)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_output_has_the_image_size_through_the_engine(name):
  # 37 x 53 is odd and not a multiple of any 2**depth: the engine pads the
  # canvas for the net's depth and crops the output back.
  cfg = _preset_config(name, width=4)
  cfg.input.channels = 4
  cfg.num_steps, cfg.log_every = 1, 1
  cfg.guard.enabled = False
  img = smooth_image(37, 53)
  problem = problem_lib.Problem(observed=img, clean=img, mask=None,
                                out_shape=img.shape)
  # No chunk program: only init and the output run here.
  fit = dip_method.build_fit(cfg, problem, compile_chunk=False)
  spec, data, init_key, _ = fit.spec, fit.data, fit.init_key, fit.loop_key
  t, l, h, w = spec.crop
  canvas = data["z"].shape[2:4]  # R x 1 x H x W x C
  assert canvas[0] % 2 ** DEPTHS[name] == 0 and canvas[1] % 2 ** DEPTHS[name] == 0
  assert (h, w) == (37, 53) and t + h <= canvas[0] and l + w <= canvas[1]
  state = fit_core.init_states(spec, init_key, data["z"])
  out = np.asarray(fit_core.reconstruct_output(spec, state, data))
  assert state.out.shape == out.shape == (1, 1, 37, 53, 3)
  assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1


def test_preset_wins_over_the_block_and_width_caps_it():
  cfg = _preset_config("hourglass-3", width=16)
  cfg.net.channels_skip = (4,) * 5   # the task's own net: ignored
  resolved = presets.resolve(cfg.net)
  assert resolved.channels_down == (16,) * 3
  assert resolved.channels_skip == (0,) * 3      # capping adds no skips
  assert cfg.net.channels_skip == (4,) * 5       # resolve copies
  assert nets.build_net(cfg.net, 3).channels_down == (16,) * 3


def test_apply_writes_the_preset_so_later_edits_stand():
  cfg = config_lib.base_config()
  presets.apply(cfg.net, "unet")
  cfg.net.channels_down = (4, 8)
  net = nets.build_net(cfg.net, 3)
  assert isinstance(net, nets.UNet) and net.channels == (4, 8)
  assert cfg.net.preset == "" and nets.net_depth(cfg.net) == 1


def test_unknown_preset_and_arch_are_refused():
  with pytest.raises(InputError, match="unknown net.preset"):
    nets.net_depth(_preset_config("resnet-9").net)
  cfg = config_lib.base_config()
  cfg.net.arch = "vit"
  with pytest.raises(InputError, match="net.arch"):
    nets.build_net(cfg.net, 3)


def test_deep_decoder_reads_z_only_at_its_coarse_grid():
  net = nets.DeepDecoder(channels=4, num_layers=2)
  z = jax.random.uniform(jax.random.key(1), (1, 16, 12, 3))
  params = net.init(jax.random.key(0), z)
  # Pixel (1, 1) is off the every-4th-pixel grid; (4, 4) is on it.
  off = net.apply(params, z.at[0, 1, 1].add(1.0))
  on = net.apply(params, z.at[0, 4, 4].add(1.0))
  base = net.apply(params, z)
  np.testing.assert_array_equal(off, base)
  assert float(jnp.max(jnp.abs(on - base))) > 1e-4


@pytest.mark.parametrize("net", [
    nets.UNet(channels=(4, 6, 8), downsample="max"),
    nets.UNet(channels=(4, 6), downsample="stride", upsample="bilinear"),
    nets.ResNet(channels=4, num_blocks=2),
    nets.DeepDecoder(channels=4, num_layers=2)],
                         ids=["unet-max", "unet-stride", "resnet", "dd"])
def test_cpu_path_matches_xla_and_gradients_reach_every_parameter(net):
  z = jax.random.uniform(jax.random.key(1), (1, 16, 20, 3))
  target = jax.random.uniform(jax.random.key(2), (1, 16, 20, 3))
  fast, ref = net.clone(conv_impl="cpu"), net.clone(conv_impl="xla")
  params = ref.init(jax.random.key(0), z)
  # Jitted: op-by-op dispatch of these small nets is far slower than compiling.
  np.testing.assert_allclose(jax.jit(fast.apply)(params, z),
                             jax.jit(ref.apply)(params, z), atol=1e-5)
  grads = jax.jit(jax.grad(lambda p: jnp.mean(
      jnp.square(fast.apply(p, z) - target))))(params)
  for g in jax.tree.leaves(grads):
    assert np.all(np.isfinite(g)) and float(jnp.max(jnp.abs(g))) > 0
