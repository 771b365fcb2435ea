"""Networks f_theta: build one from a config's `net` block.

`net.arch` names the family and `net.preset` a named member of the zoo
(dip_jax/nets/presets.py); `net.width` caps every channel count. Each
family registers its builder, validation and depth in `nets/registry.py`
(a new net is one module that does so, imported before the fit is built);
the built-in ones:
  skip          the paper's encoder-decoders (skip nets; an hourglass is a
                skip net whose skip channels are all 0)          nets/skip.py
  unet          U-Net with concatenated skips                    nets/unet.py
  resnet        single-scale residual net                        nets/resnet.py
  deep_decoder  Heckel & Hand's Deep Decoder              nets/deep_decoder.py
"""

from dip_jax.nets import layers
from dip_jax.nets import presets
from dip_jax.nets import registry
# The built-in families register themselves on import, in this order (the
# order of ARCHITECTURES and of the error that lists them).
from dip_jax.nets import skip, unet, resnet, deep_decoder
from dip_jax.nets.deep_decoder import DeepDecoder
from dip_jax.nets.resnet import ResNet
from dip_jax.nets.skip import SkipNet, count_params
from dip_jax.nets.unet import UNet

register = registry.register


def __getattr__(name):
  # ARCHITECTURES follows the registry, so a family registered after this
  # module was imported is listed too.
  if name == "ARCHITECTURES":
    return tuple(registry.FAMILIES)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_net(net_cfg, out_channels: int):
  """The flax module a config's `net` block describes (preset applied).

  Bad settings are refused up front in one line (flax would only fail at
  init); only the keys the chosen family reads are checked, so e.g. a
  ResNet ignores channels_skip.
  """
  cfg = presets.resolve(net_cfg)
  family = registry.family(cfg.get("arch", "skip"))
  registry.check_choice(cfg, "conv_impl", layers.CONV_IMPLS)
  family.validate(cfg)
  common = dict(out_channels=out_channels, sigmoid=cfg.sigmoid,
                conv_impl=cfg.conv_impl)
  return family.build(cfg, common)


def net_depth(net_cfg) -> int:
  """Number of x2 downsamplings: the canvas must be a multiple of 2**depth
  (each family's own `depth`: one per level for a skip net, none for a
  ResNet, ...)."""
  cfg = presets.resolve(net_cfg)
  return int(registry.family(cfg.get("arch", "skip")).depth(cfg))


def full_resolution_channels(net_cfg) -> int:
  """Channels of a conv output the net computes at the canvas's size (0
  for a family that does not say), for the fit's memory estimate."""
  cfg = presets.resolve(net_cfg)
  arch = cfg.get("arch", "skip")
  if arch not in registry.FAMILIES:
    return 0
  return int(registry.FAMILIES[arch].full_resolution_channels(cfg))


__all__ = ["ARCHITECTURES", "build_net", "count_params", "DeepDecoder",
           "full_resolution_channels", "net_depth", "presets",
           "register", "registry", "ResNet", "SkipNet", "UNet"]
