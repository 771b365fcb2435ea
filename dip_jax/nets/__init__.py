"""Networks f_theta: build one from a config's `net` block."""

from dip_jax.nets.skip import SkipNet, count_params

ARCHITECTURES = ("skip",)


def build_net(net_cfg, out_channels: int):
  """The flax module a config's `net` block describes.

  `net_cfg.arch` names the family; 'skip' covers skip nets and hourglasses
  (an hourglass is a skip net whose skip channels are all 0).
  """
  arch = net_cfg.get("arch", "skip")
  _validate(net_cfg)
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
        upsample=(tuple(net_cfg.upsample_per_level)
                  if net_cfg.get("upsample_per_level") else net_cfg.upsample),
        pad=net_cfg.pad,
        need_1x1_up=net_cfg.need_1x1_up,
        sigmoid=net_cfg.sigmoid,
        conv_impl=net_cfg.conv_impl,
    )
  raise ValueError(f"net.arch must be one of {ARCHITECTURES}, got {arch!r}")


def _validate(net_cfg):
  """Refuses bad net settings up front (flax would only fail at init)."""
  from dip_jax.errors import InputError  # pylint: disable=g-import-not-at-top
  from dip_jax.nets import layers
  ups = (tuple(net_cfg.get("upsample_per_level", ())) or (net_cfg.upsample,))
  choices = [("upsample", ups, layers.UPSAMPLE_MODES),
             ("downsample", (net_cfg.downsample,), layers.DOWNSAMPLE_MODES),
             ("pad", (net_cfg.pad,), layers.PAD_MODES),
             ("conv_impl", (net_cfg.conv_impl,), layers.CONV_IMPLS)]
  for name, values, allowed in choices:
    for v in values:
      if v not in allowed:
        raise InputError(f"net.{name} must be one of {allowed}, got {v!r}")
  depth = len(net_cfg.channels_down)
  if depth < 1 or any(int(c) < 1 for c in net_cfg.channels_down):
    raise InputError("net.channels_down needs at least one level, each >= 1")
  for name in ("channels_up", "channels_skip"):
    if len(net_cfg[name]) != depth:
      raise InputError(f"net.{name} has {len(net_cfg[name])} entries but "
                       f"net.channels_down has {depth}")
  if len(ups) not in (1, depth):
    raise InputError(f"net.upsample_per_level has {len(ups)} entries for "
                     f"{depth} levels")


def net_depth(net_cfg) -> int:
  return len(net_cfg.channels_down)


def _seq(v):
  return v if isinstance(v, (str, int)) else tuple(v)
