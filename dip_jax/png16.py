"""Reading and writing PNGs with 16 bits per channel, without precision loss.

Pillow keeps 16-bit grayscale PNGs at full precision but reduces 16-bit RGB(A)
to 8 bits per channel and cannot write it. PSNR scores resolve errors finer
than 8-bit steps, so that rounding would bias them. This module handles only
the 16-bit case (numpy, zlib, struct); for anything else `read_png16` returns
None and the caller uses Pillow.
"""

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type -> channel count; PNG stores the channels in this order:
# gray; R, G, B; gray, alpha; R, G, B, alpha.
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
_COLOUR_TYPE = {c: t for t, c in _CHANNELS.items()}


def _chunks(data):
  """Yields (type, body) per chunk; ValueError if cut off or a CRC is bad."""
  pos = len(_SIGNATURE)
  while pos < len(data):
    if pos + 12 > len(data):
      raise ValueError("truncated PNG: incomplete chunk at end of file")
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    end = pos + 12 + length
    if end > len(data):
      raise ValueError(f"truncated PNG: {kind!r} chunk is cut off")
    body = data[pos + 8:end - 4]
    # Like libpng, we reject bad CRCs only in critical chunks (upper-case first
    # letter). We skip ancillary chunks anyway, so damage there does no harm.
    crc, = struct.unpack(">I", data[end - 4:end])
    if kind[:1].isupper() and zlib.crc32(kind + body) != crc:
      raise ValueError(f"corrupt PNG: CRC mismatch in {kind!r} chunk")
    yield kind, body
    pos = end


def _unfilter(raw, height, width, bpp):
  """Undoes the PNG row filters. Returns uint8 bytes shaped (H, W, bpp).

  Average and Paeth make each byte depend on the decoded byte to its left, so
  rows cannot be decoded in a few whole-row numpy operations. But pixel (r, x)
  depends only on (r, x-1), (r-1, x) and (r-1, x-1). All three lie on earlier
  anti-diagonals (r + x smaller), so we decode one anti-diagonal per step with
  vector operations. That takes H + W - 1 steps, not H * W.
  """
  rows = np.frombuffer(raw, np.uint8, height * (width * bpp + 1)).reshape(
      height, -1)
  kinds = rows[:, 0]
  if kinds.max() > 4:
    raise ValueError(f"corrupt PNG: unknown row filter type {kinds.max()}")
  filtered = rows[:, 1:].reshape(height, width, bpp).astype(np.int16)
  # The filters read neighbours outside the image as 0. A zero row on top and a
  # zero column on the left give us those zeros without special cases. int16
  # holds a + b - 2c without overflow.
  out = np.zeros((height + 1, width + 1, bpp), np.int16)
  flat = out.reshape(-1, bpp)  # a view, so writes to `flat` land in `out`
  for d in range(height + width - 1):
    r = np.arange(max(0, d - width + 1), min(d, height - 1) + 1)
    x = d - r
    cur = (r + 1) * (width + 1) + x + 1
    a, b, c = flat[cur - 1], flat[cur - width - 1], flat[cur - width - 2]
    # Paeth picks whichever of a, b, c is closest to p = a + b - c, preferring
    # a and then b on ties. So |p - a| = |b - c|, and so on.
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    pred = np.choose(kinds[r, None], [0, a, b, (a + b) >> 1, paeth])
    flat[cur] = (filtered[r, x] + pred) & 0xFF
  return out[1:, 1:].astype(np.uint8)


def read_png16(path):
  """Reads a PNG with 16 bits per channel.

  Args:
    path: file to read.

  Returns:
    uint16 array (H, W, C) with C = 1 (gray), 3 (RGB), 2 (gray + alpha) or 4
    (RGBA), channels in that order. None if the file is not a PNG or its bit
    depth is not 16, so that the caller can use Pillow instead.

  Raises:
    ValueError: the PNG is interlaced, truncated or otherwise corrupt.
  """
  with open(path, "rb") as f:
    data = f.read()
  if not data.startswith(_SIGNATURE):
    return None
  chunks = _chunks(data)
  kind, body = next(chunks, (None, b""))
  if kind != b"IHDR" or len(body) != 13:
    raise ValueError("corrupt PNG: first chunk is not a valid IHDR")
  width, height, depth, colour, comp, filt, interlace = struct.unpack(
      ">IIBBBBB", body)
  if depth != 16:
    return None
  if colour not in _CHANNELS or comp != 0 or filt != 0 or width * height == 0:
    raise ValueError(f"corrupt PNG: bad IHDR (colour type {colour}, size "
                     f"{width}x{height}, method {comp}/{filt})")
  if interlace:
    raise ValueError("interlaced (Adam7) 16-bit PNGs are not supported")
  idat = []
  for kind, body in chunks:
    if kind == b"IEND":
      break
    if kind == b"IDAT":
      idat.append(body)
  else:
    raise ValueError("truncated PNG: no IEND chunk")
  channels = _CHANNELS[colour]
  bpp = 2 * channels  # bytes per pixel
  try:
    inflater = zlib.decompressobj()
    raw = inflater.decompress(b"".join(idat))
  except zlib.error as e:
    raise ValueError(f"corrupt PNG: bad zlib stream in IDAT ({e})") from None
  if not inflater.eof or len(raw) < height * (width * bpp + 1):
    raise ValueError("truncated PNG: image data ends early")
  pixels = _unfilter(raw, height, width, bpp).reshape(height, -1)
  # PNG stores samples big-endian; view pairs of bytes as such, then convert.
  return pixels.view(">u2").astype(np.uint16).reshape(height, width, channels)


def _chunk(kind, body):
  """Returns one chunk, with its length and CRC, as bytes."""
  return (struct.pack(">I", len(body)) + kind + body +
          struct.pack(">I", zlib.crc32(kind + body)))


def write_png16(path, pixels):
  """Writes a non-interlaced PNG with 16 bits per channel.

  Args:
    path: file to write.
    pixels: uint16 array (H, W) or (H, W, C), where C = 1 (gray), 2 (gray +
      alpha), 3 (RGB) or 4 (RGBA).

  Raises:
    ValueError: `pixels` is not uint16 or has an unsupported shape.
  """
  pixels = np.asarray(pixels)
  # Refuse to cast: other dtypes would need a scaling convention we can't guess.
  if pixels.dtype.kind != "u" or pixels.dtype.itemsize != 2:
    raise ValueError(f"write_png16 needs uint16 pixels, got {pixels.dtype}")
  if pixels.ndim == 2:
    pixels = pixels[:, :, None]
  if (pixels.ndim != 3 or pixels.shape[2] not in _COLOUR_TYPE or
      0 in pixels.shape):
    raise ValueError(f"write_png16 needs (H, W) or (H, W, C) with C in 1..4, "
                     f"got shape {pixels.shape}")
  height, width, channels = pixels.shape
  data = pixels.astype(">u2").reshape(height, -1).view(np.uint8)
  # Up filter (type 2) on every row: natural images vary slowly from row to row,
  # so the differences are small and compress better than raw bytes. uint8
  # subtraction wraps mod 256, as the filter requires.
  up = np.diff(data, axis=0, prepend=np.zeros((1, data.shape[1]), np.uint8))
  scanlines = np.hstack([np.full((height, 1), 2, np.uint8), up])
  header = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPE[channels],
                       0, 0, 0)
  with open(path, "wb") as f:
    f.write(_SIGNATURE + _chunk(b"IHDR", header) +
            _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)) +
            _chunk(b"IEND", b""))
