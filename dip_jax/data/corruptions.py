"""Seeded synthetic degradations and inpainting masks, for experiments/demos.

Corruptions take the clean image (H x W x C float32 in [0, 1], C = 1 or 3)
and return the corrupted observation; `corrupt` picks one from a config
block. Masks are H x W x 1 float32 arrays of {0, 1} with the DIP convention
1 = known pixel, 0 = missing; `make_mask` picks one from a config block.
Randomness comes from a numpy Generator (or an int seed), so a config and a
seed reproduce the same observation.
"""

import io
import numbers

import numpy as np
from absl import logging
from PIL import Image, ImageDraw, ImageFont

from dip_jax.errors import InputError
from dip_jax.io import images

CORRUPTIONS = ("none", "gaussian", "poisson", "poisson_gaussian", "jpeg")
NOISE_KINDS = ("gaussian", "poisson", "poisson_gaussian")  # save_jpeg applies
MASK_KINDS = ("none", "random", "text", "holes", "file")
DEFAULT_TEXT = ("Quiet pixels remember the picture that the letters tried to "
                "hide, and the network paints it back one stroke at a time. ")
# Masks draw from their own stream (see `make_mask`).
_MASK_STREAM = 0x6D61736B


def _as_rng(rng) -> np.random.Generator:
  if isinstance(rng, np.random.Generator):
    return rng
  return np.random.default_rng(rng)


def _int_in(value, name: str, lo: int, hi=None) -> int:
  """`value` as an int in [lo, hi] (integral floats pass), else InputError."""
  ok = (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        and float(value).is_integer() and value >= lo
        and (hi is None or value <= hi))
  if not ok:
    rng = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
    raise InputError(f"{name} must be an integer {rng}, got {value!r}")
  return int(value)


def _shape_hw(shape_hw) -> tuple[int, int]:
  if len(shape_hw) < 2:
    raise InputError(f"mask shape must be (H, W), got {shape_hw!r}")
  return (_int_in(shape_hw[0], "mask height", 1), _int_in(shape_hw[1], "mask width", 1))


def gaussian_noise(clean: np.ndarray, sigma: float, rng: np.random.Generator,
                   clip: bool = True) -> np.ndarray:
  """Additive white Gaussian noise, sigma on the 0-255 scale, clipped to
  [0, 1] by default as the original code's noisy images are."""
  noisy = clean + rng.normal(0.0, sigma / 255.0, clean.shape).astype(np.float32)
  return np.clip(noisy, 0, 1) if clip else noisy


def _positive(value, name: str) -> float:
  """`value` as a finite float > 0, else a one-line InputError."""
  ok = (isinstance(value, numbers.Real)
        and not isinstance(value, (bool, np.bool_)) and np.isfinite(value)
        and 0 < value <= 1e12)
  if not ok:
    # The top keeps peak * x within what numpy's Poisson sampler takes.
    raise InputError(f"{name} must be a number in (0, 1e12], got {value!r}")
  return float(value)


def poisson_noise(clean: np.ndarray, peak: float, rng: np.random.Generator,
                  sigma: float = 0.0, clip: bool = True) -> np.ndarray:
  """Shot noise: y = Poisson(peak * x) / peak, plus Gaussian read noise of
  std `sigma` on the 0-255 scale (the Poisson-Gaussian model of raw camera
  data; Foi et al., IEEE TIP 2008).

  `peak` is the mean photon count of a white pixel, so E[y] = x and
  Var[y] = x / peak + (sigma / 255)^2: the noise grows with the signal,
  which is what a noise level estimated once for the whole image misses.
  Clipped to [0, 1] by default, like `gaussian_noise` (a sensor saturates);
  the clip biases only pixels within a few stds of 0 or 1.

  Args:
    clean: float image in [0, 1] (any shape).
    peak: photons at white, > 0 (10: very noisy, 100: mild).
    rng: numpy Generator.
    sigma: read-noise std on the 0-255 scale, >= 0.
    clip: clip the result to [0, 1].

  Returns:
    float32 array of clean's shape.
  """
  peak = _positive(peak, "corruption.peak")
  if not (isinstance(sigma, numbers.Real) and np.isfinite(sigma)
          and sigma >= 0):
    raise InputError(f"corruption.sigma must be a finite number >= 0, "
                     f"got {sigma!r}")
  lam = np.clip(np.asarray(clean, np.float64), 0.0, None) * peak
  noisy = rng.poisson(lam) / peak
  if sigma > 0:
    # Drawn after the counts, from the same generator: the Poisson part of
    # a poisson_gaussian image equals the poisson image of the same seed.
    noisy = noisy + rng.normal(0.0, sigma / 255.0, noisy.shape)
  noisy = noisy.astype(np.float32)
  return np.clip(noisy, 0, 1) if clip else noisy


def jpeg(clean: np.ndarray, quality: int) -> np.ndarray:
  """JPEG-compress and decode in memory with Pillow (libjpeg).

  The image is rounded to 8 bits first, as any saved JPEG is. Pillow's
  defaults apply otherwise (4:2:0 chroma subsampling for RGB, no
  optimisation), and libjpeg is deterministic, so the result is too.

  Args:
    clean: H x W or H x W x C (C = 1 or 3) float array in [0, 1].
    quality: JPEG quality 1..95 (Pillow advises against more).

  Returns:
    float32 array of clean's shape in [0, 1].
  """
  quality = _int_in(quality, "jpeg quality", 1, 95)
  clean = np.asarray(clean, np.float32)
  if not (clean.ndim == 2 or (clean.ndim == 3 and clean.shape[-1] in (1, 3))):
    raise InputError(f"jpeg needs a gray or RGB image, got shape {clean.shape}")
  pixels = np.round(np.clip(clean, 0.0, 1.0) * 255.0).astype(np.uint8)
  gray = pixels.ndim == 2 or pixels.shape[-1] == 1
  img = Image.fromarray(pixels.reshape(pixels.shape[:2]) if gray else pixels)
  buf = io.BytesIO()
  img.save(buf, format="JPEG", quality=quality)
  buf.seek(0)
  out = np.asarray(Image.open(buf).convert("L" if gray else "RGB"), np.float32)
  return (out / 255.0).reshape(clean.shape)


def pil_lanczos(clean: np.ndarray, factor: int) -> np.ndarray:
  """The DIP paper's SR data: PIL's antialiased Lanczos resize of the HR
  image by 1/factor, per channel in float, clipped to [0, 1]. It is not the
  operator's A (the DIP code's Lanczos-2 kernel): as in the paper, the fit's
  model is not the one that made its data."""
  h, w = clean.shape[0] // factor, clean.shape[1] // factor
  chans = [np.asarray(Image.fromarray(clean[..., c].astype(np.float32), "F")
                      .resize((w, h), Image.LANCZOS))
           for c in range(clean.shape[2])]
  return np.clip(np.stack(chans, -1), 0, 1)


def random_mask(shape_hw, kept_fraction: float, rng) -> np.ndarray:
  """Each pixel known independently with probability `kept_fraction`.

  Args:
    shape_hw: (H, W).
    kept_fraction: probability in (0, 1] that a pixel is kept (1 in the mask).
    rng: numpy Generator or int seed.

  Returns:
    H x W x 1 float32 {0, 1}; all channels of a pixel share its entry.
  """
  h, w = _shape_hw(shape_hw)
  ok = (isinstance(kept_fraction, numbers.Real)
        and not isinstance(kept_fraction, (bool, np.bool_))
        and 0.0 < kept_fraction <= 1.0)
  if not ok:
    raise InputError(f"kept_fraction must be in (0, 1], got {kept_fraction!r}")
  return (_as_rng(rng).random((h, w, 1)) < kept_fraction).astype(np.float32)


def _font(font_size: int):
  try:
    # Pillow >= 10.1 with FreeType: a scalable built-in font.
    return ImageFont.load_default(size=font_size)
  except (TypeError, ImportError, OSError):
    # Older Pillow or no FreeType: the fixed bitmap font (about 11 px).
    return ImageFont.load_default()


def text_mask(shape_hw, text: str | None = None, font_size: int = 20,
              seed: int = 0) -> np.ndarray:
  """Text written across the whole image, as an inpainting mask.

  Lines of `text` (repeated to fill the width) are stacked 1.5 line heights
  apart; each line starts at a seeded random horizontal offset so the
  repeats do not line up in columns. Anti-aliased glyphs are thresholded at
  half coverage, so the mask stays binary.

  Args:
    shape_hw: (H, W).
    text: the text; DEFAULT_TEXT if None or empty.
    font_size: font size in pixels (ignored by the bitmap fallback font).
    seed: seeds the line offsets.

  Returns:
    H x W x 1 float32 mask, 0 where text covers the pixel, 1 elsewhere.
  """
  h, w = _shape_hw(shape_hw)
  font_size = _int_in(font_size, "font_size", 1)
  text = " ".join(str(text).split()) + " " if text else DEFAULT_TEXT
  font = _font(font_size)
  left, top, right, bottom = font.getbbox(text)
  if right - left <= 0:
    raise InputError(f"text {text!r} draws nothing")
  # Each line holds enough repeats to cover the width from any offset.
  line = text * (w // (right - left) + 2)
  pitch = max(int(round(1.5 * (bottom - top))), 1)
  rng = np.random.default_rng(seed)
  canvas = Image.new("L", (w, h), 0)
  draw = ImageDraw.Draw(canvas)
  y = -top + int(rng.integers(0, pitch))
  while y + top < h:
    x = -int(rng.integers(0, right - left))
    draw.text((x, y), line, fill=255, font=font)
    y += pitch
  ink = np.asarray(canvas) >= 128
  return (~ink).astype(np.float32)[..., None]


def overlay_text(clean: np.ndarray, mask: np.ndarray, color=(1.0, 1.0, 1.0),
                 opacity: float = 1.0) -> np.ndarray:
  """Paint `color` over the masked-out pixels (the observed, texted image).

  out = (1 - a) * clean + a * color with a = opacity where mask == 0, so
  opacity 1 hides the pixels and opacity < 1 gives a see-through watermark.

  Args:
    clean: H x W x C float image.
    mask: H x W x 1 (or H x W) {0, 1}; 0 = covered by text.
    color: a gray level or a C-tuple; an RGB tuple on a gray image uses its
      luma (0.299 R + 0.587 G + 0.114 B).
    opacity: in (0, 1].

  Returns:
    float32 image of clean's shape.
  """
  clean = np.asarray(clean, np.float32)
  mask = np.asarray(mask, np.float32)
  if mask.ndim == 2:
    mask = mask[..., None]
  if clean.ndim != 3 or mask.shape[:2] != clean.shape[:2]:
    raise InputError(f"overlay_text needs an H x W x C image and an H x W mask; "
                     f"got {clean.shape} and {mask.shape}")
  if not (isinstance(opacity, numbers.Real) and 0.0 < opacity <= 1.0):
    raise InputError(f"opacity must be in (0, 1], got {opacity!r}")
  color = np.atleast_1d(np.asarray(color, np.float32))
  if clean.shape[-1] == 1 and color.size == 3:
    color = np.array([color @ np.array([0.299, 0.587, 0.114], np.float32)])
  if color.size not in (1, clean.shape[-1]):
    raise InputError(f"color needs 1 or {clean.shape[-1]} values, got {color.size}")
  a = opacity * (1.0 - mask)
  return ((1.0 - a) * clean + a * color).astype(np.float32)


def holes_mask(shape_hw, num_holes: int, hole_size, rng) -> np.ndarray:
  """Rectangular holes at uniform random positions, fully inside the image.

  Args:
    shape_hw: (H, W).
    num_holes: number of holes (they may overlap).
    hole_size: side of the square holes, or (height, width).
    rng: numpy Generator or int seed.

  Returns:
    H x W x 1 float32 mask, 0 inside the holes, 1 elsewhere.
  """
  h, w = _shape_hw(shape_hw)
  num_holes = _int_in(num_holes, "num_holes", 1)
  sizes = hole_size if isinstance(hole_size, (tuple, list)) else (hole_size,) * 2
  if len(sizes) != 2:
    raise InputError(f"hole_size must be an int or (height, width), got {hole_size!r}")
  hh = _int_in(sizes[0], "hole height", 1, h)
  hw = _int_in(sizes[1], "hole width", 1, w)
  rng = _as_rng(rng)
  mask = np.ones((h, w, 1), np.float32)
  for _ in range(num_holes):
    top, left = int(rng.integers(0, h - hh + 1)), int(rng.integers(0, w - hw + 1))
    mask[top:top + hh, left:left + hw] = 0.0
  return mask


def load_mask(path, shape_hw) -> np.ndarray:
  """Read a binary mask image; white (or 1) = known pixel, as in DIP.

  The file goes through `images.load_image` (regular files only, the size
  checked from the header before decoding). Values must be {0, 1} or near
  {0, 255} (16-bit files are scaled to 8 bits): <= 8 reads as 0 and >= 247
  as 1, which tolerates lossy saves. Anything in between is refused, not
  thresholded: a gray mask is more likely the wrong file than a mask. A
  colour mask is refused unless its channels agree (a gray mask saved as
  RGB); alpha is ignored. A mask that marks no pixel as known is refused
  (there is nothing to fit); one that marks every pixel works (nothing is
  inpainted) and is logged.

  Args:
    path: image file.
    shape_hw: (H, W) of the image it masks; the mask must match it.

  Returns:
    H x W x 1 float32 {0, 1}.
  """
  h, w = _shape_hw(shape_hw)
  loaded = images.load_image(path, max_pixels=h * w, what="mask",
                             expect_hw=(h, w))
  for note in loaded.notes:
    logging.info("mask: %s", note)
  peak = 65535 if loaded.bit_depth == 16 else 255
  raw = np.round(loaded.pixels * peak)
  if raw.max() <= 1:  # a 0/1 file
    levels = raw * 255
  else:
    levels = np.round(raw * (255 / peak))
  if levels.shape[-1] == 3 and np.ptp(levels, axis=-1).max() > 8:
    raise InputError(f"mask {path} is in colour (its channels differ); use a "
                     f"black-and-white image, white = known pixel")
  gray = np.round(levels.mean(axis=-1)).astype(np.int64)
  values = np.unique(gray)
  bad = values[(values > 8) & (values < 247)]
  if bad.size:
    shown = ", ".join(str(v) for v in bad[:6]) + (", ..." if bad.size > 6 else "")
    raise InputError(f"mask {path} is not binary: found values {shown} "
                     f"(expected 0/255 or 0/1)")
  known = gray >= 247
  if not known.any():
    raise InputError(f"mask {path} marks no pixel as known (it is all black); "
                     f"white = known pixel")
  if known.all():
    logging.warning("mask %s marks every pixel as known: nothing to inpaint",
                    path)
  return known.astype(np.float32)[..., None]


def corrupt(clean: np.ndarray, corruption_cfg, seed: int) -> np.ndarray:
  """The observation for `corruption_cfg.kind` (keys: sigma, peak, clip,
  quality, save_jpeg; see `base_config`): none | gaussian | poisson |
  poisson_gaussian | jpeg. With save_jpeg = Q > 0 a noise kind's image is
  then JPEG-compressed at quality Q (`jpeg`), as a saved photo is."""
  kind = corruption_cfg.get("kind", "gaussian")
  rng = np.random.default_rng(seed)
  save_jpeg = corruption_cfg.get("save_jpeg", 0)
  if save_jpeg:
    # Checked before the noise is drawn: one line, not a traceback later.
    if kind not in NOISE_KINDS:
      raise InputError(f"corruption.save_jpeg ({save_jpeg}) applies to the "
                       f"noise kinds {NOISE_KINDS}, not to kind {kind!r}")
    _int_in(save_jpeg, "corruption.save_jpeg (a JPEG quality, 0 = none)", 1, 95)
  if kind == "none":
    return clean
  if kind == "gaussian":
    sigma = float(corruption_cfg.sigma)
    if not np.isfinite(sigma) or sigma < 0:
      raise InputError(f"corruption.sigma must be a finite number >= 0, got {sigma}")
    noisy = gaussian_noise(clean, sigma, rng, corruption_cfg.get("clip", True))
  elif kind in ("poisson", "poisson_gaussian"):
    # poisson ignores sigma (the config's default sigma is the gaussian
    # kind's 25, not a read noise anyone asked for).
    sigma = corruption_cfg.get("sigma", 0.0) if kind == "poisson_gaussian" else 0.0
    noisy = poisson_noise(clean, corruption_cfg.get("peak", 30.0), rng,
                          sigma, corruption_cfg.get("clip", True))
  elif kind == "jpeg":
    return jpeg(clean, corruption_cfg.get("quality", 10))
  else:
    raise InputError(f"unknown corruption.kind {kind!r}; known: {CORRUPTIONS}")
  # A noisy photo as a camera or a phone stores it: the codec removes part
  # of the fine-scale noise and leaves blocks, so the noise is neither
  # white nor of the level that was drawn.
  return jpeg(noisy, save_jpeg) if save_jpeg else noisy


def make_mask(mask_cfg, shape_hw, seed: int) -> np.ndarray | None:
  """The inpainting mask for `mask_cfg.kind`, or None for kind "none".

  Kinds and keys: "random" (kept_fraction, default 0.5), "text" (font_size,
  default 20; text, default DEFAULT_TEXT), "holes" (num_holes, default 8;
  hole_size, default 16), "file" (path).

  The random kinds draw from default_rng([seed, _MASK_STREAM]) rather than
  default_rng(seed), so a mask and the noise `corrupt` adds with the same
  seed come from unrelated streams.
  """
  kind = mask_cfg.get("kind", "none")
  rng = np.random.default_rng([int(seed), _MASK_STREAM])
  if kind == "none":
    return None
  if kind == "random":
    return random_mask(shape_hw, mask_cfg.get("kept_fraction", 0.5), rng)
  if kind == "text":
    return text_mask(shape_hw, mask_cfg.get("text", None),
                     mask_cfg.get("font_size", 20), int(rng.integers(2**31)))
  if kind == "holes":
    return holes_mask(shape_hw, mask_cfg.get("num_holes", 8),
                      mask_cfg.get("hole_size", 16), rng)
  if kind == "file":
    path = mask_cfg.get("path", "")
    if not path:
      raise InputError("mask.path is required for mask.kind 'file'")
    return load_mask(path, shape_hw)
  raise InputError(f"unknown mask.kind {kind!r}; known: {MASK_KINDS}")
