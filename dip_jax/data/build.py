"""A config -> Problem, in two stages: the source (an image file, clean or
already corrupted, or the built-in sample) and the task (operator, mask,
synthetic corruption). Every task therefore runs on a fresh install, and the
same task runs on a user's real corrupted photo with `corrupted=True`.

Tasks that are not "an image through an operator" (ptychography, the
classifier tasks) have their own builders in `dip_jax.data.tasks`. The
operator says what x's shape is for a y (`Operator.input_shape`) and which
multiple a clean image's sides must be (`Operator.size_multiple`).
"""

import os

import jax.numpy as jnp
import numpy as np

from dip_jax import operators
from dip_jax import problem as problem_lib
from dip_jax.data import corruptions
from dip_jax.data import sources
from dip_jax.data import tasks
from dip_jax.errors import InputError
from dip_jax.io import images


def build_problem(config) -> problem_lib.Problem:
  """Loads or synthesises the observation named by `config`: the task's own
  builder (`tasks.builder`) when it has one, else the image pipeline."""
  build = tasks.builder(config.task)
  if build is not None:
    return build(config)
  # Built once here and carried by the Problem; validates its config block.
  op = operators.from_config(config.operator)
  multiple = op.size_multiple
  src = sources.load_source(config)
  given, alpha, depth, source = src.pixels, src.alpha, src.bit_depth, src.source
  notes, full_hw = list(src.notes), src.full_hw

  if config.image and config.corrupted:
    # Real-world input: the file is the observation.
    observed, clean = given, None
    if config.clean_image:
      clean = sources.load(config.clean_image, config)[0].pixels
    h, w = op.input_shape(observed)[:2]
    if clean is not None and clean.shape[:2] != (h, w):
      raise InputError(
          f"clean_image {config.clean_image} is {sources.describe(clean)} but the "
          f"reconstruction of {config.image} will be {w}x{h}")
    mask = _make_mask(config, observed.shape[:2], full_hw)
  else:
    clean = given
    if multiple > 1:
      clean, alpha, cropped = _mod_crop(clean, alpha, multiple)
      if cropped:
        notes.append(f"mod-cropped the clean image to {cropped} (multiples of "
                     f"the factor {multiple})")
    observed, mask = _synthesize(config, op, clean, full_hw)

  if not np.all(np.isfinite(observed)):
    raise InputError(f"the observed image from {source} has non-finite values")
  out_shape = op.input_shape(observed)
  net_input = None
  if config.input.kind == "image":
    net_input = (_guide_image(config, out_shape) if config.input.image
                 else _synthetic_flash(clean, config))
  return problem_lib.Problem(observed=observed.astype(np.float32), clean=clean, mask=mask,
                 out_shape=out_shape, operator=op, objective=config.loss,
                 alpha=alpha if out_shape[:2] == observed.shape[:2] else None, bit_depth=depth,
                 source=source, net_input=net_input, notes=tuple(notes))


def shape_problem(config) -> problem_lib.Problem | None:
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
  multiple = op.size_multiple
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
      clean = _constant(op.input_shape(_constant((h, w, c))))
  else:
    h, w = h - h % multiple, w - w % multiple
    if h == 0 or w == 0:
      return None
    clean = _constant((h, w, c))
    spec = op.out_spec((h, w, c))
    if not hasattr(spec, "shape") or len(spec.shape) != 4:
      return None
    observed_shape = tuple(spec.shape[1:])
  mask = (None if config.mask.get("kind", "none") == "none"
          else _constant((*observed_shape[:2], 1), 1.0))
  out_shape = op.input_shape(_constant(observed_shape))
  return problem_lib.Problem(observed=_constant(observed_shape), clean=clean, mask=mask,
                 out_shape=out_shape, operator=op, objective=config.loss,
                 source=os.path.abspath(config.image))


def _constant(shape, value=0.5):
  """A float32 array of `shape` holding `value` everywhere, in 4 bytes."""
  return np.broadcast_to(np.float32(value), shape)


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
    observed = corruptions.pil_lanczos(clean, op.factor)
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
  """x and its alpha cropped to multiples of `factor`, and the new size
  (or None when nothing was cropped)."""
  h, w = x.shape[0] - x.shape[0] % factor, x.shape[1] - x.shape[1] % factor
  if h == 0 or w == 0:
    raise InputError(f"image {sources.describe(x)} is smaller than the factor {factor}")
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
  guide = sources.load(config.input.image, config)[0].pixels
  if guide.shape[:2] != out_shape[:2]:
    raise InputError(f"input.image {config.input.image} is {sources.describe(guide)} "
                     f"but the image is {out_shape[1]}x{out_shape[0]}")
  return guide


