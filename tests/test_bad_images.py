"""Every kind of careless or hostile image and mask file: each one either
loads (with the conversion it needs) or is refused with one line that names
the file and the problem. All of them are decodes or refusals of tiny files,
except the bombs, which are small on disk and must be refused from the
header; one test goes through the command line."""

import os
import signal
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from dip_jax import config_lib
from dip_jax.data import corruptions
from dip_jax.errors import InputError
from dip_jax.io import images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _chunk(kind, body):
  return (struct.pack(">I", len(body)) + kind + body +
          struct.pack(">I", zlib.crc32(kind + body)))


def _png_bomb(path, width, height, depth, colour=0):
  """A PNG whose header claims width x height; the data is one zero row,
  since the reader must refuse it before looking at the data at all."""
  header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
  path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) +
                   _chunk(b"IDAT", zlib.compress(b"\0" * 64)) +
                   _chunk(b"IEND", b""))
  return path


def _rgb(h=12, w=10, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


def _gif_bomb(path):
  """A one-frame GIF whose screen and frame claim 65535 x 65535."""
  Image.new("P", (2, 2)).save(path)
  data = bytearray(path.read_bytes())
  data[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen
  frame = data.index(b",")  # the image descriptor
  data[frame + 5:frame + 9] = struct.pack("<HH", 65535, 65535)
  path.write_bytes(bytes(data))
  return path


@pytest.fixture(autouse=True)
def _no_hang():
  """A reader that blocks (a FIFO) fails the test instead of hanging it."""
  signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reader blocked"))
  signal.alarm(20)
  yield
  signal.alarm(0)


# ---------------------------------------------------------------- refusals

def _missing(tmp):
  return tmp / "missing.png"


def _directory(tmp):
  return tmp


def _empty(tmp):
  (tmp / "empty.png").write_bytes(b"")
  return tmp / "empty.png"


def _truncated(tmp):
  Image.fromarray(_rgb(64, 64)).save(tmp / "x.png")
  data = (tmp / "x.png").read_bytes()
  (tmp / "cut.png").write_bytes(data[:len(data) // 2])
  return tmp / "cut.png"


def _text(tmp):
  (tmp / "notes.png").write_text("this is not an image\n" * 10)
  return tmp / "notes.png"


def _fifo(tmp):
  os.mkfifo(tmp / "pipe.png")
  return tmp / "pipe.png"


REFUSED = [
    (_missing, "image file not found"),
    (_directory, "directory, not a file"),
    (_empty, "the file is empty"),
    (_truncated, "truncated"),
    (_text, "not an image file"),
    (lambda tmp: _png_bomb(tmp / "z8.png", 0, 5, 8), r"zero size \(0x5\)"),
    (lambda tmp: _png_bomb(tmp / "z16.png", 7, 0, 16), r"zero size \(7x0\)"),
    (_fifo, "a FIFO, not a regular file"),
    (lambda tmp: "/dev/zero", "a character device, not a regular file"),
    (lambda tmp: _png_bomb(tmp / "b16.png", 30000, 30000, 16),
     r"30000x30000 \(900 megapixels\), over the limit of 100 megapixels; .*"
     r"--config.max_pixels=900000000"),
    (lambda tmp: _png_bomb(tmp / "b8.png", 30000, 30000, 8, colour=2),
     r"30000x30000 \(900 megapixels\).*max_pixels"),
    (lambda tmp: _gif_bomb(tmp / "b.gif"), r"65535x65535 .*max_pixels"),
]


@pytest.mark.parametrize("make,message", REFUSED, ids=[
    "missing", "directory", "empty", "truncated", "text", "zero-size-8bit",
    "zero-size-16bit", "fifo", "dev-zero", "bomb-16bit", "bomb-8bit",
    "bomb-gif"])
def test_bad_image_is_refused_in_one_line(tmp_path, make, message):
  if make is _fifo and not hasattr(os, "mkfifo"):
    pytest.skip("no FIFOs here")
  path = make(tmp_path)
  with pytest.raises(InputError, match=message) as e:
    images.load_image(str(path))
  assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_pixel_limit_is_ours_not_pillows(tmp_path, monkeypatch):
  Image.fromarray(_rgb(20, 20)).save(tmp_path / "x.png")
  Image.fromarray(_rgb(20, 20)).save(tmp_path / "x.jpg")
  # Pillow's own limit, below the image, must not interfere: ours decides.
  monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
  for name in ("x.png", "x.jpg"):
    assert images.load_image(str(tmp_path / name), max_pixels=400).pixels.shape \
        == (20, 20, 3)
    with pytest.raises(InputError, match="max_pixels=400$"):
      images.load_image(str(tmp_path / name), max_pixels=399)
  assert config_lib.base_config().max_pixels == images.DEFAULT_MAX_PIXELS


# ------------------------------------------------ files that load, converted

def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
  Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
  img = images.load_image(str(tmp_path / "c.jpg"))
  assert img.pixels.shape == (12, 10, 3) and img.alpha is None
  assert any("CMYK" in n for n in img.notes)


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png_is_converted(tmp_path, transparent):
  im = Image.fromarray(_rgb()).convert("P")
  kwargs = {"transparency": 0} if transparent else {}
  im.save(tmp_path / "p.png", **kwargs)
  img = images.load_image(str(tmp_path / "p.png"))
  expected = np.asarray(im.convert("RGB"), np.float32) / 255
  np.testing.assert_array_equal(img.pixels, expected)
  assert (img.alpha is not None) == transparent


def test_animated_gif_uses_the_first_frame_and_says_so(tmp_path):
  frames = [Image.new("RGB", (8, 6), (60 * i, 100, 200)) for i in range(3)]
  frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
  img = images.load_image(str(tmp_path / "a.gif"))
  assert img.pixels.shape == (6, 8, 3)
  np.testing.assert_allclose(img.pixels[0, 0], np.array([0, 100, 200]) / 255,
                             atol=2 / 255)
  assert any("3 frames; using the first" in n for n in img.notes)


def test_tiff_8_and_16_bit(tmp_path):
  arr = _rgb()
  Image.fromarray(arr).save(tmp_path / "x.tif")
  np.testing.assert_array_equal(
      images.to_uint(images.load_image(str(tmp_path / "x.tif")).pixels), arr)
  g16 = np.random.default_rng(1).integers(0, 65536, (9, 7), np.uint16)
  Image.fromarray(g16).save(tmp_path / "g16.tif")
  img = images.load_image(str(tmp_path / "g16.tif"))
  assert img.bit_depth == 16
  np.testing.assert_array_equal(images.to_uint(img.pixels, 16)[..., 0], g16)
  tifffile = pytest.importorskip("tifffile")
  rgb16 = np.random.default_rng(2).integers(0, 65536, (9, 7, 3), np.uint16)
  tifffile.imwrite(tmp_path / "rgb16.tif", rgb16, photometric="rgb")
  img = images.load_image(str(tmp_path / "rgb16.tif"))
  assert img.pixels.shape == (9, 7, 3)
  assert any("16-bit colour TIFF at 8 bits" in n for n in img.notes)


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_png_gray_and_rgb_keep_every_bit(tmp_path, channels):
  x = np.random.default_rng(3).integers(0, 65536, (9, 7, channels)) / 65535
  path = str(tmp_path / "x.png")
  images.save_image(path, x, bit_depth=16)
  img = images.load_image(path)
  assert img.bit_depth == 16
  np.testing.assert_array_equal(images.to_uint(img.pixels, 16),
                                images.to_uint(x, 16))


def test_rgba_alpha_is_split_off(tmp_path):
  arr = np.random.default_rng(4).integers(0, 256, (5, 6, 4), np.uint8)
  Image.fromarray(arr).save(tmp_path / "a.png")
  img = images.load_image(str(tmp_path / "a.png"))
  np.testing.assert_array_equal(images.to_uint(img.pixels), arr[..., :3])
  np.testing.assert_array_equal(images.to_uint(img.alpha), arr[..., 3])


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
  arr = np.zeros((16, 32, 3), np.uint8)
  arr[:, 16:] = 255  # stored: left half black, right half white
  exif = Image.Exif()
  exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
  Image.fromarray(arr).save(tmp_path / "r.jpg", exif=exif, quality=95)
  img = images.load_image(str(tmp_path / "r.jpg"))
  # Upright: 16 wide and 32 tall, the stored left half now on top.
  assert img.pixels.shape == (32, 16, 3)
  assert img.pixels[:14].mean() < 0.1 and img.pixels[18:].mean() > 0.9
  assert any("EXIF orientation" in n for n in img.notes)


# ------------------------------------------------------------------- masks

def _mask(tmp, arr, name="m.png"):
  Image.fromarray(arr).save(tmp / name)
  return tmp / name


def _binary(h=20, w=30):
  arr = np.zeros((h, w), np.uint8)
  arr[:, w // 2:] = 255
  return arr


MASK_REFUSED = [
    (lambda tmp: _mask(tmp, _binary(20, 31)), r"20x31 \(HxW\) but the image "
     r"is 20x30"),
    (lambda tmp: _png_bomb(tmp / "bomb.png", 30000, 30000, 8),
     r"30000x30000 \(HxW\) but the image is 20x30"),
    (lambda tmp: _mask(tmp, np.where(_binary() > 0, 128, 0).astype(np.uint8)),
     "not binary: found values 128"),
    (lambda tmp: _mask(tmp, np.zeros((20, 30), np.uint8)),
     "marks no pixel as known"),
    (lambda tmp: _mask(tmp, np.stack([_binary(), 0 * _binary(), _binary()],
                                     -1)), "in colour"),
    (lambda tmp: tmp / "missing.png", "cannot read mask .*not found"),
    (_fifo, "cannot read mask .*FIFO"),
]


@pytest.mark.parametrize("make,message", MASK_REFUSED,
                         ids=["size", "bomb", "gray", "all-zero", "colour",
                              "missing", "fifo"])
def test_bad_mask_is_refused_in_one_line(tmp_path, make, message):
  with pytest.raises(InputError, match=message) as e:
    corruptions.load_mask(make(tmp_path), (20, 30))
  assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind", ["all-ones", "gray-as-rgb", "16-bit", "0/1",
                                  "with-alpha"])
def test_mask_that_loads(tmp_path, kind):
  b = _binary()
  arr = {"all-ones": np.full((20, 30), 255, np.uint8),
         "gray-as-rgb": np.stack([b] * 3, -1),
         "16-bit": b.astype(np.uint16) * 257,
         "0/1": b // 255,
         "with-alpha": np.stack([b, b, b, np.full_like(b, 7)], -1)}[kind]
  m = corruptions.load_mask(_mask(tmp_path, arr), (20, 30))
  expected = np.ones((20, 30)) if kind == "all-ones" else b / 255
  np.testing.assert_array_equal(m[..., 0], expected)


@pytest.mark.parametrize("depth", [8, 16])
def test_mask_turned_by_90_degrees_is_refused(tmp_path, depth):
  arr = _binary(30, 20).astype(np.uint16 if depth == 16 else np.uint8)
  with pytest.raises(InputError, match=r"30x20 \(HxW\) but the image is 20x30"):
    corruptions.load_mask(_mask(tmp_path, arr * (257 if depth == 16 else 1)),
                          (20, 30))


# ---------------------------------------------------- through the CLI, once

def test_cli_refuses_a_bomb_in_one_line_with_exit_2(tmp_path):
  bomb = _png_bomb(tmp_path / "bomb.png", 30000, 30000, 16)
  proc = subprocess.run(
      [sys.executable, "-m", "dip_jax.main",
       f"--config={os.path.join(ROOT, 'tests', 'tiny_config.py')}",
       f"--workdir={tmp_path / 'w'}", f"--config.image={bomb}"],
      capture_output=True, text=True, cwd=ROOT, timeout=120)
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
  assert lines[-1].startswith("error: image ") and "max_pixels" in lines[-1]

