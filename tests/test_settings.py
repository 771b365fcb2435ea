"""Each net family and each method reads its own settings: a net family
defined here plugs into the registry and is fitted through the API with no
edit to the package; every family's and method's validation refuses a bad
value in one line that names the key."""

import os
import re

import flax.linen as nn
import jax
import numpy as np
import pytest

import dip_jax
from conftest import smooth_image, tiny_config
from dip_jax import config_lib
from dip_jax import nets
from dip_jax.errors import InputError
from dip_jax.methods import aseqdip, deepred, dip_dncnn, sgld, tv, tv_gradient
from dip_jax.methods import settings
from dip_jax.nets import registry


class PoolNet(nn.Module):
  """A one-level net: conv, 2x2 average pool, conv, x2 upsampling, 1x1
  head. Its depth is 1, so the canvas of an odd-sized image is padded."""
  out_channels: int = 3
  width: int = 4
  sigmoid: bool = True
  conv_impl: str = "auto"   # every net takes it; this one uses flax's conv

  @nn.compact
  def __call__(self, z):
    x = nn.leaky_relu(nn.Conv(self.width, (3, 3))(z), 0.2)
    x = nn.avg_pool(x, (2, 2), strides=(2, 2))
    x = nn.leaky_relu(nn.Conv(self.width, (3, 3))(x), 0.2)
    x = jax.image.resize(x, (x.shape[0], z.shape[1], z.shape[2],
                             x.shape[3]), "nearest")
    y = nn.Conv(self.out_channels, (1, 1))(x)
    return jax.nn.sigmoid(y) if self.sigmoid else y


def _validate_pool(cfg):
  registry.check_at_least(cfg, "channels", 1)


@pytest.fixture
def pool_family():
  """Registers `net.arch = "pool"` for one test (the registry is global)."""
  registry.register("pool", validate=_validate_pool, depth=lambda cfg: 1)(
      lambda cfg, common: PoolNet(width=int(cfg.channels), **common))
  yield
  del registry.FAMILIES["pool"]


def test_a_net_family_of_ones_own_is_fitted_through_the_api(pool_family):
  assert "pool" in nets.ARCHITECTURES
  clean = smooth_image(15, 15, 3)
  noisy = np.clip(clean + np.random.default_rng(0).normal(
      0, 0.1, clean.shape), 0, 1).astype(np.float32)
  cfg = tiny_config(num_steps=6, log_every=3, **{
      "net.arch": "pool", "net.channels": 4, "input.channels": 4,
      "tv.enabled": False})
  assert nets.net_depth(cfg.net) == 1
  assert isinstance(nets.build_net(cfg.net, 3), PoolNet)
  result = dip_jax.reconstruct(noisy, clean=clean, config=cfg)
  assert result.reconstruction.shape == (15, 15, 3)
  assert np.isfinite(result.info["psnr"])
  # Its own validation runs in build_net, naming the key.
  cfg.net.channels = 0
  with pytest.raises(InputError, match="net.channels must be >= 1"):
    nets.build_net(cfg.net, 3)


def test_the_docs_add_a_net_snippet_registers_a_family_that_fits():
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  with open(os.path.join(root, "docs", "extending.md"), encoding="utf-8") as f:
    section = f.read().split("## Add a net", 1)[1]
  code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
  try:
    exec(code, {})  # pylint: disable=exec-used
    clean = smooth_image(16, 16, 3)
    result = dip_jax.reconstruct(clean, clean=clean, config=tiny_config(
        num_steps=4, log_every=2, **{"net.arch": "two_conv",
                                     "net.channels": 4}))
    assert result.reconstruction.shape == (16, 16, 3)
  finally:
    registry.FAMILIES.pop("two_conv", None)


@pytest.mark.parametrize("changes,message", [
    ({"arch": "resnet", "channels": 0}, "net.channels must be >= 1"),
    ({"arch": "resnet", "num_blocks": -1}, "net.num_blocks must be >= 0"),
    ({"arch": "resnet", "pad": "wrap"}, "net.pad must be one of"),
    ({"arch": "deep_decoder", "num_layers": -1},
     "net.num_layers must be >= 0"),
    ({"arch": "deep_decoder", "upsample": "cubic"},
     "net.upsample must be one of"),
    ({"arch": "unet", "channels_down": ()}, "needs at least one level"),
    ({"arch": "unet", "downsample": "min"}, "net.downsample must be one of"),
    ({"channels_up": (8, 8)}, "net.channels_up has 2 entries but"),
    ({"upsample_per_level": ("nearest",) * 2},
     "net.upsample_per_level has 2 entries for 3 levels"),
    ({"upsample_per_level": ("nearest", "bilinear", "cubic")},
     "net.upsample must be one of"),
    ({"arch": "resnet", "conv_impl": "gpu"}, "net.conv_impl must be one of"),
    ({"arch": "vit"}, r"net.arch must be one of \('skip', 'unet'"),
])
def test_each_family_refuses_its_bad_values_in_one_line(changes, message):
  cfg = tiny_config()
  cfg.net.update(changes)
  with pytest.raises(InputError, match=message) as err:
    nets.build_net(cfg.net, 3)
  assert "\n" not in str(err.value)


def test_a_family_checks_only_the_keys_it_reads():
  cfg = tiny_config()
  cfg.net.update({"arch": "resnet", "channels": 4, "num_blocks": 1,
                  "channels_skip": (1,), "upsample": "cubic"})
  assert isinstance(nets.build_net(cfg.net, 3), nets.ResNet)


@pytest.mark.parametrize("build,block,message", [
    (tv.Settings.from_config, {"lam": 0.1, "max_iters": 0},
     "tv.max_iters must be an integer >= 1, got 0"),
    (tv.Settings.from_config, {"lam": float("inf"), "max_iters": 10},
     "tv.lam must be a positive number"),
    (tv_gradient.Settings.from_config,
     {"lam": -1.0, "learning_rate": 0.01, "num_steps": 5, "eps": 1e-3},
     "tv_gradient.lam must be a number >= 0"),
    (tv_gradient.Settings.from_config,
     {"lam": 0.0, "learning_rate": 0.0, "num_steps": 5, "eps": 1e-3},
     "tv_gradient.learning_rate must be a positive number"),
    (tv_gradient.Settings.from_config,
     {"lam": 0.0, "learning_rate": 0.1, "num_steps": 5, "eps": 0},
     "tv_gradient.eps must be a positive number"),
    (tv_gradient.Settings.from_config,
     {"lam": 0.0, "learning_rate": 0.1, "num_steps": 0, "eps": 1e-3},
     "tv_gradient.num_steps must be an integer >= 1"),
    (aseqdip.Settings.from_config, {"evry": 3},
     r"unknown aseqdip key\(s\) \['evry'\]; known: every, lam"),
    (aseqdip.Settings.from_config, {"lam": -0.5},
     "aseqdip.lam must be a number >= 0"),
    (deepred.Settings.from_config, {"mu": 1.0, "beta": 1.0, "sigma_f": 3.0},
     "config.deepred has no key 'every'"),
    (lambda b: sgld.Settings.from_config(b, num_steps=100),
     {"noise_scale": 1.0, "burn_in": 5.5, "sample_every": 2},
     r"sgld.burn_in must be >= 0 \(an integer\)"),
])
def test_each_method_refuses_its_bad_values_in_one_line(build, block,
                                                        message):
  with pytest.raises(InputError, match=message) as err:
    build(block)
  assert "\n" not in str(err.value)


def test_settings_keep_the_base_configs_values_and_types():
  c = config_lib.base_config()
  assert sgld.Settings.from_config(c.sgld, 20000) == sgld.Settings(
      noise_scale=2.0, burn_in=7000, sample_every=50)
  assert deepred.Settings.from_config(c.deepred).watcher().sigma == 3.0 / 255
  assert tv.Settings.from_config(c.tv) == tv.Settings(lam=0.1,
                                                      max_iters=2000)
  assert dip_dncnn.Settings.from_config(c.dncnn).variant == "auto"
  s = tv_gradient.Settings.from_config(c.tv_gradient)
  assert isinstance(s.num_steps, int) and isinstance(s.lam, float)
  # aseqdip's block is optional: its defaults stand in.
  assert aseqdip.Settings.from_config(None) == aseqdip.Settings()
  assert settings.values(tv.Settings, {"lam": 1, "max_iters": 2,
                                       "enabled": False}, "tv") == {
                                           "lam": 1, "max_iters": 2}


@pytest.mark.parametrize("method,overrides,message", [
    ("tv", {"tv__max_iters": 0}, "tv.max_iters must be"),
    ("tv_gradient", {"tv_gradient__eps": -1.0}, "tv_gradient.eps must be"),
])
def test_the_api_refuses_a_bad_method_setting_before_solving(
    method, overrides, message):
  noisy = smooth_image(16, 16, 3)
  with pytest.raises(InputError, match=message):
    dip_jax.reconstruct(noisy, method=method, config=tiny_config(),
                        **overrides)
