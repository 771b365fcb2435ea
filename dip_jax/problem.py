"""The Problem record: what is observed, through which operator, and what
the reconstruction is scored against (when a clean image is known).

Built from a config in two stages: the source (an image file, clean or
already corrupted, or the built-in sample) and the task (operator, mask,
synthetic corruption). Every task therefore runs on a fresh install, and
the same task runs on a user's real corrupted photo with `corrupted=True`.
"""

import dataclasses
import functools
import os
from typing import Any

import jax.numpy as jnp
import numpy as np

from dip_jax import corruptions
from dip_jax import images
from dip_jax import operators
from dip_jax import tasks
from dip_jax.errors import InputError

@dataclasses.dataclass
class Problem:
  """y = A(x) (+ noise) or an objective alone, and how x is scored.

  `observed` is y in the operator's measurement space (an H' x W' x C image,
  a pytree of arrays, or None when the objective needs no observation);
  `mask` is the objective's weights (1 = observed), by default the
  operator's own (`operators.inpainting(mask)`).
  """
  observed: Any                   # y (H' x W' x C, pytree, or None)
  clean: np.ndarray | None        # ground truth for scoring, if known
  mask: np.ndarray | None         # H x W x 1 weights, 1 = observed pixel
  out_shape: tuple                # shape of the reconstruction (H, W, C)
  operator: operators.Operator | None = None  # A; None = identity
  objective: Any = "mse"          # objectives.get(...): name or function
  alpha: np.ndarray | None = None  # passed through to the outputs
  bit_depth: int = 8
  source: str = "built-in sample"
  net_input: np.ndarray | None = None  # a fixed image as z (flash/no-flash)
  notes: tuple = ()               # things the log should tell the user

  def __post_init__(self):
    if self.operator is None:
      self.operator = operators.identity()
    # One set of weights for the objective, the display and the baseline:
    # the Problem's own mask wins over the operator's default.
    if self.mask is None:
      self.mask = self.operator.weights
    elif self.operator.weights is not self.mask:
      self.operator = dataclasses.replace(self.operator, weights=self.mask)
    if self.mask is not None and not _any_positive(self.mask):
      # The objective would be 0 for every x: a fit that "converges" to
      # whatever the net starts with.
      raise InputError("the mask observes no pixel (all weights are 0); "
                       "nothing to reconstruct from")

  @functools.cached_property
  def image_measurement(self) -> bool:
    """True when y is one real image the shape of A x (PSNR to y exists)."""
    if not (isinstance(self.observed, np.ndarray) and self.observed.ndim == 3
            and not np.iscomplexobj(self.observed)):
      return False
    # y may be image-shaped while A x is not comparable with it (intensities
    # of complex fields): ask the operator what it gives.
    ax = self.operator.out_spec(self.out_shape)
    return (hasattr(ax, "shape") and tuple(ax.shape[1:]) == self.observed.shape
            and not jnp.issubdtype(ax.dtype, jnp.complexfloating))

  def observed_for_display(self):
    """The observation as a picture (an image with its missing pixels
    neutral, a ptychography stack's bright-field image), or None when the
    operator has no picture of it."""
    if self.observed is None:
      return None
    return self.operator.display(self.observed)


def build_problem(config) -> Problem:
  """Loads or synthesises the observation named by `config`: the task's own
  builder (`tasks.builder`) when it has one, else the image pipeline."""
  build = tasks.builder(config.task)
  if build is not None:
    return build(config)
  # Built once here and carried by the Problem; validates its config block.
  op = operators.from_config(config.operator)
  factor = getattr(op, "factor", 1)
  src = load_source(config)
  given, alpha, depth, source = src.pixels, src.alpha, src.bit_depth, src.source
  notes, full_hw = list(src.notes), src.full_hw

  if config.image and config.corrupted:
    # Real-world input: the file is the observation.
    observed, clean = given, None
    if config.clean_image:
      clean = _load(config.clean_image, config)[0].pixels
    h, w = observed.shape[0] * factor, observed.shape[1] * factor
    if clean is not None and clean.shape[:2] != (h, w):
      raise InputError(
          f"clean_image {config.clean_image} is {_describe(clean)} but the "
          f"reconstruction of {config.image} will be {w}x{h}")
    mask = _make_mask(config, observed.shape[:2], full_hw)
  else:
    clean = given
    if factor > 1:
      clean, alpha, cropped = _mod_crop(clean, alpha, factor)
      if cropped:
        notes.append(f"mod-cropped the clean image to {cropped} (multiples of "
                     f"the factor {factor})")
    observed, mask = _synthesize(config, op, clean, full_hw)

  if not np.all(np.isfinite(observed)):
    raise InputError(f"the observed image from {source} has non-finite values")
  out_shape = (observed.shape[0] * factor, observed.shape[1] * factor,
               observed.shape[2])
  net_input = None
  if config.input.kind == "image":
    net_input = (_guide_image(config, out_shape) if config.input.image
                 else _synthetic_flash(clean, config))
  return Problem(observed=observed.astype(np.float32), clean=clean, mask=mask,
                 out_shape=out_shape, operator=op, objective=config.loss,
                 alpha=alpha if factor == 1 else None, bit_depth=depth,
                 source=source, net_input=net_input, notes=tuple(notes))


def shape_problem(config) -> Problem | None:
  """The Problem `build_problem(config)` would give, from the image file's
  header alone: the same shapes and operator, every array a constant held
  as one number (a zero-stride numpy view), so a method's checks and the
  fit's memory budget run before a pixel is decoded.

  Returns:
    The stand-in Problem, or None where the observation does not come from
    `config.image` through the image pipeline (a task's own builder, the
    built-in sample), where the net's input is an image (it would be padded
    and copied at full size), or where the image's own checks will refuse
    it (a center_crop larger than the image, a pixel mode dip_jax does not
    read): `build_problem` then says why.

  Raises:
    InputError: the file's own problems (not a regular file, not an image,
      over config.max_pixels), from its header.
  """
  if tasks.builder(config.task) is not None or not config.image:
    return None
  if config.input.kind == "image":
    return None
  op = operators.from_config(config.operator)
  factor = getattr(op, "factor", 1)
  shape = images.read_shape(config.image, max_pixels=int(config.max_pixels))
  if shape is None:
    return None
  h, w, c = shape
  if config.center_crop:
    if not 1 <= int(config.center_crop) <= min(h, w):
      return None
    h = w = int(config.center_crop)
  clean = None
  if config.corrupted:
    observed_shape = (h, w, c)
    if config.clean_image:
      clean = _constant((h * factor, w * factor, c))
  else:
    h, w = h - h % factor, w - w % factor
    if h == 0 or w == 0:
      return None
    clean = _constant((h, w, c))
    spec = op.out_spec((h, w, c))
    if not hasattr(spec, "shape") or len(spec.shape) != 4:
      return None
    observed_shape = tuple(spec.shape[1:])
  mask = (None if config.mask.get("kind", "none") == "none"
          else _constant((*observed_shape[:2], 1), 1.0))
  out_shape = (observed_shape[0] * factor, observed_shape[1] * factor,
               observed_shape[2])
  return Problem(observed=_constant(observed_shape), clean=clean, mask=mask,
                 out_shape=out_shape, operator=op, objective=config.loss,
                 source=os.path.abspath(config.image))


def _constant(shape, value=0.5):
  """A float32 array of `shape` holding `value` everywhere, in 4 bytes."""
  return np.broadcast_to(np.float32(value), shape)


def _any_positive(a) -> bool:
  """np.any(a > 0), without a full-size comparison for a constant view."""
  a = np.asarray(a)
  if a.size and not any(a.strides):
    return bool(a.flat[0] > 0)
  return bool(np.any(a > 0))


@dataclasses.dataclass(frozen=True)
class Source:
  """The image a task starts from (`config.image` or the built-in sample)."""
  pixels: np.ndarray
  alpha: np.ndarray | None = None
  bit_depth: int = 8
  source: str = "built-in sample"
  notes: tuple = ()
  full_hw: tuple | None = None  # its size before center_crop (masks match it)


def load_source(config) -> Source:
  """`config.image` (cropped by `center_crop`) or the built-in sample."""
  if config.image:
    loaded, full_hw = _load(config.image, config)
    return Source(loaded.pixels, loaded.alpha, loaded.bit_depth,
                  os.path.abspath(config.image), tuple(loaded.notes), full_hw)
  if config.corrupted or config.clean_image:
    raise InputError("corrupted/clean_image need config.image to be set")
  if config.sample_size < 1:
    raise InputError(f"sample_size must be >= 1, got {config.sample_size}")
  return Source(images.sample_image(int(config.sample_size)))


def _make_mask(config, shape_hw, full_hw):
  """The task's mask; a mask file is read at the image's full size and
  cropped like the image when center_crop is set."""
  if config.mask.kind == "file" and full_hw is not None:
    full = corruptions.load_mask(config.mask.path, full_hw)
    t, l = (full_hw[0] - shape_hw[0]) // 2, (full_hw[1] - shape_hw[1]) // 2
    return full[t:t + shape_hw[0], l:l + shape_hw[1]]
  return corruptions.make_mask(config.mask, shape_hw, config.seed)


def _synthesize(config, op, clean, full_hw=None):
  """The task's synthetic observation of `clean`: operator, noise, mask."""
  op_name = config.operator.name
  if config.corruption.kind == "pil_lanczos":
    if not isinstance(op, operators.Downsample):
      raise InputError("corruption.kind 'pil_lanczos' needs the downsample "
                       "operator")
    observed = op.synthesize_pil(clean)
  elif op_name != "identity":
    observed = np.asarray(op(jnp.asarray(clean)[None]))[0]
  else:
    observed = clean
  if config.corruption.kind not in ("none", "pil_lanczos"):
    observed = corruptions.corrupt(observed, config.corruption, config.seed)
  mask = _make_mask(config, observed.shape[:2], full_hw)
  if mask is not None and config.mask.kind == "text":
    observed = corruptions.overlay_text(observed, mask,
                                        opacity=config.mask.opacity)
  return observed, mask


def _mod_crop(x, alpha, factor):
  h, w = x.shape[0] - x.shape[0] % factor, x.shape[1] - x.shape[1] % factor
  if h == 0 or w == 0:
    raise InputError(f"image {_describe(x)} is smaller than the factor {factor}")
  if (h, w) == x.shape[:2]:
    return x, alpha, None
  return (x[:h, :w], None if alpha is None else alpha[:h, :w], f"{w}x{h}")


def _synthetic_flash(clean, config):
  """A stand-in flash photo of the built-in image: the same scene (all its
  detail, no noise) under other light, a cooler cast and a falloff from the
  centre, as a flash gives. Used only when no flash photo is given."""
  if config.image or clean is None:
    raise InputError("input.kind 'image' needs input.image (the flash photo)")
  h, w = clean.shape[:2]
  yy, xx = np.mgrid[0:h, 0:w]
  r2 = ((yy - h / 2) / h) ** 2 + ((xx - w / 2) / w) ** 2
  falloff = (1.0 - 0.8 * r2)[..., None]
  cast = np.array([0.85, 0.95, 1.15], np.float32)[:clean.shape[2]]
  return np.clip(clean ** 0.8 * cast * falloff, 0, 1).astype(np.float32)


def _guide_image(config, out_shape):
  """The fixed image used as net input (the flash photo for flash/no-flash)."""
  guide = _load(config.input.image, config)[0].pixels
  if guide.shape[:2] != out_shape[:2]:
    raise InputError(f"input.image {config.input.image} is {_describe(guide)} "
                     f"but the image is {out_shape[1]}x{out_shape[0]}")
  return guide


def _load(path, config):
  """(image, its size before center_crop or None when not cropped)."""
  loaded = images.load_image(path, max_pixels=int(config.max_pixels))
  if not config.center_crop:
    return loaded, None
  return (_center_crop(loaded, int(config.center_crop)),
          loaded.pixels.shape[:2])


def _center_crop(loaded, size):
  h, w = loaded.pixels.shape[:2]
  if size > min(h, w) or size < 1:
    raise InputError(f"center_crop={size} does not fit image {loaded.path} "
                     f"({w}x{h})")
  t, l = (h - size) // 2, (w - size) // 2
  crop = lambda a: None if a is None else a[t:t + size, l:l + size]
  return dataclasses.replace(loaded, pixels=crop(loaded.pixels),
                             alpha=crop(loaded.alpha))


def _describe(x):
  return f"{x.shape[1]}x{x.shape[0]}x{x.shape[2]}"
