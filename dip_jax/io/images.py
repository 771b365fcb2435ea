"""Images at the edges: load, save, channels, bit depth, canvas padding.

Inside dip_jax an image is float32 H x W x C in [0, 1] with C = 1 (gray) or 3
(RGB). Alpha is split off on load and passed through untouched; 16-bit PNGs
keep their precision on the way in and are written back as 16-bit.

The path comes from the user, so reading is defensive. Only regular files
are opened (a FIFO would block and /dev/zero never ends), and the size in
the header is checked against one pixel limit (`config.max_pixels`) before
any pixel is decoded, whichever decoder runs. Pillow reads every format but
reduces 16-bit colour PNGs to 8 bits per channel, so 16-bit PNGs (gray or
colour, with or without alpha) go to pypng instead.
"""

import contextlib
import dataclasses
import io
import os
import stat
import struct
import zlib
from importlib import resources

import numpy as np
import png
from PIL import Image, ImageOps, UnidentifiedImageError

from dip_jax.errors import InputError

SAMPLE_NAME = "astronaut_256.png"
# config.max_pixels. A 10000 x 10000 photo passes (the data sets' images are
# under 3 MP); a 30000 x 30000 bomb, small on disk, does not.
DEFAULT_MAX_PIXELS = 100_000_000
# Pillow checks sizes itself inside Image.open: a warning above this, an
# error above twice it. Our reader turns that check off and applies its own
# limit (its message names the config key); other Pillow users in the process
# get the same limit instead of Pillow's 89.5 MP.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_ORIENTATION = 0x0112
# Pillow mode -> the mode we convert to; alpha is kept as a last channel.
_TARGET_MODE = {"1": "L", "L": "L", "LA": "LA", "La": "LA", "PA": "RGBA",
                "RGBA": "RGBA", "RGBa": "RGBA", "RGB": "RGB", "RGBX": "RGB",
                "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "CMYK": "RGB"}
_16BIT_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


@dataclasses.dataclass
class LoadedImage:
  pixels: np.ndarray          # float32 H x W x C in [0, 1], C in {1, 3}
  alpha: np.ndarray | None    # float32 H x W in [0, 1], or None
  bit_depth: int              # 8 or 16, for writing results back alike
  path: str
  notes: tuple = ()           # what the reader did that the user should know


def load_image(path, max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "image",
               expect_hw=None) -> LoadedImage:
  """Reads a PNG/JPEG/TIFF/GIF/... file.

  Args:
    path: the file; it must be a regular file.
    max_pixels: refuse images with more pixels than this (from the header).
    what: the word for the file in error messages ("image", "mask").
    expect_hw: (H, W) the image must have (checked from the header too).

  Returns:
    The pixels and alpha; `notes` says when only the first frame of an
    animation was used, an EXIF orientation was applied, or colours were
    converted.

  Raises:
    InputError: one line naming the file and the problem.
  """
  path = os.fspath(path)
  with _open_regular_file(path, what) as f:
    head, png_header = _read_head(f)
    if png_header:
      width, height, _ = png_header
      _check_size(what, path, (height, width), max_pixels,
                  _unless_turned((height, width), expect_hw))
    if png_header and png_header[2] == 16:
      arr, depth, notes = _read_png16(f, what, path), 16, ()
    else:
      arr, depth, notes = _read_with_pillow(f, what, path, max_pixels,
                                            expect_hw)
  # The header checks left a 90-degree turn to the EXIF orientation; a
  # file without one still has to match.
  _check_size(what, path, arr.shape[:2], max_pixels, expect_hw)
  if max_pixels > (Image.MAX_IMAGE_PIXELS or max_pixels):
    # Later Pillow calls on an image this size (the JPEG corruption's round
    # trip) must not trip Pillow's own, lower limit.
    Image.MAX_IMAGE_PIXELS = max_pixels
  pixels, alpha = split_alpha(arr)
  return LoadedImage(pixels, alpha, depth, path, tuple(notes))


def _read_head(f):
  """The file's first 26 bytes (a PNG's signature and IHDR) and its PNG
  header if it is one; the file is left at its start."""
  head = f.read(26)
  f.seek(0)
  return head, _png_header(head)


def read_shape(path, max_pixels: int = DEFAULT_MAX_PIXELS,
               what: str = "image") -> tuple | None:
  """(H, W, C) of an image file as `load_image` would return its pixels,
  from the header alone: no pixel is decoded, so a 10000 x 10000 photo
  costs what its header costs. The same file and pixel-limit checks as
  `load_image` run here.

  Args:
    path: the file.
    max_pixels: refuse images with more pixels than this.
    what: the word for the file in error messages.

  Returns:
    (H, W, C) with C in {1, 3} (alpha not counted), upright after an EXIF
    orientation where the header holds one (a PNG's eXIf chunk after its
    image data is not looked for); None for a pixel mode `load_image`
    refuses (it says why when it reads the file).

  Raises:
    InputError: one line naming the file and the problem.
  """
  path = os.fspath(path)
  with _open_regular_file(path, what) as f:
    head, png_header = _read_head(f)
    if png_header and png_header[2] == 16:
      width, height, _ = png_header
      _check_size(what, path, (height, width), max_pixels)
      # IHDR's colour type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA.
      return height, width, 1 if head[25] in (0, 4) else 3
    with _read_errors(what, path), _pillow_size_check_off(), \
         Image.open(f) as im:
      w, h = im.size
      _check_size(what, path, (h, w), max_pixels)
      # A PNG's getexif decodes it unless the eXIf chunk came first.
      exif = (im.getexif() if im.format != "PNG" or "exif" in im.info
              else {})
      if exif.get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
        h, w = w, h
      mode = im.mode
  if mode in _16BIT_GRAY_MODES or mode == "I":
    return h, w, 1
  if mode == "P":
    return h, w, 3
  if mode not in _TARGET_MODE:
    return None
  return h, w, 1 if _TARGET_MODE[mode] in ("L", "LA") else 3


def _cannot_read(what, path, reason):
  return InputError(f"cannot read {what} {path}: {reason}")


def _open_regular_file(path, what):
  """Opens `path` for reading, refusing anything but a non-empty regular file.

  O_NONBLOCK makes opening a FIFO return at once instead of waiting for a
  writer; fstat on the open descriptor then tells what it is, with no race
  between the check and the open. Regular files ignore the flag.
  """
  try:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
  except FileNotFoundError:
    raise _cannot_read(what, path, f"{what} file not found") from None
  except PermissionError:
    raise _cannot_read(what, path, "permission denied") from None
  except OSError as e:
    raise _cannot_read(what, path, e.strerror or type(e).__name__) from None
  info = os.fstat(fd)
  problem = None
  if stat.S_ISDIR(info.st_mode):
    problem = "it is a directory, not a file"
  elif not stat.S_ISREG(info.st_mode):
    kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else
            "a character device" if stat.S_ISCHR(info.st_mode) else
            "a block device" if stat.S_ISBLK(info.st_mode) else
            "a socket" if stat.S_ISSOCK(info.st_mode) else "special")
    problem = f"it is {kind}, not a regular file"
  elif info.st_size == 0:
    problem = "the file is empty"
  if problem:
    os.close(fd)
    raise _cannot_read(what, path, problem)
  return os.fdopen(fd, "rb")


def _png_header(head):
  """(width, height, bit depth) from a PNG's IHDR, or None if not a PNG."""
  if len(head) < 26 or not head.startswith(_PNG_SIGNATURE):
    return None
  if head[12:16] != b"IHDR":
    return None
  return struct.unpack(">IIB", head[16:25])


def _check_size(what, path, hw, max_pixels, expect_hw=None):
  """The header checks: zero size, the expected size, the pixel limit."""
  h, w = hw
  if h == 0 or w == 0:
    raise InputError(f"{what} {path} has zero size ({w}x{h})")
  if expect_hw is not None and (h, w) != tuple(expect_hw):
    raise InputError(f"{what} {path} is {h}x{w} (HxW) but the image is "
                     f"{expect_hw[0]}x{expect_hw[1]}")
  if h * w > max_pixels:
    raise InputError(
        f"{what} {path} is {w}x{h} ({h * w / 1e6:.4g} megapixels), over the "
        f"limit of {max_pixels / 1e6:.4g} megapixels; to read it anyway set "
        f"--config.max_pixels={h * w}")


def _unless_turned(hw, expect_hw):
  """`expect_hw`, or None when it is `hw` turned by 90 degrees, which an
  EXIF orientation (read later) may yet undo."""
  if expect_hw is not None and tuple(hw[::-1]) == tuple(expect_hw):
    return None
  return expect_hw


def _read_png16(f, what, path):
  """A 16-bit PNG as uint16 H x W x C scaled to float32 [0, 1] (pypng)."""
  try:
    reader = png.Reader(file=f)
    reader.preamble()  # the chunks before the first IDAT: no pixel data
    height, width, planes = reader.height, reader.width, reader.planes
    # Rows plus their filter bytes; Adam7's passes add at most 2h + 7.
    _check_inflated_size(f, height * (width * planes * 2 + 2) + 7)
    f.seek(0)
    _, _, rows, _ = png.Reader(file=f).read()
    out = np.empty((height, width * planes), np.uint16)
    count = 0
    for count, row in enumerate(rows, 1):
      if count > height:
        break
      out[count - 1] = np.frombuffer(row, np.uint16)
  except (png.Error, zlib.error, EOFError, ValueError) as e:
    raise _cannot_read(what, path, f"truncated or corrupt PNG ({e})") from None
  if count < height:
    raise _cannot_read(what, path, f"truncated PNG (image data ends after "
                       f"{count} of {height} rows)")
  arr = out.reshape(height, width, planes).astype(np.float32)
  return np.divide(arr, 65535.0, out=arr)


def _check_inflated_size(f, limit):
  """Inflates the IDAT stream in 1 MiB pieces, discarding the output.

  pypng inflates each IDAT chunk in one call with no output limit, so a
  valid header over a lying data stream (one 1 MB chunk inflates to 1 GB)
  could allocate far more than the header implies. This pass bounds it.
  """
  f.seek(0)
  inflater = zlib.decompressobj()
  total = 0
  for kind, body in png.Reader(file=f).chunks():
    while kind == b"IDAT" and body and not inflater.eof:
      total += len(inflater.decompress(body, 1 << 20))
      body = inflater.unconsumed_tail
      if total > limit:
        raise ValueError("its image data is longer than its header says")


@contextlib.contextmanager
def _pillow_size_check_off():
  """Pillow's own size check off while our reader, which has checked the
  header against max_pixels itself, decodes. (Not thread-safe: Pillow keeps
  the limit in a module global.)"""
  saved = Image.MAX_IMAGE_PIXELS
  Image.MAX_IMAGE_PIXELS = None
  try:
    yield
  finally:
    Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def _read_errors(what, path):
  """Pillow's ways of failing on a file, as one line naming it."""
  try:
    yield
  except InputError:
    raise
  except UnidentifiedImageError:
    raise _cannot_read(what, path, "not an image file (or not a format "
                       "Pillow reads)") from None
  except (OSError, SyntaxError, ValueError, EOFError, struct.error,
          zlib.error) as e:
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise _cannot_read(what, path, f"truncated or corrupt ({reason})") from None


def _read_with_pillow(f, what, path, max_pixels, expect_hw):
  """Any format Pillow reads, as float32 H x W x {1,2,3,4}, depth, notes."""
  notes = []
  with _read_errors(what, path), _pillow_size_check_off(), \
       Image.open(f) as im:
    w, h = im.size
    # Before getexif, which may decode a PNG.
    _check_size(what, path, (h, w), max_pixels,
                _unless_turned((h, w), expect_hw))
    orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    # Orientations 5-8 turn the picture by 90 degrees.
    oriented = (w, h) if orientation in (5, 6, 7, 8) else (h, w)
    _check_size(what, path, oriented, max_pixels, expect_hw)
    frames = getattr(im, "n_frames", 1) if getattr(im, "is_animated",
                                                   False) else 1
    if frames > 1:
      notes.append(f"{path} has {frames} frames; using the first")
    if orientation != 1:
      notes.append(f"{path}: applied its EXIF orientation ({orientation})")
    bits = getattr(im, "tag_v2", {}).get(258, (8,))  # TIFF BitsPerSample
    if im.mode in ("RGB", "RGBA") and max(bits) > 8:
      notes.append(f"{path}: Pillow reads this {max(bits)}-bit colour TIFF "
                   f"at 8 bits per channel; a 16-bit PNG keeps them all")
    arr, depth = _pixels_of(ImageOps.exif_transpose(im), what, path, notes)
  if arr.ndim == 2:
    arr = arr[..., None]
  return arr, depth, notes


def _pixels_of(im, what, path, notes):
  """Pillow image -> (float32 array in [0, 1], bit depth)."""
  mode = im.mode
  if mode in _16BIT_GRAY_MODES:
    return np.asarray(im, np.float32)[..., None] / 65535.0, 16
  if mode == "I":
    # 32-bit integer samples: a 16-bit source in older Pillow versions.
    raw = np.asarray(im, np.int64)
    if raw.min() < 0 or raw.max() > 65535:
      raise InputError(f"{what} {path} has 32-bit integer samples outside "
                       f"0..65535; save it as an 8- or 16-bit PNG")
    return raw.astype(np.float32)[..., None] / 65535.0, 16
  if mode == "F":
    raise InputError(f"{what} {path} is floating point; save it as an 8- or "
                     f"16-bit PNG")
  if mode == "P":
    target = "RGBA" if "transparency" in im.info else "RGB"
  elif mode in _TARGET_MODE:
    target = _TARGET_MODE[mode]
  else:
    raise InputError(f"{what} {path} has pixel mode {mode!r}, which dip_jax "
                     f"does not read; save it as an 8- or 16-bit PNG")
  if mode == "CMYK":
    notes.append(f"{path}: converted CMYK to RGB (no colour management)")
  # Scaled in place: a float32 copy of a large photo is its biggest cost.
  arr = np.asarray(im.convert(target), np.float32)
  return np.divide(arr, 255.0, out=arr), 8


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
    _write_png16(tmp, to_uint(x, 16))
  else:
    arr = to_uint(x, 8)
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(
        tmp, format=_format_of(path))
  os.replace(tmp, path)


def _write_png16(path, pixels):
  """uint16 H x W x {1,2,3,4} (gray, gray + alpha, RGB, RGBA) as a PNG."""
  h, w, c = pixels.shape
  writer = png.Writer(w, h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16)
  with open(path, "wb") as f:
    writer.write(f, pixels.reshape(h, w * c))


def _format_of(path):
  ext = os.path.splitext(path)[1].lower()
  return {".jpg": "JPEG", ".jpeg": "JPEG"}.get(ext, "PNG")
