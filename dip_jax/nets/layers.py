"""Layers of the DIP network family (flax.linen, NHWC).

Two things differ from stock flax on purpose:
- Convolutions go through `conv_impl`: 'cpu' uses `cpu_conv.conv2d`, whose
  custom backward pass avoids XLA:CPU's slow weight-gradient convolution;
  'xla' is plain `lax` + autodiff (the right choice on GPU/TPU, where cuDNN and
  XLA are fast). 'auto' picks by backend. Both compute the same function.
- BatchNorm always normalises with the statistics of the current batch and
  keeps no running averages: DIP fits one image and evaluates the net in
  training mode, as the original implementation does, so the state is just
  parameters and the fit is a pure function of them.
Initialisers follow PyTorch's defaults (uniform +-1/sqrt(fan_in) for conv
weights and biases; BN scale 1, bias 0) so that fits start where the paper's
did.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from dip_jax.nets import cpu_conv
from dip_jax.nets import resampling

PAD_MODES = ("reflection", "zero")
DOWNSAMPLE_MODES = ("stride", "avg", "max", "lanczos2")
UPSAMPLE_MODES = ("nearest", "bilinear")
CONV_IMPLS = ("auto", "cpu", "xla")


def resolve_conv_impl(impl: str) -> str:
  """'auto' -> 'cpu' on the CPU backend, 'xla' elsewhere."""
  if impl not in CONV_IMPLS:
    raise ValueError(f"conv_impl must be one of {CONV_IMPLS}, got {impl!r}")
  if impl == "auto":
    return "cpu" if jax.default_backend() == "cpu" else "xla"
  return impl


def _torch_uniform(fan_in: int) -> Callable:
  bound = 1.0 / max(fan_in, 1) ** 0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def pad_spatial(x: jax.Array, before: int, after: int, mode: str) -> jax.Array:
  if before == 0 and after == 0:
    return x
  widths = ((0, 0), (before, after), (before, after), (0, 0))
  if mode == "reflection":
    return jnp.pad(x, widths, mode="reflect")
  if mode == "zero":
    return jnp.pad(x, widths)
  raise ValueError(f"pad must be one of {PAD_MODES}, got {mode!r}")


class Conv(nn.Module):
  """'Same' padded k x k conv with bias; stride 2 downsamples as configured.

  With a non-'stride' downsample mode the conv runs at stride 1 and a pooling
  or Lanczos layer halves the map afterwards, as in the paper's code.
  """
  features: int
  kernel_size: int = 3
  stride: int = 1
  pad: str = "reflection"
  downsample: str = "stride"
  use_bias: bool = True
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    k, cin = self.kernel_size, x.shape[-1]
    fan_in = k * k * cin
    kernel = self.param("kernel", _torch_uniform(fan_in),
                        (k, k, cin, self.features))
    conv_stride = self.stride if self.downsample == "stride" else 1
    x = pad_spatial(x, (k - 1) // 2, k // 2, self.pad)
    conv = (cpu_conv.conv2d if resolve_conv_impl(self.conv_impl) == "cpu"
            else cpu_conv.conv2d_xla)
    y = conv(x, kernel.astype(x.dtype), conv_stride)
    if self.use_bias:
      y = y + self.param("bias", _torch_uniform(fan_in), (self.features,))
    if self.stride > 1 and self.downsample != "stride":
      y = downsample(y, self.stride, self.downsample)
    return y


def downsample(x: jax.Array, factor: int, mode: str) -> jax.Array:
  if mode == "avg":
    return nn.avg_pool(x, (factor, factor), (factor, factor))
  if mode == "max":
    return nn.max_pool(x, (factor, factor), (factor, factor))
  if mode == "lanczos2":
    return resampling.lanczos_downsample(x, factor, support=2)
  raise ValueError(f"downsample must be one of {DOWNSAMPLE_MODES}, got {mode!r}")


def upsample2x(x: jax.Array, mode: str) -> jax.Array:
  """x2 upsampling; bilinear uses half-pixel centres (torch align_corners=False)."""
  if mode == "nearest":
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
  if mode == "bilinear":
    n, h, w, c = x.shape
    return jax.image.resize(x, (n, 2 * h, 2 * w, c), "bilinear")
  raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {mode!r}")


class BatchNorm(nn.Module):
  """Per-channel normalisation over N, H, W with batch statistics only."""
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (c,))
    bias = self.param("bias", nn.initializers.zeros, (c,))
    # Statistics in at least float32 whatever the compute dtype
    # (config.precision): a bfloat16 sum over H x W pixels would lose the
    # mean's low bits. float64 stays float64 (the x64 gradient tests).
    xs = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mean = jnp.mean(xs, axis=(0, 1, 2))
    var = jnp.mean(jnp.square(xs - mean), axis=(0, 1, 2))
    inv = jax.lax.rsqrt(var + self.epsilon) * scale
    return ((xs - mean) * inv + bias).astype(x.dtype)


def leaky_relu(x):
  """LeakyReLU with slope 0.2 (the paper's). jax.nn's is the same
  `where(x >= 0, x, 0.2 * x)` this module used to spell out: outputs and
  gradients are bit-identical (tests/test_metrics.py checks both)."""
  return jax.nn.leaky_relu(x, negative_slope=0.2)


class ConvBNAct(nn.Module):
  """Conv -> BN -> LeakyReLU(0.2), the unit the whole family is built from."""
  features: int
  kernel_size: int = 3
  stride: int = 1
  pad: str = "reflection"
  downsample: str = "stride"
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    x = Conv(self.features, self.kernel_size, self.stride, self.pad,
             self.downsample, conv_impl=self.conv_impl, name="conv")(x)
    return leaky_relu(BatchNorm(name="bn")(x))

