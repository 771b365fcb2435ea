"""Forward operators y = A(x): the objects a Problem carries.

An `Operator` is a differentiable JAX function on batches of images
(N x H x W x C in [0, 1]) with what the rest of the engine needs to know
about it: the image size it takes (`in_shape`), the measurement it gives
(`out_spec`, any pytree: an image, a stack, complex arrays), whether it is
linear (then `adjoint` comes from `jax.linear_transpose`), a classical
`baseline(y)` to beat (bicubic for SR; none for Fourier data) and
`display(y)` for corrupted.png (none when y is not an image).

Public constructors: `identity()`, `inpainting(mask)`, `downsample(factor)`,
`blur(kind, ...)`; `Operator(apply=..., in_shape=...)` for a new one, and
`from_config(config.operator)` for the CLI's config block. The compiled fits
and the TV solver key their programs on `op.apply` (taking `op.params`, if
any, as an argument), so the built-in constructors return the same function
object for equal settings.
"""

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError, numeric_array
from dip_jax.nets import resampling
from dip_jax.operators.blur import BLUR_KINDS, blur_fn, blur_kernel

__all__ = ["Operator", "Downsample", "identity", "inpainting", "downsample",
           "blur", "blur_kernel", "BLUR_KINDS", "from_config", "OPERATORS",
           "register_operator"]

NEUTRAL = 0.5  # shown in place of missing pixels


def forward(apply, x, params=None):
  """A x through an operator function: apply(x), or apply(x, params) for
  an operator with params (the compiled fits pass them as arguments)."""
  return apply(x) if params is None else apply(x, params)


@dataclasses.dataclass(frozen=True, eq=False)
class Operator:
  """y = A(x) on batches, plus what the engine needs to know about A.

  Attributes:
    apply: N x H x W x C float32 -> measurement (array or pytree), batched
      along the leading axis.
    in_shape: (H, W, C) of one x; None = the measurement's own shape (an
      image-to-image operator that keeps the size).
    linear: True when A is linear (TV and other adjoint-based solvers need it).
    name: for messages and summaries.
    weights: default per-measurement weights handed to the objective (the
      inpainting mask, 1 = observed); a Problem's own weights win.
    baseline_fn: y -> (name, image) a classical estimate of x to show and beat
      (the observation itself, bicubic upscaling), or None.
    display_fn: y -> image for corrupted.png, or None when y is no image.
    score_border: pixels cropped per side by border-aware scores (SR: the
      factor, as the paper's Y-PSNR).
    views_fn: x -> {name: H x W x {1,3} image} when x's channels are not
      one picture (ptychography: amplitude and phase); None = x itself.
    score_fn: (x, clean) -> {score: value} replacing the image scores where
      they would mislead (a phase only known up to a global offset).
    params: None, or a pytree of arrays `apply` takes as its second
      argument, apply(x, params). The compiled fits pass it in as an
      argument rather than baking it into the program: a classifier's
      weights stay out of the program's constants, and operators that
      differ only in params (another unit of the same layer) share one
      compiled program.
  """
  apply: Callable
  in_shape: tuple | None = None
  linear: bool = False
  name: str = "custom"
  weights: Any = None
  baseline_fn: Callable | None = None
  display_fn: Callable | None = None
  score_border: int = 0
  views_fn: Callable | None = None
  score_fn: Callable | None = None
  params: Any = None

  def __call__(self, x):
    return forward(self.apply, x, self.params)

  def input_shape(self, y=None) -> tuple:
    """(H, W, C) of x: `in_shape`, or for a size-keeping operator y's shape."""
    if self.in_shape is not None:
      return tuple(int(d) for d in self.in_shape)
    if y is None or not hasattr(y, "shape") or np.ndim(y) != 3:
      raise InputError(f"operator {self.name!r} has no in_shape and the "
                       f"measurement is not an H x W x C image; pass in_shape")
    return tuple(int(d) for d in np.shape(y))

  @property
  def size_multiple(self) -> int:
    """What x's height and width must be multiples of (1: any size)."""
    return 1

  def out_spec(self, in_shape=None):
    """The measurement's shapes and dtypes (batched, leading axis 1)."""
    shape = tuple(in_shape or self.input_shape())
    return jax.eval_shape(self.__call__,
                          jax.ShapeDtypeStruct((1, *shape), jnp.float32))

  def adjoint(self, y, in_shape=None):
    """A^T y for a linear operator (by `jax.linear_transpose`)."""
    if not self.linear:
      raise InputError(f"operator {self.name!r} is nonlinear: it has no "
                       f"adjoint")
    shape = (1, *(in_shape or self.input_shape()))
    transpose = jax.linear_transpose(self.__call__,
                                     jax.ShapeDtypeStruct(shape, jnp.float32))
    return transpose(y)[0]

  def baseline(self, y):
    """(name, image) of the classical estimate to beat, or None."""
    return None if self.baseline_fn is None else self.baseline_fn(self, y)

  def views(self, x) -> dict:
    """x (H x W x C) as the named pictures to save and show."""
    return {"": x} if self.views_fn is None else self.views_fn(x)

  def display(self, y):
    """The measurement as a picture for corrupted.png, or None."""
    return None if self.display_fn is None else self.display_fn(self, y)


def _show(op, y):
  """An image measurement as the method sees it, clipped for viewing, with
  the unweighted (missing) elements neutral."""
  x = np.clip(np.asarray(y, np.float32), 0, 1)
  if op.weights is not None:
    w = np.asarray(op.weights, np.float32)
    x = x * w + NEUTRAL * (1 - w)
  return x


def _observed(op, y):
  return "corrupted", _show(op, y)


def _batched(fn):
  """Lets an N x H x W x C operator also take a single H x W x C image."""
  def wrapped(x):
    if x.ndim == 3:
      return fn(x[None])[0]
    if x.ndim != 4:
      raise InputError(f"operators take N x H x W x C arrays, got shape {x.shape}")
    return fn(x)
  return wrapped


def _identity_fn(x):
  # Module-level, so equal configs give equal FitSpecs and reuse compiles.
  return x


def identity(in_shape=None) -> Operator:
  """Denoising, JPEG artifact removal, blind restoration."""
  return Operator(apply=_identity_fn, in_shape=in_shape, linear=True,
                  name="identity", baseline_fn=_observed, display_fn=_show)


def as_weights(w, what: str = "the mask") -> np.ndarray:
  """Weights (a mask) as float32: bool as 0 / 1, integers 0 / 1 as they
  are, an unsigned integer mask image (0 / 255, 0 / 65535) scaled to
  [0, 1] as scikit-image's img_as_float would; other integers, negative or
  non-finite values are refused in one line."""
  w = numeric_array(w, what)
  if np.issubdtype(w.dtype, np.integer) and w.size and (
      w.min() < 0 or w.max() > 1):
    if not np.issubdtype(w.dtype, np.unsignedinteger):
      raise InputError(f"{what} (dtype {w.dtype}): values outside 0 / 1; "
                       f"give a bool mask or floats in [0, 1]")
    w = w.astype(np.float32) / np.float32(np.iinfo(w.dtype).max)
  if np.iscomplexobj(w):
    raise InputError(f"{what} is complex; weights are real numbers")
  w = w.astype(np.float32)
  if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
    raise InputError(f"{what} must be finite and >= 0 (1 = observed)")
  return w


def inpainting(mask, in_shape=None) -> Operator:
  """Identity with a mask (H x W x 1 or H x W x C, 1 = observed pixel) as the
  objective's weights: the missing pixels do not count. The mask is read
  by `as_weights` (bool, 0 / 1, or a 0 / 255 mask image)."""
  mask = as_weights(mask)
  if mask.ndim == 2:
    mask = mask[..., None]
  if mask.ndim != 3:
    raise InputError(f"an inpainting mask must be H x W or H x W x C, got "
                     f"shape {mask.shape}")
  return Operator(apply=_identity_fn, in_shape=in_shape, linear=True,
                  name="inpainting", weights=mask, baseline_fn=_observed,
                  display_fn=_show)


@dataclasses.dataclass(frozen=True, eq=False)
class Downsample(Operator):
  """Super-resolution: filter with `kernel` and keep every factor-th pixel."""
  factor: int = 1
  kernel: str = "lanczos2"

  def input_shape(self, y=None) -> tuple:
    if self.in_shape is not None or y is None or np.ndim(y) != 3:
      return super().input_shape(y)
    h, w, c = np.shape(y)
    return (h * self.factor, w * self.factor, c)

  @property
  def size_multiple(self) -> int:
    return self.factor


def _bicubic(op, y):
  return "bicubic", resampling.upsample_bicubic(np.asarray(y), op.factor)


def downsample(factor, kernel: str = "lanczos2", in_shape=None) -> Downsample:
  """x -> filter and stride by `factor` (lanczos2: the DIP paper's kernel;
  bicubic; box). See `dip_jax.nets.resampling` for phases and edge padding; H and
  W must be divisible by the factor."""
  factor = resampling.check_factor(factor, "operator.downsample.factor")
  if kernel not in resampling.DOWNSAMPLE_KERNELS:
    raise InputError(f"operator.downsample.kernel must be one of "
                     f"{sorted(resampling.DOWNSAMPLE_KERNELS)}, got {kernel!r}")
  return Downsample(apply=_downsample_fn(kernel, factor), in_shape=in_shape,
                    linear=True, name=f"downsample x{factor}",
                    baseline_fn=_bicubic, display_fn=_show,
                    score_border=factor, factor=factor, kernel=kernel)


@functools.lru_cache(maxsize=None)
def _downsample_fn(kernel: str, factor: int):
  taps = (resampling.DOWNSAMPLE_TAPS[kernel](factor)
          if kernel != "bicubic" else None)

  @_batched
  def apply(x):
    n, h, w, c = x.shape
    if h % factor or w % factor:
      # Otherwise the output would silently drop the last rows/columns and
      # no longer line up with the observation.
      raise InputError(f"downsampling by {factor} needs H and W divisible by "
                       f"{factor}; got {h}x{w}")
    if kernel == "bicubic":
      # jax's antialiased cubic resize is PIL's BICUBIC reduce, borders
      # included (measured: 2.4e-7 at x2/x4/x8); edge-replicated taps were
      # 0.03 off at the borders, where PIL renormalises its kernel instead.
      return jax.image.resize(x, (n, h // factor, w // factor, c), "cubic",
                              antialias=True)
    return resampling.separable_downsample(x, taps, factor)
  return apply


@functools.lru_cache(maxsize=64)
def _blur_apply(kernel_bytes: bytes, size: int):
  return _batched(blur_fn(kernel_bytes, size))


def blur(kind: str = "gaussian", *, size=None, sigma=None, length=None,
         angle=0.0, in_shape=None) -> Operator:
  """Deblurring: a same-size depthwise convolution with `blur_kernel(kind,
  ...)`, reflect-padded at the borders."""
  kernel = blur_kernel(kind, size=size, sigma=sigma, length=length,
                       angle=angle)
  return Operator(apply=_blur_apply(kernel.tobytes(), kernel.shape[0]),
                  in_shape=in_shape, linear=True, name=f"{kind} blur",
                  baseline_fn=_observed, display_fn=_show)


# ---------------------------------------------------------------------------
# Config builders: `config.operator.name` picks one; its own block
# (`config.operator.<name>`, absent for an operator without settings) holds
# the builder's keyword arguments, big_vision's Model(**config.model).

OPERATORS: dict[str, Callable[..., Operator]] = {}


def register_operator(name: str):
  def wrap(builder):
    OPERATORS[name] = builder
    return builder
  return wrap


def from_config(op_cfg) -> Operator:
  """The operator `op_cfg.name` built from its block `op_cfg[name]`."""
  name = op_cfg.get("name", "identity")
  if name not in OPERATORS:
    raise InputError(f"unknown operator {name!r}; known: {sorted(OPERATORS)}")
  block = op_cfg.get(name)
  return OPERATORS[name](dict(block) if block is not None else {})


@register_operator("identity")
def _identity_from_config(block) -> Operator:
  del block  # no settings
  return identity()


@register_operator("downsample")
def _downsample_from_config(block) -> Operator:
  """config.operator.downsample: factor (required), kernel."""
  if block.get("factor") is None:
    raise InputError("operator.downsample.factor is required for the "
                     "downsample operator")
  return downsample(**block)


@register_operator("blur")
def _blur_from_config(block) -> Operator:
  """config.operator.blur: kind, sigma / size / length / angle as in
  `blur_kernel`; a config writes size 0 for the kind's default (a
  ConfigDict key cannot hold None and then take an int)."""
  if block.get("size") == 0:
    block = {**block, "size": None}
  return blur(**block)


@register_operator("fourier_ptychography")
def _ptycho_from_config(block) -> Operator:
  """config.operator.fourier_ptychography: the `ptycho.Geometry` fields and
  phase_range (a pair of radians)."""
  from dip_jax.operators import ptycho  # pylint: disable=g-import-not-at-top
  return ptycho.fourier_ptychography(*ptycho.settings_from_block(block))
