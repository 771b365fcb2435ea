"""Images at the edges: load, save, channels, bit depth, canvas padding.

Inside dip_jax an image is float32 H x W x C in [0, 1] with C = 1 (gray) or 3
(RGB). Alpha is split off on load and passed through untouched; 16-bit files
keep their precision on the way in and are written back as 16-bit.
"""

import dataclasses
import io
import os
from importlib import resources

import numpy as np
from PIL import Image, UnidentifiedImageError

from dip_jax import png16
from dip_jax.errors import InputError

SAMPLE_NAME = "astronaut_256.png"


@dataclasses.dataclass
class LoadedImage:
  pixels: np.ndarray          # float32 H x W x C in [0, 1], C in {1, 3}
  alpha: np.ndarray | None    # float32 H x W in [0, 1], or None
  bit_depth: int              # 8 or 16, for writing results back alike
  path: str


def load_image(path: str) -> LoadedImage:
  """Reads a PNG/JPEG/… file; raises InputError with one clear line."""
  if not os.path.exists(path):
    raise InputError(f"image file not found: {path}")
  if os.path.isdir(path):
    raise InputError(f"image path is a directory, not a file: {path}")
  try:
    raw16 = png16.read_png16(path)
  except ValueError as e:
    raise InputError(f"cannot read image {path}: {e}") from None
  if raw16 is not None:
    arr, depth = raw16.astype(np.float32) / 65535.0, 16
  else:
    arr, depth = _load_with_pillow(path)
  if arr.shape[0] == 0 or arr.shape[1] == 0:
    raise InputError(f"image {path} has zero size ({arr.shape[1]}x{arr.shape[0]})")
  pixels, alpha = split_alpha(arr)
  return LoadedImage(pixels, alpha, depth, path)


def _load_with_pillow(path):
  try:
    with Image.open(path) as im:
      im.load()
      mode = im.mode
      if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale (Pillow's "I" holds PNG I;16 after load).
        arr = np.asarray(im, dtype=np.float32)[..., None]
        return np.clip(arr / 65535.0, 0, 1), 16
      if mode == "F":
        raise InputError(f"image {path} is floating point; save it as an "
                         f"8- or 16-bit PNG")
      target = {"1": "L", "L": "L", "LA": "LA", "RGB": "RGB",
                "RGBA": "RGBA"}.get(mode, "RGBA" if "A" in mode or
                                    "transparency" in im.info else "RGB")
      if mode == "P":
        target = "RGBA" if "transparency" in im.info else "RGB"
      arr = np.asarray(im.convert(target), dtype=np.float32) / 255.0
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
    raise InputError(f"cannot read image {path}: not an image file or "
                     f"corrupt ({type(e).__name__})") from None
  if arr.ndim == 2:
    arr = arr[..., None]
  return arr, 8


def split_alpha(arr: np.ndarray):
  """H x W x {1,2,3,4} -> (H x W x {1,3}, alpha or None)."""
  c = arr.shape[-1]
  if c in (2, 4):
    return np.ascontiguousarray(arr[..., :-1]), arr[..., -1]
  if c in (1, 3):
    return arr, None
  raise InputError(f"unsupported channel count {c}")


def sample_image(size: int = 256) -> np.ndarray:
  """The built-in test photo (NASA astronaut portrait, public domain, as
  shipped with scikit-image), RGB float32, resized to size x size."""
  data = resources.files("dip_jax").joinpath("assets", SAMPLE_NAME).read_bytes()
  with Image.open(io.BytesIO(data)) as im:
    im = im.convert("RGB")
    if im.size != (size, size):
      im = im.resize((size, size), Image.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255.0


def to_uint(x: np.ndarray, bit_depth: int = 8) -> np.ndarray:
  peak = 65535 if bit_depth == 16 else 255
  dtype = np.uint16 if bit_depth == 16 else np.uint8
  return np.round(np.clip(x, 0.0, 1.0) * peak).astype(dtype)


def save_image(path: str, x: np.ndarray, alpha: np.ndarray | None = None,
               bit_depth: int = 8) -> None:
  """Writes a float image (H x W x {1,3}) atomically, alpha appended if given."""
  x = np.asarray(x, np.float32)
  if x.ndim == 2:
    x = x[..., None]
  if alpha is not None:
    x = np.concatenate([x, np.asarray(alpha, np.float32)[..., None]], -1)
  tmp = f"{path}.tmp-{os.getpid()}"
  if bit_depth == 16 and path.lower().endswith(".png"):
    png16.write_png16(tmp, to_uint(x, 16))
  else:
    arr = to_uint(x, 8)
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(
        tmp, format=_format_of(path))
  os.replace(tmp, path)


def _format_of(path):
  ext = os.path.splitext(path)[1].lower()
  return {".jpg": "JPEG", ".jpeg": "JPEG"}.get(ext, "PNG")


def canvas_padding(h: int, w: int, multiple: int, minimum: int = 0):
  """Per-side (top, bottom, left, right) padding to the next multiple.

  The canvas is also at least `minimum` on each side, so the deepest level of
  an encoder-decoder still has a map large enough for its 3x3 convolutions.
  """
  def split(n):
    target = max(-(-n // multiple) * multiple, minimum)
    extra = target - n
    return extra // 2, extra - extra // 2

  return (*split(h), *split(w))


def pad_canvas(x: np.ndarray, padding) -> np.ndarray:
  """Reflect-pads H x W x C by `padding` (edge mode for 1-pixel-wide images,
  which have nothing to reflect)."""
  t, b, l, r = padding
  mode = "reflect" if min(x.shape[:2]) > 1 else "edge"
  return np.pad(x, ((t, b), (l, r), (0, 0)), mode=mode)


def crop_canvas(x, padding, h: int, w: int):
  """Inverse of `pad_canvas` on the two spatial axes just before channels."""
  t, _, l, _ = padding
  return x[..., t:t + h, l:l + w, :]
