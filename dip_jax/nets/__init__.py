"""Networks f_theta: build one from a config's `net` block."""

from dip_jax.nets.skip import SkipNet, count_params

ARCHITECTURES = ("skip",)


def build_net(net_cfg, out_channels: int):
  """The flax module a config's `net` block describes.

  `net_cfg.arch` names the family; 'skip' covers skip nets and hourglasses
  (an hourglass is a skip net whose skip channels are all 0).
  """
  arch = net_cfg.get("arch", "skip")
  if arch == "skip":
    return SkipNet(
        out_channels=out_channels,
        channels_down=tuple(net_cfg.channels_down),
        channels_up=tuple(net_cfg.channels_up),
        channels_skip=tuple(net_cfg.channels_skip),
        kernel_down=_seq(net_cfg.kernel_down),
        kernel_up=_seq(net_cfg.kernel_up),
        kernel_skip=net_cfg.kernel_skip,
        downsample=_seq(net_cfg.downsample),
        upsample=_seq(net_cfg.upsample),
        pad=net_cfg.pad,
        need_1x1_up=net_cfg.need_1x1_up,
        sigmoid=net_cfg.sigmoid,
        conv_impl=net_cfg.conv_impl,
    )
  raise ValueError(f"net.arch must be one of {ARCHITECTURES}, got {arch!r}")


def net_depth(net_cfg) -> int:
  return len(net_cfg.channels_down)


def _seq(v):
  return v if isinstance(v, (str, int)) else tuple(v)
