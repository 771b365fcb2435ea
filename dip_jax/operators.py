"""Forward operators A (net output -> observation space) and data terms.

An operator is any differentiable JAX function of the reconstruction (an
N x H x W x C array in [0, 1]); a data term is any differentiable function
`(prediction, observed, mask) -> scalar`. Both are looked up by name from
registries, so a new task adds one entry here and a config names it.
Builders receive the config's `operator` block, so operators with settings
(a downsampling factor, a blur kernel) read them from there.

Builders return the same function object for equal settings (the function
factories are `lru_cache`d), because jitted fits and the TV solver key their
compiled programs on the operator. The linear operators here are built only
from padding, convolution and striding, so `jax.linear_transpose` gives
their adjoints.
"""

import functools
import math
from typing import Callable

import jax.numpy as jnp
import numpy as np

from dip_jax import resampling
from dip_jax.errors import InputError

Operator = Callable[[jnp.ndarray], jnp.ndarray]
OPERATORS: dict[str, Callable[..., Operator]] = {}
DATA_TERMS: dict[str, Callable] = {}


def register_operator(name: str):
  def wrap(builder):
    OPERATORS[name] = builder
    return builder
  return wrap


def register_data_term(name: str):
  def wrap(fn):
    DATA_TERMS[name] = fn
    return fn
  return wrap


def build_operator(op_cfg) -> Operator:
  name = op_cfg.get("name", "identity")
  if name not in OPERATORS:
    raise InputError(f"unknown operator {name!r}; known: {sorted(OPERATORS)}")
  return OPERATORS[name](op_cfg)


def get_data_term(name: str):
  if name not in DATA_TERMS:
    raise InputError(f"unknown loss {name!r}; known: {sorted(DATA_TERMS)}")
  return DATA_TERMS[name]


@register_operator("identity")
def _identity(op_cfg=None) -> Operator:
  """Denoising, JPEG artifact removal, blind restoration (and, with a mask in
  the loss, inpainting)."""
  del op_cfg
  return _identity_fn


def _identity_fn(x):
  # Module-level, so equal configs give equal FitSpecs and reuse compiles.
  return x


def _number(value, name: str, positive: bool = True) -> float:
  """`value` as a finite float (> 0 if `positive`), else InputError."""
  ok = (isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))
  if not ok or (positive and value <= 0):
    need = "a positive number" if positive else "a finite number"
    raise InputError(f"{name} must be {need}, got {value!r}")
  return float(value)


def _odd_size(value, name: str) -> int:
  if (isinstance(value, (bool, np.bool_))
      or not isinstance(value, (int, float, np.integer, np.floating))
      or not float(value).is_integer() or value < 1 or int(value) % 2 == 0):
    raise InputError(f"{name} must be an odd positive integer, got {value!r}")
  return int(value)


def _batched(fn):
  """Lets an N x H x W x C operator also take a single H x W x C image."""
  def wrapped(x):
    if x.ndim == 3:
      return fn(x[None])[0]
    if x.ndim != 4:
      raise InputError(f"operators take N x H x W x C arrays, got shape {x.shape}")
    return fn(x)
  return wrapped


@register_operator("downsample")
def _downsample(op_cfg) -> Operator:
  """Super-resolution: filter with `op_cfg.kernel` and keep every f-th pixel.

  Keys: factor (positive integer, required), kernel ("lanczos2" default, the
  DIP paper's; "bicubic"; "box"). See `dip_jax.resampling` for the kernels'
  phase and edge padding; H and W must be divisible by the factor.
  """
  factor = op_cfg.get("factor", None)
  if factor is None:
    raise InputError("operator.factor is required for the downsample operator")
  factor = resampling.check_factor(factor, "operator.factor")
  kernel = op_cfg.get("kernel", "lanczos2")
  if kernel not in resampling.DOWNSAMPLE_TAPS:
    raise InputError(f"operator.kernel must be one of "
                     f"{sorted(resampling.DOWNSAMPLE_TAPS)}, got {kernel!r}")
  return _downsample_fn(kernel, factor)


@functools.lru_cache(maxsize=None)
def _downsample_fn(kernel: str, factor: int) -> Operator:
  taps = resampling.DOWNSAMPLE_TAPS[kernel](factor)

  @_batched
  def downsample(x):
    h, w = x.shape[1:3]
    if h % factor or w % factor:
      # Otherwise the output would silently drop the last rows/columns and
      # no longer line up with the observation.
      raise InputError(f"downsampling by {factor} needs H and W divisible by "
                       f"{factor}; got {h}x{w}")
    return resampling.separable_downsample(x, taps, factor)
  return downsample


BLUR_KINDS = ("gaussian", "box", "motion")


def blur_kernel(kind: str, *, size=None, sigma=None, length=None,
                angle=0.0) -> np.ndarray:
  """A normalised (sum 1) 2-D blur kernel of odd side.

  Args:
    kind: "gaussian" (needs `sigma`; `size` defaults to ceil(6 sigma) made
      odd), "box" (needs `size`) or "motion" (a straight motion of `length`
      pixels at `angle` degrees counter-clockwise from the +x axis, centred;
      `size` defaults to the smallest odd side that holds it).
    size: kernel side, odd.
    sigma: Gaussian standard deviation in pixels.
    length: motion length in pixels.
    angle: motion direction in degrees.

  Returns:
    float32 size x size array. Every kernel is symmetric under a 180 degree
    rotation, so correlating with it (what the conv does) is convolving.
  """
  if kind == "gaussian":
    sigma = _number(sigma, "blur sigma")
    size = _odd_size(math.ceil(6 * sigma) | 1 if size is None else size, "blur size")
    t = np.arange(size) - size // 2
    g = np.exp(-0.5 * (t / sigma) ** 2)
    k = np.outer(g, g)
  elif kind == "box":
    if size is None:
      raise InputError("blur size is required for a box blur")
    size = _odd_size(size, "blur size")
    k = np.ones((size, size))
  elif kind == "motion":
    length = _number(length, "blur length")
    angle = _number(angle, "blur angle", positive=False)
    # Cell i spans [i - 0.5, i + 0.5]; the segment reaches length / 2.
    need = 2 * max(math.ceil(length / 2 - 0.5), 0) + 1
    size = _odd_size(need if size is None else size, "blur size")
    if size < need:
      raise InputError(f"a motion blur of length {length:g} needs blur size >= {need}, got {size}")
    k = _motion_kernel(length, angle, size)
  else:
    raise InputError(f"blur kind must be one of {BLUR_KINDS}, got {kind!r}")
  return (k / k.sum()).astype(np.float32)


def _motion_kernel(length: float, angle: float, size: int) -> np.ndarray:
  """Length of the centred segment inside each pixel's unit cell.

  Weighting each cell by the time the moving point spends in it (exact
  segment/square clipping, Liang-Barsky) makes a horizontal motion of odd
  integer length an exact box and degrades gracefully for other angles.
  """
  theta = math.radians(angle)
  # Rows grow downwards, so counter-clockwise means negative row direction.
  dx, dy = length * math.cos(theta), -length * math.sin(theta)
  x0, y0 = -dx / 2, -dy / 2
  r = size // 2
  ys, xs = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
  t0, t1 = np.zeros_like(xs), np.ones_like(xs)
  # P(t) = P0 + t d stays in the cell while p * t <= q for all four sides.
  for p, q in ((-dx, x0 - (xs - 0.5)), (dx, xs + 0.5 - x0),
               (-dy, y0 - (ys - 0.5)), (dy, ys + 0.5 - y0)):
    if abs(p) < 1e-12:
      t1 = np.where(q < 0, 0.0, t1)  # Parallel to this side and outside it.
    elif p < 0:
      t0 = np.maximum(t0, q / p)
    else:
      t1 = np.minimum(t1, q / p)
  return np.clip(t1 - t0, 0.0, None) * length


@register_operator("blur")
def _blur(op_cfg) -> Operator:
  """Deblurring: a same-size depthwise convolution with `blur_kernel`.

  Keys: kind ("gaussian" default), sigma / size / length / angle as in
  `blur_kernel` (size 0 or None: the kind's default). The borders use
  reflect padding (mirror about the edge pixel, which is not repeated:
  d c b | a b c d), so the output is H x W and free of the dark frame zero
  padding would add.
  """
  kind = op_cfg.get("kind", "gaussian")
  params = {key: op_cfg.get(key, None) for key in ("size", "sigma", "length", "angle")}
  if params["angle"] is None:
    params["angle"] = 0.0
  if params["size"] == 0:
    # Configs write 0 for "unset" (ConfigDict fields keep their type), so 0
    # asks for the kind's default size.
    params["size"] = None
  # Validate now (bad config fails at build time) and key the cache on
  # the kernel values, so equal kernels share one function.
  kernel = blur_kernel(kind, **params)
  return _blur_fn(kernel.tobytes(), kernel.shape[0])


@functools.lru_cache(maxsize=64)
def _blur_fn(kernel_bytes: bytes, size: int) -> Operator:
  kernel = np.frombuffer(kernel_bytes, np.float32).reshape(size, size)
  u, s, vt = np.linalg.svd(kernel.astype(np.float64))
  # Gaussian and box kernels are rank one: two 1-D passes cost 2k taps per
  # pixel instead of k^2.
  separable = s[1] <= 1e-6 * s[0] if size > 1 else True
  col = (u[:, 0] * s[0]).astype(np.float32)
  row = vt[0].astype(np.float32)
  pad = size // 2

  @_batched
  def blur(x):
    h, w = x.shape[1:3]
    if pad >= min(h, w):
      raise InputError(f"blur kernel of size {size} needs an image larger "
                       f"than {pad} pixels per side; got {h}x{w}")
    x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    if separable:
      x = resampling.depthwise_correlate(x, col[:, None])
      return resampling.depthwise_correlate(x, row[None, :])
    return resampling.depthwise_correlate(x, kernel)
  return blur


@register_data_term("mse")
def mse(pred, observed, mask=None):
  """Mean squared error over all elements; with a mask, the masked-out
  elements count as zero (the original's mse(out * mask, x0 * mask))."""
  diff = pred - observed
  if mask is not None:
    diff = diff * mask
  return jnp.mean(jnp.square(diff))


@register_data_term("l1")
def l1(pred, observed, mask=None):
  diff = jnp.abs(pred - observed)
  if mask is not None:
    diff = diff * mask
  return jnp.mean(diff)


def observed_mse(pred, observed, mask=None):
  """MSE over the observed elements only (for PSNR to the observation)."""
  sq = jnp.square(pred - observed)
  if mask is None:
    return jnp.mean(sq)
  mask = jnp.broadcast_to(mask, sq.shape)
  return jnp.sum(sq * mask) / jnp.maximum(jnp.sum(mask), 1.0)
