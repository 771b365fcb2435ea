"""The Deep Decoder (Heckel & Hand, ICLR 2019): an image prior without
spatial convolutions.

From a small fixed random tensor B_0 (H/2**L x W/2**L x C_in):

  B_{i+1} = BN(ReLU(upsample x2 (conv1x1(B_i))))      i = 0 .. L-1
  B_{L+1} = BN(ReLU(conv1x1(B_L)))                    (no upsampling)
  y       = sigmoid(conv1x1(B_{L+1}))

with `channels` (k) channels per layer, bilinear upsampling and no conv
biases (the BN after each layer removes constants anyway). All spatial
structure comes from the fixed upsampling; the net has only
C_in k + L k^2 + 2 (L+1) k + k C_out parameters (25,536 for k = 64, L = 5,
C_in = 64, C_out = 3: fewer than the pixels of a 128 x 128 RGB image), which
is why it is under-parameterised and fits noise slowly. The layout follows
the authors' `decodernw`.

The engine gives every net a full-resolution input z (the canvas padded to a
multiple of 2**depth, depth = L here), so the coarse tensor B_0 is derived
from it inside the net: z sampled at every 2**L-th pixel. Sampling, not
average pooling, keeps the input's distribution (z ~ scale * U(0, 1) stays
so, as in the Deep Decoder): an average of 4**L values has 2**L times less
spread around its mean, and with a ReLU before the first BN that near-constant
map would switch whole channels on or off. The input perturbation
(input.reg_noise_std) reaches B_0 the same way, at its full size. So the
engine, input and checkpoints need no special case for this net.
"""

import flax.linen as nn
import jax

from dip_jax.nets import layers
from dip_jax.nets import registry


class DeepDecoder(nn.Module):
  """Deep Decoder (NHWC); the input is full-size and sampled down 2**L.

  Attributes:
    out_channels: channels of the output image.
    channels: k, the width of every layer.
    num_layers: L, the number of x2 upsampling layers.
    upsample: 'bilinear' (the paper's) | 'nearest'.
    sigmoid: squash the output to [0, 1].
    conv_impl: see `layers.resolve_conv_impl`.
  """
  out_channels: int = 3
  channels: int = 64
  num_layers: int = 5
  upsample: str = "bilinear"
  sigmoid: bool = True
  conv_impl: str = "auto"

  @property
  def depth(self) -> int:
    return self.num_layers

  def _conv1x1(self, features, name):
    # 1x1 convs need no padding, so the pad mode is irrelevant here.
    return layers.Conv(features, 1, use_bias=False, conv_impl=self.conv_impl,
                       name=name)

  @nn.compact
  def __call__(self, z):
    if self.num_layers < 0:
      raise ValueError(f"num_layers must be >= 0, got {self.num_layers}")
    s = 2 ** self.num_layers
    h, w = z.shape[1:3]
    if h % s or w % s:
      raise ValueError(f"net input {h}x{w} is not a multiple of {s} "
                       f"(2**num_layers); pad the canvas first")
    x = z[:, ::s, ::s, :]
    for i in range(self.num_layers + 1):
      x = self._conv1x1(self.channels, f"layer{i}")(x)
      if i < self.num_layers:
        x = layers.upsample2x(x, self.upsample)
      x = layers.BatchNorm(name=f"layer{i}_bn")(jax.nn.relu(x))
    y = self._conv1x1(self.out_channels, "head")(x)
    return jax.nn.sigmoid(y) if self.sigmoid else y


def _validate(cfg) -> None:
  registry.check_at_least(cfg, "channels", 1)
  registry.check_at_least(cfg, "num_layers", 0)
  registry.check_choice(cfg, "upsample", layers.UPSAMPLE_MODES)


@registry.register(
    "deep_decoder", validate=_validate,
    # Its coarse input is the canvas sampled down by 2**num_layers.
    depth=lambda cfg: max(int(cfg.num_layers), 0),
    full_resolution_channels=lambda cfg: int(cfg.channels))
def from_block(cfg, common) -> DeepDecoder:
  """The Deep Decoder of a resolved `net` block."""
  return DeepDecoder(channels=int(cfg.channels),
                     num_layers=int(cfg.num_layers), upsample=cfg.upsample,
                     **common)
