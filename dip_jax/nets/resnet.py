"""A single-scale ResNet: the paper's example of a net with no hourglass.

Everything runs at the input's full resolution (no down- or upsampling), so
the net's depth in the engine's sense is 0 and any canvas size works:

  x = LeakyReLU(conv3x3(z))                                 input conv, bias
  x = x + BN(conv3x3(LeakyReLU(BN(conv3x3(x)))))            num_blocks times
  x = BN(conv3x3(x))                                        (convs w/o bias)
  y = sigmoid(conv3x3(x))                                   output conv, bias

This is the layout of the paper code's ResNet (models/resnet.py), which
Fig. 8 used with 8 blocks of 32 channels (the `resnet-8` preset). The block
convs have no bias because the BN right after them removes any constant.
"""

import flax.linen as nn
import jax

from dip_jax.nets import layers
from dip_jax.nets import registry


class ResNet(nn.Module):
  """Residual net at full resolution (NHWC).

  Attributes:
    out_channels: channels of the output image.
    channels: width of every layer.
    num_blocks: residual blocks (conv-BN-act-conv-BN plus identity).
    pad: 'reflection' | 'zero'.
    sigmoid: squash the output to [0, 1].
    conv_impl: see `layers.resolve_conv_impl`.
  """
  out_channels: int = 3
  channels: int = 32
  num_blocks: int = 8
  pad: str = "reflection"
  sigmoid: bool = True
  conv_impl: str = "auto"

  @property
  def depth(self) -> int:
    return 0

  def _conv(self, features, name, bias=True):
    return layers.Conv(features, 3, pad=self.pad, use_bias=bias,
                       conv_impl=self.conv_impl, name=name)

  @nn.compact
  def __call__(self, z):
    c = self.channels
    x = layers.leaky_relu(self._conv(c, "input")(z))
    for b in range(self.num_blocks):
      r = self._conv(c, f"block{b}_conv_a", bias=False)(x)
      r = layers.leaky_relu(layers.BatchNorm(name=f"block{b}_bn_a")(r))
      r = self._conv(c, f"block{b}_conv_b", bias=False)(r)
      x = x + layers.BatchNorm(name=f"block{b}_bn_b")(r)
    x = layers.BatchNorm(name="post_bn")(self._conv(c, "post", bias=False)(x))
    y = self._conv(self.out_channels, "head")(x)
    return jax.nn.sigmoid(y) if self.sigmoid else y


def _validate(cfg) -> None:
  registry.check_at_least(cfg, "channels", 1)
  registry.check_at_least(cfg, "num_blocks", 0)
  registry.check_choice(cfg, "pad", layers.PAD_MODES)


@registry.register("resnet", validate=_validate, depth=lambda cfg: 0,
                   full_resolution_channels=lambda cfg: int(cfg.channels))
def from_block(cfg, common) -> ResNet:
  """The ResNet of a resolved `net` block (no resampling: depth 0)."""
  return ResNet(channels=int(cfg.channels), num_blocks=int(cfg.num_blocks),
                pad=cfg.pad, **common)
