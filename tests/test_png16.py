"""16-bit PNGs through dip_jax.io.images (pypng): exact values in and out.

The files here come from an independent test encoder (every row filter, every
channel layout), from Pillow and from pypng, so the reader is checked against
values it did not write itself. The same cases passed the hand-written codec
this replaced, so its users see the same arrays.
"""

import struct
import zlib

import numpy as np
import png
import pytest
from PIL import Image

from dip_jax.errors import InputError
from dip_jax.io import images

_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def _random(shape, seed=0):
  return np.random.default_rng(seed).integers(0, 65536, shape, np.uint16)


def _chunk(kind, body):
  return (struct.pack(">I", len(body)) + kind + body +
          struct.pack(">I", zlib.crc32(kind + body)))


def _encode(pixels, row_filters, data=None):
  """Test-only encoder that applies the given filter type to each row.

  Encoding reads only unfiltered bytes, so every filter is a plain vectorised
  formula here: an independent check of the decoder. `data` replaces the
  compressed stream (to test lying headers).
  """
  height, width, channels = pixels.shape
  bpp = 2 * channels
  x = pixels.astype(">u2").reshape(height, -1).view(np.uint8).astype(np.int32)
  a = np.pad(x, ((0, 0), (bpp, 0)))[:, :-bpp]  # left neighbour, 0 off-image
  b = np.pad(x, ((1, 0), (0, 0)))[:-1]  # neighbour above
  c = np.pad(x, ((1, 0), (bpp, 0)))[:-1, :-bpp]  # above-left
  p = a + b - c
  pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
  paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
  preds = [np.zeros_like(x), a, b, (a + b) // 2, paeth]
  rows = [bytes([f]) + ((x[i] - preds[f][i]) % 256).astype(np.uint8).tobytes()
          for i, f in enumerate(row_filters)]
  header = struct.pack(">IIBBBBB", width, height, 16,
                       _COLOUR_TYPE[channels], 0, 0, 0)
  if data is None:
    data = zlib.compress(b"".join(rows))
  return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) +
          _chunk(b"tEXt", b"Comment\x00ancillary, must be skipped") +
          _chunk(b"IDAT", data) + _chunk(b"IEND", b""))


def _read16(path):
  """load_image's result back as uint16 with alpha as the last channel."""
  img = images.load_image(str(path))
  assert img.bit_depth == 16
  x = img.pixels if img.alpha is None else np.concatenate(
      [img.pixels, img.alpha[..., None]], -1)
  return images.to_uint(x, 16)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_round_trip(tmp_path, channels):
  pixels = _random((37, 53, channels), seed=channels)
  x = pixels.astype(np.float32) / 65535
  alpha = x[..., -1] if channels in (2, 4) else None
  path = str(tmp_path / "x.png")
  images.save_image(path, x[..., :-1] if alpha is not None else x, alpha, 16)
  np.testing.assert_array_equal(_read16(path), pixels)


@pytest.mark.parametrize("channels", [1, 3])
def test_pillow_opens_written_file(tmp_path, channels):
  pixels = _random((37, 53, channels))
  path = str(tmp_path / "x.png")
  images.save_image(path, pixels.astype(np.float32) / 65535, bit_depth=16)
  with Image.open(path) as img:
    img.load()  # decodes the data and checks the CRCs, not just the header
    assert img.size == (53, 37)
    got = np.asarray(img)
  if channels == 1:
    # Pillow keeps 16-bit gray at full precision.
    np.testing.assert_array_equal(got, pixels[:, :, 0])
  else:
    # Pillow keeps 8 bits of 16-bit RGB; truncation or rounding.
    assert np.abs(got.astype(int) - (pixels.astype(int) >> 8)).max() <= 1


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_decodes_each_filter_type(tmp_path, filter_type, channels):
  # Smooth data as well as noise, so Average and Paeth take every branch.
  ramp = (np.arange(17)[:, None, None] * 300 + np.arange(23)[None, :, None] * 7)
  pixels = _random((17, 23, channels), seed=filter_type)
  pixels[:8] = (ramp[:8] + np.arange(channels)).astype(np.uint16)
  (tmp_path / "x.png").write_bytes(_encode(pixels, [filter_type] * 17))
  np.testing.assert_array_equal(_read16(tmp_path / "x.png"), pixels)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (29, 31)])
def test_decodes_mixed_filters_on_odd_shapes(tmp_path, shape):
  pixels = _random(shape + (3,))
  filters = [i % 5 for i in range(shape[0])]
  (tmp_path / "x.png").write_bytes(_encode(pixels, filters))
  np.testing.assert_array_equal(_read16(tmp_path / "x.png"), pixels)


def test_reads_pillow_16bit_grayscale(tmp_path):
  pixels = _random((37, 53))
  Image.fromarray(pixels).save(tmp_path / "x.png")  # mode I;16
  np.testing.assert_array_equal(_read16(tmp_path / "x.png")[..., 0], pixels)


def test_reads_interlaced(tmp_path):
  pixels = _random((13, 11, 3))
  with open(tmp_path / "x.png", "wb") as f:
    png.Writer(11, 13, greyscale=False, bitdepth=16, interlace=True).write(
        f, pixels.reshape(13, -1))
  np.testing.assert_array_equal(_read16(tmp_path / "x.png"), pixels)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_8bit_file_from_pypng_reads_as_pillow_and_skimage_do(tmp_path, mode):
  io = pytest.importorskip("skimage.io")
  c = len(mode)
  arr = np.random.default_rng(c).integers(0, 256, (19, 21, c), np.uint8)
  path = str(tmp_path / "x.png")
  with open(path, "wb") as f:
    png.Writer(21, 19, greyscale=c == 1, alpha=c == 4).write(
        f, arr.reshape(19, -1))
  img = images.load_image(path)
  assert img.bit_depth == 8
  got = images.to_uint(img.pixels if img.alpha is None else np.concatenate(
      [img.pixels, img.alpha[..., None]], -1))
  with Image.open(path) as im:
    np.testing.assert_array_equal(got[..., 0] if c == 1 else got,
                                  np.asarray(im))
  np.testing.assert_array_equal(got[..., 0] if c == 1 else got,
                                io.imread(path))


def test_truncated_png_is_refused(tmp_path):
  images.save_image(str(tmp_path / "x.png"),
                    np.random.default_rng(0).random((37, 53, 3)), bit_depth=16)
  data = (tmp_path / "x.png").read_bytes()
  (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
  with pytest.raises(InputError, match="truncated"):
    images.load_image(str(tmp_path / "cut.png"))


def test_short_data_stream_is_refused(tmp_path):
  pixels = _random((8, 5, 1))
  rows = b"".join(b"\x00" + pixels[i].astype(">u2").tobytes() for i in range(3))
  (tmp_path / "x.png").write_bytes(_encode(pixels, [0] * 8,
                                           zlib.compress(rows)))
  with pytest.raises(InputError, match="3 of 8 rows"):
    images.load_image(str(tmp_path / "x.png"))


def test_data_longer_than_header_is_refused(tmp_path):
  # A 4x4 header over 64 MB of zeros (64 kB compressed): refused while
  # inflating in bounded pieces, never held in memory whole.
  data = zlib.compress(bytes(64 << 20), 9)
  (tmp_path / "x.png").write_bytes(_encode(_random((4, 4, 1)), [0] * 4, data))
  with pytest.raises(InputError, match="longer than its header"):
    images.load_image(str(tmp_path / "x.png"))


def test_bad_zlib_stream_and_crc_are_refused(tmp_path):
  pixels = _random((4, 5, 1))
  (tmp_path / "z.png").write_bytes(_encode(pixels, [0] * 4, b"\xff" * 40))
  with pytest.raises(InputError, match="corrupt PNG"):
    images.load_image(str(tmp_path / "z.png"))
  data = bytearray(_encode(pixels, [0] * 4))
  data[-13] ^= 1  # last byte of IDAT's CRC (IEND takes the final 12 bytes)
  (tmp_path / "c.png").write_bytes(bytes(data))
  with pytest.raises(InputError, match="corrupt PNG.*[Cc]hecksum"):
    images.load_image(str(tmp_path / "c.png"))
