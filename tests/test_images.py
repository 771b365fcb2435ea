"""Loading and saving: channels, alpha, bit depth, bad files, canvas padding."""

import numpy as np
import pytest
from PIL import Image

from dip_jax.errors import InputError
from dip_jax.io import images
from dip_jax.nets import canvas


def _save(tmp_path, name, arr, mode=None):
  path = str(tmp_path / name)
  Image.fromarray(arr, mode=mode).save(path) if mode else Image.fromarray(arr).save(path)
  return path


@pytest.mark.parametrize("channels", [1, 3])
def test_8bit_round_trip(tmp_path, channels):
  arr = np.random.default_rng(0).integers(0, 256, (17, 23, channels), np.uint8)
  path = _save(tmp_path, "a.png", arr[..., 0] if channels == 1 else arr)
  img = images.load_image(path)
  assert img.pixels.shape == (17, 23, channels) and img.bit_depth == 8
  assert img.alpha is None
  np.testing.assert_array_equal(images.to_uint(img.pixels), arr)


def test_rgba_alpha_is_split_and_passed_through(tmp_path):
  arr = np.random.default_rng(1).integers(0, 256, (9, 11, 4), np.uint8)
  img = images.load_image(_save(tmp_path, "a.png", arr))
  assert img.pixels.shape == (9, 11, 3)
  out = str(tmp_path / "out.png")
  images.save_image(out, img.pixels, img.alpha)
  np.testing.assert_array_equal(np.asarray(Image.open(out)), arr)


def test_16bit_gray_keeps_precision(tmp_path):
  arr = np.random.default_rng(2).integers(0, 65536, (13, 7), np.uint16)
  img = images.load_image(_save(tmp_path, "g16.png", arr))
  assert img.bit_depth == 16 and img.pixels.shape == (13, 7, 1)
  np.testing.assert_array_equal(images.to_uint(img.pixels, 16)[..., 0], arr)


def test_16bit_rgb_round_trip(tmp_path):
  x = np.random.default_rng(3).random((8, 10, 3)).astype(np.float32)
  path = str(tmp_path / "rgb16.png")
  images.save_image(path, x, bit_depth=16)
  img = images.load_image(path)
  assert img.bit_depth == 16
  np.testing.assert_allclose(img.pixels, x, atol=1 / 65535)


def test_jpeg_loads(tmp_path):
  arr = np.full((16, 16, 3), 128, np.uint8)
  path = str(tmp_path / "a.jpg")
  Image.fromarray(arr).save(path, quality=90)
  assert images.load_image(path).pixels.shape == (16, 16, 3)


def test_bad_files_raise_one_clear_error(tmp_path):
  with pytest.raises(InputError, match="not found"):
    images.load_image(str(tmp_path / "missing.png"))
  text = tmp_path / "notes.png"
  text.write_text("this is not an image")
  with pytest.raises(InputError, match="not an image file"):
    images.load_image(str(text))
  with pytest.raises(InputError, match="directory"):
    images.load_image(str(tmp_path))


def test_sample_image_is_built_in():
  x = images.sample_image(64)
  assert x.shape == (64, 64, 3) and 0 <= x.min() and x.max() <= 1


@pytest.mark.parametrize("h,w", [(37, 53), (32, 32), (5, 3)])
def test_canvas_pad_and_crop_round_trip(h, w):
  x = np.random.default_rng(4).random((h, w, 2)).astype(np.float32)
  pad = canvas.canvas_padding(h, w, 16, 32)
  padded = canvas.pad_canvas(x, pad)
  assert padded.shape[0] % 16 == 0 and padded.shape[1] % 16 == 0
  assert min(padded.shape[:2]) >= 32
  np.testing.assert_array_equal(canvas.crop_canvas(padded, pad, h, w), x)
