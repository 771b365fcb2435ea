"""2-D convolution whose backward pass is fast on XLA:CPU.

XLA:CPU lowers the three convolutions of a conv layer (forward, input gradient,
weight gradient) very unevenly: the weight gradient, the zero-dilated input
gradient of a strided conv and any conv with padding "VALID" miss its fast
path. `conv2d` computes the same maths as `conv2d_xla` but routes each of the
three through a formulation that hits fast kernels on CPU, via a
`jax.custom_vjp`. On GPU/TPU use `conv2d_xla`.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

_DN = ("NHWC", "HWIO", "NHWC")


def _out_len(n, k, s):
  return (n - k) // s + 1


def conv2d_xla(x, w, stride=1):
  """VALID NHWC/HWIO conv, plain XLA + autodiff: the reference, GPU/TPU path."""
  return lax.conv_general_dilated(
      x, w, (stride, stride), "VALID", dimension_numbers=_DN)


def _conv_not_valid_one(lhs, rhs, out_hw, stride=1, pad=((0, 0), (0, 0))):
  """Conv with `pad`, but never with all-zero padding.

  XLA:CPU runs a conv with padding "VALID" (all zeros) up to ~3.5x slower than
  the same conv with any nonzero padding. So we pad one extra (zero) row and
  column at the end and crop the output to `out_hw`, which is exact.
  """
  if all(p == 0 for pair in pad for p in pair):
    pad = ((0, 1), (0, 1))
  y = lax.conv_general_dilated(
      lhs, rhs, (stride, stride), pad, dimension_numbers=_DN)
  return y[:, :out_hw[0], :out_hw[1], :]


def _conv_not_valid(lhs, rhs, out_hw, stride=1, pad=((0, 0), (0, 0))):
  """`_conv_not_valid_one`, batched over restarts one conv at a time.

  Restarts vmap the whole fit, which turns each conv with batched inputs
  *and* kernels into one grouped convolution; XLA:CPU runs those 2.5-3x
  slower than the same convs one after another (measured: R=4, 64 px, 32
  channels, forward + backward: 19.9 ms vmapped vs 7.9 ms as a lax.map). So
  under vmap this runs a lax.map over the batch instead.
  """
  one = functools.partial(_conv_not_valid_one, out_hw=out_hw, stride=stride,
                          pad=pad)
  per_example = jax.custom_batching.custom_vmap(one)

  @per_example.def_vmap
  def _rule(axis_size, in_batched, lhs, rhs):
    lhs, rhs = (a if b else jnp.broadcast_to(a, (axis_size, *a.shape))
                for a, b in zip((lhs, rhs), in_batched))
    return lax.map(lambda t: per_example(*t), (lhs, rhs)), True

  return per_example(lhs, rhs)


def _forward(x, w, s):
  kh, kw = w.shape[:2]
  ho, wo = _out_len(x.shape[1], kh, s), _out_len(x.shape[2], kw, s)
  if kh == kw == 1:  # A 1x1 conv is a matmul over channels.
    return jnp.dot(x[:, ::s, ::s, :], w[0, 0])
  return _conv_not_valid(x, w, (ho, wo), stride=s)


def _weight_grad(x, g, kh, kw, s):
  """dW[a, b] = sum over (n, i, j) of x[n, s*i + a, s*j + b, :]^T g[n, i, j, :].

  XLA's own weight-gradient conv runs far below matmul speed on CPU. One
  (N*Ho*Wo, Cin)^T @ (N*Ho*Wo, Cout) matmul per kernel tap is close to it.
  The taps run in a `lax.scan` rather than unrolled: the unrolled version
  materialises all kh*kw input slices at once, which costs memory and was
  ~2x slower (fresh buffers, page faults); the scan reuses one slice buffer.
  """
  n, ho, wo, cout = g.shape
  cin = x.shape[-1]
  gm = g.reshape(-1, cout)
  win = (n, s * (ho - 1) + 1, s * (wo - 1) + 1, cin)

  def tap(a, b):
    xs = lax.dynamic_slice(x, (0, a, b, 0), win)[:, ::s, ::s, :]
    return jnp.dot(xs.reshape(-1, cin).T, gm)

  if kh == kw == 1:
    return tap(0, 0)[None, None]

  def body(carry, t):
    return carry, tap(t // kw, t % kw)

  _, dw = lax.scan(body, None, jnp.arange(kh * kw))
  return dw.reshape(kh, kw, cin, cout)


def _input_grad(g, w, x_shape, s):
  """Gradient w.r.t. the (padded) input: a transposed convolution."""
  kh, kw, cin, _ = w.shape
  n, h, wd, _ = x_shape
  ho, wo = g.shape[1:3]
  if kh == kw == 1:
    dxs = jnp.dot(g, w[0, 0].T)  # (N, Ho, Wo, Cin) at the strided positions.
    if s == 1:
      return dxs
    # Scatter back to every s-th pixel: interior padding puts zeros between.
    rem_h, rem_w = h - (s * (ho - 1) + 1), wd - (s * (wo - 1) + 1)
    return lax.pad(dxs, jnp.zeros((), dxs.dtype),
                   ((0, 0, 0), (0, rem_h, s - 1), (0, rem_w, s - 1),
                    (0, 0, 0)))
  # Split dx by output phase: dx[:, p::s, q::s] only sees the taps
  # w[p::s, q::s], and is the stride-1 "full" correlation of g with that
  # sub-kernel flipped and in/out-swapped. XLA's own stride-s input gradient
  # instead dilates g with zeros (lhs_dilation) and multiplies them too: the
  # phase split was 1.3x faster for 3x3 and 2x for 5x5 kernels at 256 px.
  # For s == 1 it is the single explicit transposed conv, which was 5-25%
  # faster than autodiff's. Rows/columns of x the forward never read (when
  # (H - k) % s != 0) come out zero, as the sums over valid g are empty.
  hm, wm = -(-h // s), -(-wd // s)  # Rows/columns of the largest phase.
  phases = []
  for p in range(s):
    for q in range(s):
      sub = jnp.swapaxes(w[p::s, q::s][::-1, ::-1], 2, 3)
      kp, kq = sub.shape[:2]
      if kp == 0 or kq == 0:  # Only when k < s: no tap lands on this phase.
        phases.append(jnp.zeros((n, hm, wm, cin), g.dtype))
        continue
      pad = ((kp - 1, hm - ho), (kq - 1, wm - wo))
      phases.append(_conv_not_valid(g, sub, (hm, wm), pad=pad))
  if s == 1:
    return phases[0]
  dx = jnp.stack(phases).reshape(s, s, n, hm, wm, cin)
  dx = dx.transpose(2, 3, 0, 4, 1, 5).reshape(n, hm * s, wm * s, cin)
  return dx[:, :h, :wd, :]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv2d(x, w, stride):
  return _forward(x, w, stride)


def _conv2d_fwd(x, w, stride):
  # Residuals are just the operands: no tap slices or im2col buffers are kept
  # alive between forward and backward.
  return _forward(x, w, stride), (x, w)


def _conv2d_bwd(stride, res, g):
  x, w = res
  kh, kw = w.shape[:2]
  dx = _input_grad(g, w, x.shape, stride)
  dw = _weight_grad(x, g, kh, kw, stride)
  return dx.astype(x.dtype), dw.astype(w.dtype)


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def conv2d(x, w, stride=1):
  """VALID 2-D conv with a backward pass that is fast on XLA:CPU.

  Args:
    x: (N, H, W, Cin) input, already spatially padded by the caller.
    w: (k, k, Cin, Cout) HWIO kernel.
    stride: 1 or 2 (any positive int works).

  Returns:
    (N, (H - k) // stride + 1, (W - k) // stride + 1, Cout); no bias. Same
    values and gradients as `conv2d_xla`.
  """
  if x.ndim != 4 or w.ndim != 4 or x.shape[-1] != w.shape[2]:
    raise ValueError(f"bad shapes for conv2d: x {x.shape}, w {w.shape}")
  return _conv2d(x, w, int(stride))
