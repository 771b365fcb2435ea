"""Networks f_theta: build one from a config's `net` block.

`net.arch` names the family and `net.preset` a named member of the zoo
(dip_jax/nets/presets.py); `net.width` caps every channel count. The
families:
  skip          the paper's encoder-decoders (skip nets; an hourglass is a
                skip net whose skip channels are all 0)          nets/skip.py
  unet          U-Net with concatenated skips                    nets/unet.py
  resnet        single-scale residual net                        nets/resnet.py
  deep_decoder  Heckel & Hand's Deep Decoder              nets/deep_decoder.py
"""

from dip_jax.nets import presets
from dip_jax.nets.deep_decoder import DeepDecoder
from dip_jax.nets.resnet import ResNet
from dip_jax.nets.skip import SkipNet, count_params
from dip_jax.nets.unet import UNet

ARCHITECTURES = ("skip", "unet", "resnet", "deep_decoder")


def build_net(net_cfg, out_channels: int):
  """The flax module a config's `net` block describes (preset applied)."""
  cfg = presets.resolve(net_cfg)
  _validate(cfg)
  arch = cfg.get("arch", "skip")
  common = dict(out_channels=out_channels, sigmoid=cfg.sigmoid,
                conv_impl=cfg.conv_impl)
  if arch == "skip":
    return SkipNet(
        channels_down=tuple(cfg.channels_down),
        channels_up=tuple(cfg.channels_up),
        channels_skip=tuple(cfg.channels_skip),
        kernel_down=_seq(cfg.kernel_down),
        kernel_up=_seq(cfg.kernel_up),
        kernel_skip=cfg.kernel_skip,
        downsample=_seq(cfg.downsample),
        upsample=(tuple(cfg.upsample_per_level)
                  if cfg.get("upsample_per_level") else cfg.upsample),
        pad=cfg.pad,
        need_1x1_up=cfg.need_1x1_up,
        **common)
  if arch == "unet":
    return UNet(channels=tuple(cfg.channels_down), downsample=cfg.downsample,
                upsample=cfg.upsample, pad=cfg.pad, **common)
  if arch == "resnet":
    return ResNet(channels=int(cfg.channels), num_blocks=int(cfg.num_blocks),
                  pad=cfg.pad, **common)
  return DeepDecoder(channels=int(cfg.channels),
                     num_layers=int(cfg.num_layers), upsample=cfg.upsample,
                     **common)


def _validate(cfg):
  """Refuses bad net settings up front (flax would only fail at init).

  `cfg` is a resolved block (preset applied); only the keys the chosen
  family reads are checked, so e.g. a ResNet ignores channels_skip.
  """
  from dip_jax.errors import InputError  # pylint: disable=g-import-not-at-top
  from dip_jax.nets import layers
  arch = cfg.get("arch", "skip")
  if arch not in ARCHITECTURES:
    raise InputError(f"net.arch must be one of {ARCHITECTURES}, got {arch!r}")
  ups = (tuple(cfg.get("upsample_per_level", ())) or (cfg.upsample,))
  choices = [("upsample", ups, layers.UPSAMPLE_MODES),
             ("downsample", (cfg.downsample,), layers.DOWNSAMPLE_MODES),
             ("pad", (cfg.pad,), layers.PAD_MODES),
             ("conv_impl", (cfg.conv_impl,), layers.CONV_IMPLS)]
  for name, values, allowed in choices:
    for v in values:
      if v not in allowed:
        raise InputError(f"net.{name} must be one of {allowed}, got {v!r}")
  if arch in ("resnet", "deep_decoder"):
    if int(cfg.channels) < 1:
      raise InputError(f"net.channels must be >= 1, got {cfg.channels}")
    if arch == "resnet" and int(cfg.num_blocks) < 0:
      raise InputError(f"net.num_blocks must be >= 0, got {cfg.num_blocks}")
    if arch == "deep_decoder" and int(cfg.num_layers) < 0:
      raise InputError(f"net.num_layers must be >= 0, got {cfg.num_layers}")
    return
  depth = len(cfg.channels_down)
  if depth < 1 or any(int(c) < 1 for c in cfg.channels_down):
    raise InputError("net.channels_down needs at least one level, each >= 1")
  if arch == "unet":
    return  # the decoder mirrors channels_down; channels_up/skip unused
  for name in ("channels_up", "channels_skip"):
    if len(cfg[name]) != depth:
      raise InputError(f"net.{name} has {len(cfg[name])} entries but "
                       f"net.channels_down has {depth}")
  if len(ups) not in (1, depth):
    raise InputError(f"net.upsample_per_level has {len(ups)} entries for "
                     f"{depth} levels")


def net_depth(net_cfg) -> int:
  """Number of x2 downsamplings: the canvas must be a multiple of 2**depth.

  skip: one per level; unet: one per level after the full-resolution one;
  resnet: none; deep_decoder: one per upsampling layer (its fixed coarse
  input is the canvas sampled down by 2**num_layers).
  """
  cfg = presets.resolve(net_cfg)
  arch = cfg.get("arch", "skip")
  if arch == "unet":
    return max(len(cfg.channels_down) - 1, 0)
  if arch == "resnet":
    return 0
  if arch == "deep_decoder":
    return max(int(cfg.num_layers), 0)
  return len(cfg.channels_down)


def _seq(v):
  return v if isinstance(v, (str, int)) else tuple(v)
