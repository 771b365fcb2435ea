"""A U-Net: the encoder-decoder with concatenated skips the paper compares.

Level i runs at 1/2**i of the input resolution with `channels[i]` channels
(i = 0 .. D, D = len(channels) - 1 downsamplings):

  encoder  e_0 = block(z)                         two 3x3 conv-BN-LeakyReLU
           e_i = block(down(e_{i-1}))             down: max/avg pool, or a
                                                  stride-2 first conv
  decoder  d_D = e_D
           u   = conv3x3(upsample x2 (d_i))       to channels[i-1], no BN/act
           d_{i-1} = block(concat[u, e_{i-1}])
  head     1x1 conv to the output channels, sigmoid

How it relates to the paper code's UNet (models/unet.py, used for Fig. 8 with
feature_scale 8, i.e. widths [8, 16, 32, 64, 128, 128]):
- the same layout (two convs per level, max-pool down, conv after the
  upsampling, concat, two convs), but the `unet` preset uses widths
  [16, 32, 64, 128, 128, 128] so its levels match the encoder-decoder it is
  compared with (set net.channels_down for others);
- nearest/bilinear upsampling + conv instead of a transposed conv;
- BN with batch statistics after every block conv, decoder included (on one
  image this *is* the paper code's InstanceNorm, plus an affine part; the
  paper code's decoder convs had no norm), and LeakyReLU(0.2) instead of
  ReLU, so that the whole zoo shares the paper's unit;
- the padding follows net.pad (the paper code's UNet used zero padding).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from dip_jax.nets import layers
from dip_jax.nets import registry


class UNet(nn.Module):
  """U-Net with concatenation skips (NHWC).

  Attributes:
    out_channels: channels of the output image.
    channels: width of each level, full resolution first; its length minus
      one is the number of x2 downsamplings (the net's depth).
    downsample: 'max' | 'avg' pool before the level's convs, or 'stride'
      (the level's first conv has stride 2), or 'lanczos2'.
    upsample: 'nearest' | 'bilinear'.
    pad: 'reflection' | 'zero'.
    sigmoid: squash the output to [0, 1].
    conv_impl: see `layers.resolve_conv_impl`.
  """
  out_channels: int = 3
  channels: Sequence[int] = (16, 32, 64, 128, 128, 128)
  downsample: str = "max"
  upsample: str = "nearest"
  pad: str = "reflection"
  sigmoid: bool = True
  conv_impl: str = "auto"

  @property
  def depth(self) -> int:
    return len(self.channels) - 1

  def _block(self, x, features, name, stride=1):
    """Two conv-BN-LeakyReLU units; the first may downsample by striding."""
    unit = lambda f, s, n: layers.ConvBNAct(f, 3, s, self.pad, "stride",
                                            self.conv_impl, name=n)
    x = unit(features, stride, f"{name}_a")(x)
    return unit(features, 1, f"{name}_b")(x)

  @nn.compact
  def __call__(self, z):
    if len(self.channels) < 1:
      raise ValueError("a UNet needs at least one level")
    h, w = z.shape[1:3]
    m = 2 ** self.depth
    if h % m or w % m:
      raise ValueError(f"net input {h}x{w} is not a multiple of {m} "
                       f"(2**depth); pad the canvas first")
    encoded = [self._block(z, self.channels[0], "enc0")]
    for i in range(1, len(self.channels)):
      x = encoded[-1]
      if self.downsample == "stride":
        encoded.append(self._block(x, self.channels[i], f"enc{i}", stride=2))
      else:
        # Pool first, then convolve: the same function class as the paper
        # code's MaxPool -> convs, at a quarter of the conv cost.
        x = layers.downsample(x, 2, self.downsample)
        encoded.append(self._block(x, self.channels[i], f"enc{i}"))
    y = encoded[-1]
    for i in range(self.depth, 0, -1):
      y = layers.upsample2x(y, self.upsample)
      # The conv after upsampling brings the coarse features to the skip's
      # width, so both halves of the concat carry equal weight.
      y = layers.Conv(self.channels[i - 1], 3, pad=self.pad,
                      conv_impl=self.conv_impl, name=f"up{i}_conv")(y)
      y = jnp.concatenate([y, encoded[i - 1]], axis=-1)
      y = self._block(y, self.channels[i - 1], f"dec{i - 1}")
    y = layers.Conv(self.out_channels, 1, pad=self.pad,
                    conv_impl=self.conv_impl, name="head")(y)
    return jax.nn.sigmoid(y) if self.sigmoid else y


def _validate(cfg) -> None:
  # The decoder mirrors channels_down: channels_up/skip are not read.
  registry.check_levels(cfg)
  registry.check_choice(cfg, "upsample", layers.UPSAMPLE_MODES)
  registry.check_choice(cfg, "downsample", layers.DOWNSAMPLE_MODES)
  registry.check_choice(cfg, "pad", layers.PAD_MODES)


@registry.register(
    "unet", validate=_validate,
    # One x2 downsampling per level after the full-resolution one.
    depth=lambda cfg: max(len(cfg.channels_down) - 1, 0),
    full_resolution_channels=lambda cfg: int(cfg.channels_down[0]))
def from_block(cfg, common) -> UNet:
  """The U-Net of a resolved `net` block (its widths: net.channels_down)."""
  return UNet(channels=tuple(cfg.channels_down), downsample=cfg.downsample,
              upsample=cfg.upsample, pad=cfg.pad, **common)
