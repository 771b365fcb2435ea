"""Tests for dip_jax.png16: 16-bit PNG reading and writing."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from dip_jax.png16 import read_png16, write_png16

_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def _random(shape, seed=0):
  return np.random.default_rng(seed).integers(0, 65536, shape, np.uint16)


def _chunk(kind, body):
  return (struct.pack(">I", len(body)) + kind + body +
          struct.pack(">I", zlib.crc32(kind + body)))


def _encode(pixels, row_filters, interlace=0):
  """Test-only encoder that applies the given filter type to each row.

  Encoding reads only unfiltered bytes, so every filter is a plain vectorised
  formula here. That makes this an independent check of the decoder, which
  must reverse the filters one anti-diagonal at a time.
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
                       _COLOUR_TYPE[channels], 0, 0, interlace)
  return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) +
          _chunk(b"tEXt", b"Comment\x00ancillary, must be skipped") +
          _chunk(b"IDAT", zlib.compress(b"".join(rows))) +
          _chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_round_trip(tmp_path, channels):
  pixels = _random((37, 53, channels), seed=channels)
  write_png16(tmp_path / "x.png", pixels)
  out = read_png16(tmp_path / "x.png")
  assert out.dtype == np.uint16
  np.testing.assert_array_equal(out, pixels)


def test_round_trip_2d_input_reads_back_with_one_channel(tmp_path):
  pixels = _random((5, 7))
  write_png16(tmp_path / "x.png", pixels)
  np.testing.assert_array_equal(read_png16(tmp_path / "x.png"),
                                pixels[:, :, None])


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_pillow_opens_written_file(tmp_path, channels):
  pixels = _random((37, 53, channels))
  write_png16(tmp_path / "x.png", pixels)
  with Image.open(tmp_path / "x.png") as img:
    img.load()  # decodes the data and checks the CRCs, not just the header
    assert img.size == (53, 37)
    got = np.asarray(img)
  if channels == 1:
    # Pillow keeps 16-bit gray at full precision (mode I;16, or I in older
    # versions), so its values must equal ours exactly.
    np.testing.assert_array_equal(got, pixels[:, :, 0])
  elif channels == 3:
    # Pillow keeps 8 bits of a 16-bit RGB PNG; allow either truncation or
    # rounding, which differ by at most one step.
    diff = got.astype(int) - (pixels.astype(int) >> 8)
    assert np.abs(diff).max() <= 1


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_decodes_each_filter_type(tmp_path, filter_type, channels):
  # Smooth data as well as noise, so Average and Paeth take every branch.
  ramp = (np.arange(17)[:, None, None] * 300 + np.arange(23)[None, :, None] * 7)
  pixels = _random((17, 23, channels), seed=filter_type)
  pixels[:8] = (ramp[:8] + np.arange(channels)).astype(np.uint16)
  (tmp_path / "x.png").write_bytes(_encode(pixels, [filter_type] * 17))
  np.testing.assert_array_equal(read_png16(tmp_path / "x.png"), pixels)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (29, 31)])
def test_decodes_mixed_filters_on_odd_shapes(tmp_path, shape):
  pixels = _random(shape + (3,))
  filters = [i % 5 for i in range(shape[0])]
  (tmp_path / "x.png").write_bytes(_encode(pixels, filters))
  np.testing.assert_array_equal(read_png16(tmp_path / "x.png"), pixels)


def test_reads_pillow_16bit_grayscale(tmp_path):
  pixels = _random((37, 53))
  img = Image.fromarray(pixels)
  assert img.mode == "I;16"
  img.save(tmp_path / "x.png")
  np.testing.assert_array_equal(read_png16(tmp_path / "x.png"),
                                pixels[:, :, None])


def test_8bit_png_returns_none(tmp_path):
  Image.new("RGB", (4, 3), (10, 20, 30)).save(tmp_path / "x.png")
  assert read_png16(tmp_path / "x.png") is None


def test_non_png_returns_none(tmp_path):
  Image.new("RGB", (4, 3)).save(tmp_path / "x.bmp")
  assert read_png16(tmp_path / "x.bmp") is None


def test_truncated_png_raises(tmp_path):
  write_png16(tmp_path / "x.png", _random((37, 53, 3)))
  data = (tmp_path / "x.png").read_bytes()
  (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
  with pytest.raises(ValueError, match="truncated"):
    read_png16(tmp_path / "cut.png")


def test_bad_zlib_stream_raises(tmp_path):
  pixels = _random((4, 5, 1))
  good = _encode(pixels, [0] * 4)
  # Replace IDAT's body with junk and give it a valid CRC, so that only the
  # zlib layer can notice.
  start = good.index(b"IDAT") - 4
  length, = struct.unpack(">I", good[start:start + 4])
  bad = good[:start] + _chunk(b"IDAT", b"\xff" * length) + good[
      start + 12 + length:]
  (tmp_path / "x.png").write_bytes(bad)
  with pytest.raises(ValueError, match="zlib"):
    read_png16(tmp_path / "x.png")


def test_bad_crc_raises(tmp_path):
  write_png16(tmp_path / "x.png", _random((4, 5, 3)))
  data = bytearray((tmp_path / "x.png").read_bytes())
  data[-13] ^= 1  # last byte of IDAT's CRC (IEND takes the final 12 bytes)
  (tmp_path / "x.png").write_bytes(bytes(data))
  with pytest.raises(ValueError, match="CRC"):
    read_png16(tmp_path / "x.png")


def test_interlaced_raises(tmp_path):
  (tmp_path / "x.png").write_bytes(
      _encode(_random((4, 5, 3)), [0] * 4, interlace=1))
  with pytest.raises(ValueError, match="interlaced"):
    read_png16(tmp_path / "x.png")


def test_write_rejects_other_dtypes(tmp_path):
  with pytest.raises(ValueError, match="uint16"):
    write_png16(tmp_path / "x.png", np.zeros((4, 5, 3), np.uint8))
