"""The paper's encoder-decoder family: skip nets, and hourglasses (no skips).

Level i of the recursion (input x with d channels, d = the net's input channels
at level 0, else channels_down[i-1]):

  skip    = ConvBNAct(channels_skip[i], k_skip)(x)            # absent if 0
  deeper  = ConvBNAct(channels_down[i], k_down, stride 2)(x)
  deeper  = ConvBNAct(channels_down[i], k_down)(deeper)
  deeper  = level i+1 (deeper)                                 # if not last
  deeper  = upsample x2 (deeper)
  merged  = BN(concat[skip, deeper])
  out     = ConvBNAct(channels_up[i], k_up)(merged)
  out     = ConvBNAct(channels_up[i], 1)(out)                  # need_1x1_up

and a 1x1 conv head to the output channels, then a sigmoid. This matches the
original implementation layer for layer, so the parameter counts agree
(2,217,831 for skip-5: 5 levels of 128 channels, 4 skip channels, 32 input
channels, 3 outputs).

Inputs must have H and W divisible by 2**depth; `dip_jax.io.images` pads the
working canvas so that they are, and crops the output back.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from dip_jax.errors import InputError
from dip_jax.nets import layers
from dip_jax.nets import registry


class SkipNet(nn.Module):
  """Encoder-decoder with optional per-level skip branches (NHWC)."""
  out_channels: int = 3
  channels_down: Sequence[int] = (128,) * 5
  channels_up: Sequence[int] = (128,) * 5
  channels_skip: Sequence[int] = (4,) * 5
  kernel_down: int | Sequence[int] = 3
  kernel_up: int | Sequence[int] = 3
  kernel_skip: int = 1
  downsample: str | Sequence[str] = "stride"
  upsample: str | Sequence[str] = "bilinear"
  pad: str = "reflection"
  need_1x1_up: bool = True
  sigmoid: bool = True
  conv_impl: str = "auto"

  @property
  def depth(self) -> int:
    return len(self.channels_down)

  def _per_level(self, value, name):
    if isinstance(value, (str, int)):
      return (value,) * self.depth
    value = tuple(value)
    if len(value) != self.depth:
      raise ValueError(f"net.{name} has {len(value)} entries for "
                       f"{self.depth} levels")
    return value

  @nn.compact
  def __call__(self, z):
    if not (len(self.channels_up) == len(self.channels_skip) == self.depth):
      raise ValueError(
          "net.channels_down, channels_up and channels_skip need one entry per "
          f"level, got {len(self.channels_down)}, {len(self.channels_up)}, "
          f"{len(self.channels_skip)}")
    kd = self._per_level(self.kernel_down, "kernel_down")
    ku = self._per_level(self.kernel_up, "kernel_up")
    down = self._per_level(self.downsample, "downsample")
    up = self._per_level(self.upsample, "upsample")
    unit = lambda f, k, name, stride=1, ds="stride": layers.ConvBNAct(
        f, k, stride, self.pad, ds, self.conv_impl, name=name)

    def level(i, x):
      parts = []
      if self.channels_skip[i]:
        parts.append(unit(self.channels_skip[i], self.kernel_skip,
                          f"skip{i}")(x))
      y = unit(self.channels_down[i], kd[i], f"down{i}_a", 2, down[i])(x)
      y = unit(self.channels_down[i], kd[i], f"down{i}_b")(y)
      if i + 1 < self.depth:
        y = level(i + 1, y)
      parts.append(layers.upsample2x(y, up[i]))
      y = jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
      y = layers.BatchNorm(name=f"merge{i}_bn")(y)
      y = unit(self.channels_up[i], ku[i], f"up{i}")(y)
      if self.need_1x1_up:
        y = unit(self.channels_up[i], 1, f"up{i}_1x1")(y)
      return y

    h, w = z.shape[1:3]
    m = 2 ** self.depth
    if h % m or w % m:
      raise ValueError(f"net input {h}x{w} is not a multiple of {m} "
                       f"(2**depth); pad the canvas first")
    y = level(0, z)
    y = layers.Conv(self.out_channels, 1, pad=self.pad,
                    conv_impl=self.conv_impl, name="head")(y)
    return jax.nn.sigmoid(y) if self.sigmoid else y


def count_params(params) -> int:
  return sum(int(p.size) for p in jax.tree_util.tree_leaves(params))


def _validate(cfg) -> None:
  depth = registry.check_levels(cfg)
  for key in ("channels_up", "channels_skip"):
    if len(cfg[key]) != depth:
      raise InputError(f"net.{key} has {len(cfg[key])} entries but "
                       f"net.channels_down has {depth}")
  ups = tuple(cfg.get("upsample_per_level", ())) or (cfg.upsample,)
  if len(ups) not in (1, depth):
    raise InputError(f"net.upsample_per_level has {len(ups)} entries for "
                     f"{depth} levels")
  # Named `upsample` whichever key held the bad mode, as before.
  registry.check_choice(cfg, "upsample", layers.UPSAMPLE_MODES, ups)
  registry.check_choice(cfg, "downsample", layers.DOWNSAMPLE_MODES)
  registry.check_choice(cfg, "pad", layers.PAD_MODES)


@registry.register(
    "skip", validate=_validate, depth=lambda cfg: len(cfg.channels_down),
    full_resolution_channels=lambda cfg: int(cfg.channels_up[0]))
def from_block(cfg, common) -> SkipNet:
  """The skip net (or hourglass) of a resolved `net` block."""
  seq = registry.as_sequence
  return SkipNet(
      channels_down=tuple(cfg.channels_down),
      channels_up=tuple(cfg.channels_up),
      channels_skip=tuple(cfg.channels_skip),
      kernel_down=seq(cfg.kernel_down),
      kernel_up=seq(cfg.kernel_up),
      kernel_skip=cfg.kernel_skip,
      downsample=seq(cfg.downsample),
      upsample=(tuple(cfg.upsample_per_level)
                if cfg.get("upsample_per_level") else cfg.upsample),
      pad=cfg.pad,
      need_1x1_up=cfg.need_1x1_up,
      **common)
