"""A PyTorch (torch.nn, NCHW) twin of dip_jax's SkipNet, for cross-checks.

It exists for two reasons: to check dip_jax's forward pass against an
independent implementation (tests/test_torch_reference.py), and to give
benchmarks/step_speed.py a PyTorch baseline of the same network, so that a
seconds-per-step figure for dip_jax can be read against the framework the
original Deep Image Prior was written in.

Submodules are named exactly like the flax parameter tree (skip0, down0_a,
merge0_bn, up0, up0_1x1, head, ...), which makes `load_flax_params` a plain
name-by-name copy instead of a second description of the architecture.

Only the skip-5 options the paper's denoising net uses are built: reflection
padding, stride-2 downsampling, bilinear x2 upsampling. This module imports
only torch and numpy (no jax), so that a torch benchmark process does not pay
jax's memory in its peak RSS.
"""

from typing import Sequence

import numpy as np
import torch
from torch import nn


class ConvBNAct(nn.Module):
  """Reflection pad -> conv (bias) -> BN (batch stats) -> LeakyReLU(0.2)."""

  def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
    super().__init__()
    self.conv = PaddedConv(cin, cout, k, stride)
    self.bn = batch_norm(cout)
    self.act = nn.LeakyReLU(0.2)

  def forward(self, x):
    return self.act(self.bn(self.conv(x)))


class PaddedConv(nn.Module):
  """'Same' conv: (k-1)//2 reflected pixels before, k//2 after, as dip_jax."""

  def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
    super().__init__()
    lo, hi = (k - 1) // 2, k // 2
    # ReflectionPad2d takes (left, right, top, bottom).
    self.pad = nn.ReflectionPad2d((lo, hi, lo, hi)) if k > 1 else nn.Identity()
    self.conv = nn.Conv2d(cin, cout, k, stride=stride, bias=True)

  def forward(self, x):
    return self.conv(self.pad(x))


def batch_norm(c: int) -> nn.BatchNorm2d:
  # DIP evaluates its net in training mode, and dip_jax's BatchNorm keeps no
  # running averages. track_running_stats=False makes torch use batch
  # statistics in both train() and eval(), and keeps the running buffers out
  # of the module so that the two nets hold the same state.
  return nn.BatchNorm2d(c, eps=1e-5, track_running_stats=False)


class SkipNetTorch(nn.Module):
  """The DIP skip encoder-decoder; see dip_jax/nets/skip.py for the layout."""

  def __init__(self, in_ch: int = 32, out_ch: int = 3,
               down: Sequence[int] = (128,) * 5,
               up: Sequence[int] = (128,) * 5,
               skip: Sequence[int] = (4,) * 5,
               k_down: int = 3, k_up: int = 3, k_skip: int = 1,
               need_1x1_up: bool = True, sigmoid: bool = True):
    super().__init__()
    if not len(down) == len(up) == len(skip):
      raise ValueError("down, up and skip need one entry per level")
    self.down, self.up, self.skip = tuple(down), tuple(up), tuple(skip)
    self.need_1x1_up, self.sigmoid = need_1x1_up, sigmoid
    self.depth = len(down)
    # One flat dict, keyed like the flax tree, rather than nested per-level
    # modules: the recursion lives in forward(), the names stay flax's.
    self.units = nn.ModuleDict()
    d = in_ch
    for i in range(self.depth):
      if skip[i]:
        self.units[f"skip{i}"] = ConvBNAct(d, skip[i], k_skip)
      self.units[f"down{i}_a"] = ConvBNAct(d, down[i], k_down, stride=2)
      self.units[f"down{i}_b"] = ConvBNAct(down[i], down[i], k_down)
      # What comes back up into level i: level i+1's output, or at the
      # deepest level the down branch itself.
      deeper = up[i + 1] if i + 1 < self.depth else down[i]
      self.units[f"merge{i}_bn"] = batch_norm(skip[i] + deeper)
      self.units[f"up{i}"] = ConvBNAct(skip[i] + deeper, up[i], k_up)
      if need_1x1_up:
        self.units[f"up{i}_1x1"] = ConvBNAct(up[i], up[i], 1)
      d = down[i]
    self.units["head"] = PaddedConv(up[0], out_ch, 1)
    self.upsample = nn.Upsample(scale_factor=2, mode="bilinear",
                                align_corners=False)

  def _level(self, i: int, x):
    u = self.units
    parts = [u[f"skip{i}"](x)] if self.skip[i] else []
    y = u[f"down{i}_b"](u[f"down{i}_a"](x))
    if i + 1 < self.depth:
      y = self._level(i + 1, y)
    parts.append(self.upsample(y))
    y = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
    y = u[f"up{i}"](u[f"merge{i}_bn"](y))
    if self.need_1x1_up:
      y = u[f"up{i}_1x1"](y)
    return y

  def forward(self, z):
    m = 2 ** self.depth
    if z.shape[2] % m or z.shape[3] % m:
      raise ValueError(f"input {tuple(z.shape[2:])} is not a multiple of {m}")
    y = self.units["head"](self._level(0, z))
    return torch.sigmoid(y) if self.sigmoid else y


class SeparableDownsample(nn.Module):
  """The DIP code's fixed downsampler (models/downsampler.py, preserve_size):
  replication-pad (k - f) / 2 pixels per side (the extra one bottom/right),
  then a depthwise conv with the outer product of 1-D `taps` at stride f.

  The taps are given, not computed here: benchmarks/time_to_quality.py
  passes dip_jax's own Lanczos-2 taps (dip_jax.nets.resampling), so both
  frameworks fit through one operator (tests/test_time_to_quality.py
  checks the two agree).
  """

  def __init__(self, taps, factor: int, channels: int = 3):
    super().__init__()
    taps = torch.as_tensor(np.asarray(taps, np.float32))
    k = taps.numel()
    lo = max(k - factor, 0) // 2
    hi = max(k - factor, 0) - lo
    # ReplicationPad2d takes (left, right, top, bottom).
    self.pad = nn.ReplicationPad2d((lo, hi, lo, hi))
    kernel = torch.outer(taps, taps).expand(channels, 1, k, k).contiguous()
    # A buffer, not a parameter: the operator is fixed, never trained.
    self.register_buffer("kernel", kernel)
    self.factor, self.channels = factor, channels

  def forward(self, x):
    return nn.functional.conv2d(self.pad(x), self.kernel, stride=self.factor,
                                groups=self.channels)


def count_params(module: nn.Module) -> int:
  return sum(p.numel() for p in module.parameters())


def _copy(dst: torch.Tensor, src, transpose=None):
  src = np.asarray(src, dtype=np.float32)
  if transpose is not None:
    src = src.transpose(transpose)
  if tuple(src.shape) != tuple(dst.shape):
    raise ValueError(f"shape mismatch: flax {src.shape} vs torch "
                     f"{tuple(dst.shape)}")
  with torch.no_grad():
    # A writable copy: jax arrays come back from numpy read-only.
    dst.copy_(torch.from_numpy(np.array(src, order="C", copy=True)))


def _load_conv(conv: PaddedConv, tree):
  # flax kernels are HWIO, torch weights OIHW; both are cross-correlations,
  # so no spatial flip is needed.
  _copy(conv.conv.weight, tree["kernel"], (3, 2, 0, 1))
  _copy(conv.conv.bias, tree["bias"])


def _load_bn(bn: nn.BatchNorm2d, tree):
  _copy(bn.weight, tree["scale"])
  _copy(bn.bias, tree["bias"])


def load_flax_params(model: SkipNetTorch, params) -> SkipNetTorch:
  """Copies a dip_jax SkipNet parameter tree (the 'params' collection, as
  arrays of any kind numpy can read) into `model`, in place.

  Every flax leaf must land somewhere and every torch parameter must be
  written, so an architecture mismatch fails loudly instead of leaving
  default-initialised weights behind.
  """
  if set(params) != set(model.units):
    raise ValueError(f"flax modules {sorted(params)} do not match torch "
                     f"modules {sorted(model.units)}")
  written = 0
  for name, module in model.units.items():
    tree = params[name]
    if isinstance(module, ConvBNAct):
      _load_conv(module.conv, tree["conv"])
      _load_bn(module.bn, tree["bn"])
      written += 4
    elif isinstance(module, nn.BatchNorm2d):
      _load_bn(module, tree)
      written += 2
    else:
      _load_conv(module, tree)
      written += 2
  if written != len(list(model.parameters())):
    raise ValueError("not every torch parameter was loaded")
  return model


def conv_layers(size: int, in_ch: int = 32, out_ch: int = 3,
                down=(128,) * 5, up=(128,) * 5, skip=(4,) * 5,
                k_down: int = 3, k_up: int = 3, k_skip: int = 1,
                need_1x1_up: bool = True):
  """(name, H_out, W_out, k, Cin, Cout) of every conv, for a square input.

  Pure arithmetic on the same layout as SkipNetTorch, so it can be checked
  against torch's own FLOP counter and used without building a net.
  """
  out, d, h = [], in_ch, size
  for i in range(len(down)):
    if skip[i]:
      out.append((f"skip{i}", h, h, k_skip, d, skip[i]))
    out.append((f"down{i}_a", h // 2, h // 2, k_down, d, down[i]))
    out.append((f"down{i}_b", h // 2, h // 2, k_down, down[i], down[i]))
    deeper = up[i + 1] if i + 1 < len(down) else down[i]
    out.append((f"up{i}", h, h, k_up, skip[i] + deeper, up[i]))
    if need_1x1_up:
      out.append((f"up{i}_1x1", h, h, 1, up[i], up[i]))
    d, h = down[i], h // 2
  out.append(("head", size, size, 1, up[0], out_ch))
  return out


def forward_conv_flops(size: int, **net_kwargs) -> int:
  """Multiply-adds x 2 of every conv in one forward pass at batch 1.

  2 * H_out * W_out * k^2 * Cin * Cout per conv; biases, BN, activations,
  upsampling, the loss and the optimiser are not counted (together they are
  a few percent of the conv work at 128 channels).
  """
  return sum(2 * ho * wo * k * k * ci * co
             for _, ho, wo, k, ci, co in conv_layers(size, **net_kwargs))


def train_step_flops(size: int, **net_kwargs) -> int:
  """~3x the forward convs: forward, input gradient, weight gradient.

  Slightly over-counts: neither framework needs the input gradient of the
  two convs that read z (skip0, down0_a), since z is not trained.
  """
  return 3 * forward_conv_flops(size, **net_kwargs)
