"""Inputs a new user brings that the other tests do not hold: a legal but
huge photo (refused from its header, before a pixel is decoded, on the
command line and in a sweep), and arrays handed to the Python API as they
come from PIL or scikit-image (uint8), with masks of the wrong size or a
mistyped method. Each ends in one line, never a traceback."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import png
import pytest
from PIL import Image

import dip_jax
from conftest import tiny_config
from dip_jax import data as data_lib
from dip_jax import methods, operators
from dip_jax.cli import run
from dip_jax.errors import InputError
from dip_jax.fit import budget
from dip_jax.io import images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny_config.py")
BIG = 10_000
# Peak RSS a refusal of the 10000 x 10000 photo may reach (the issue's
# acceptance: ~0.5 GiB). Measured on the 2-core CPU machine with a cold
# compilation cache (a fresh JAX_COMPILATION_CACHE_DIR, as `_run_measured`
# gives it): `python -c "import dip_jax.cli.run"` alone peaks at 0.20 GiB, the
# CLI's and the sweep's refusals at 0.27-0.28 GiB, refused from the fit's
# floor before it is compiled (compiling it first peaked at 0.78 GiB).
# Decoding the photo could not pass: one float32 copy of its pixels is
# 1.1 GiB (the path before the header check reached 6.6 GiB).
PEAK_LIMIT_KIB = 2 ** 19


def _big_png(path, side=BIG):
  """A side x side RGB PNG written row by row (1.3 MB on disk, under a
  second): the size of a legal high-resolution photo."""
  row = bytes(3 * side)
  with open(path, "wb") as f:
    png.Writer(side, side, greyscale=False, bitdepth=8,
               compression=1).write_packed(f, (row for _ in range(side)))
  return str(path)


@pytest.fixture(scope="module")
def big_png(tmp_path_factory):
  folder = tmp_path_factory.mktemp("big")
  return _big_png(folder / "photo.png")


def _run_measured(args, cache_dir, cwd=ROOT):
  """(exit code, stdout, stderr, peak RSS in KiB) of `python args...`, run
  from a fresh parent whose only child it is, so RUSAGE_CHILDREN's peak is
  this command's alone; with JAX's compilation cache in the empty
  `cache_dir`, so nothing compiled earlier is read back instead of built."""
  code = ("import json, resource, subprocess, sys\n"
          "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
          "print(json.dumps([p.returncode, p.stdout, p.stderr, resource."
          "getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))")
  env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(cache_dir)}
  out = subprocess.run([sys.executable, "-c", code, sys.executable, *args],
                       capture_output=True, text=True, cwd=cwd, timeout=900,
                       check=True, env=env)
  return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------- a photo too large

def test_read_shape_reads_the_header_only(big_png, tmp_path):
  assert images.read_shape(big_png) == (BIG, BIG, 3)
  with pytest.raises(InputError, match=r"10000x10000 \(100 megapixels\).*"
                     r"max_pixels=100000000$"):
    images.read_shape(big_png, max_pixels=BIG * BIG - 1)
  # 16-bit grey (pypng's header), grey + alpha, palette, an EXIF-turned JPEG.
  gray16 = tmp_path / "g16.png"
  images.save_image(str(gray16), np.zeros((5, 7, 1)), bit_depth=16)
  assert images.read_shape(gray16) == (5, 7, 1)
  Image.new("LA", (7, 5)).save(tmp_path / "la.png")
  assert images.read_shape(tmp_path / "la.png") == (5, 7, 1)
  Image.new("P", (7, 5)).save(tmp_path / "p.png")
  assert images.read_shape(tmp_path / "p.png") == (5, 7, 3)
  exif = Image.Exif()
  exif[0x0112] = 6  # turned by 90 degrees
  Image.new("RGB", (7, 5)).save(tmp_path / "t.jpg", exif=exif)
  assert images.read_shape(tmp_path / "t.jpg") == (7, 5, 3)
  assert images.load_image(tmp_path / "t.jpg").pixels.shape == (7, 5, 3)


@pytest.mark.parametrize("overrides", [
    {},
    {"operator.name": "downsample", "operator.downsample.factor": 4,
     "corruption.kind": "none"},
    {"mask.kind": "random", "corruption.kind": "none"},
    {"corrupted": True, "center_crop": 20},
])
def test_the_stand_in_has_the_shapes_of_the_decoded_problem(tmp_path,
                                                            overrides):
  path = tmp_path / "odd.png"
  Image.fromarray(np.full((30, 41, 3), 90, np.uint8)).save(path)
  cfg = tiny_config(image=str(path), **overrides)
  real, stand_in = (data_lib.build_problem(cfg),
                    data_lib.shape_problem(cfg))
  shape = lambda a: None if a is None else np.shape(a)
  assert stand_in.out_shape == real.out_shape
  for field in ("observed", "clean", "mask"):
    assert shape(getattr(stand_in, field)) == shape(getattr(real, field)), \
        field
  assert stand_in.image_measurement == real.image_measurement


def test_the_header_check_runs_the_budget_on_the_stand_in(tmp_path,
                                                          monkeypatch):
  path = tmp_path / "small.png"
  Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(path)
  cfg = tiny_config(image=str(path), memory_limit_gb=1e-4)
  calls = []
  prepare = methods.prepare
  monkeypatch.setattr(methods, "prepare",
                      lambda *a: calls.append(a) or prepare(*a))
  run.check_before_decoding(cfg)  # small: left to the check after decoding
  assert not calls
  monkeypatch.setattr(budget, "HEADER_CHECK_BYTES", 0)
  compiled = []
  compile_ = jax.stages.Lowered.compile
  monkeypatch.setattr(jax.stages.Lowered, "compile",
                      lambda *a, **k: compiled.append(a) or compile_(*a, **k))
  # Over the limit from the floor alone: refused before the fit compiles.
  with pytest.raises(InputError, match=r"^this fit needs at least about "
                     r"\S+ GiB \(32x32 px on a 32x32 canvas, 1 restart\(s\)\)"
                     r" but 0.0 GiB are memory_limit_gb"):
    run.check_before_decoding(cfg)
  assert len(calls) == 1 and not compiled
  # A fit that fits stops at the check: nothing after it (z, state) is made.
  cfg.memory_limit_gb = 1e3
  run.check_before_decoding(cfg)
  assert len(calls) == 2 and compiled


@pytest.mark.parametrize("overrides", [
    {},
    {"num_restarts": 2, "restart_group": 2, "precision": "bfloat16"},
    {"net.preset": "unet", "net.width": 8, "mask.kind": "random",
     "corruption.kind": "none", "ema_decay": 0.0},
])
def test_the_floor_is_below_what_xla_counts(overrides):
  """budget.floor_bytes, which refuses a fit before it is compiled, never
  says more than XLA's own count of the compiled fit. Also checked on the
  denoise / sr / inpaint configs, quick and full, at 128 and 256 px: the
  floor was 11-28% of XLA's peak."""
  cfg = tiny_config(sample_size=64, memory_limit_gb=1e3, **overrides)
  problem = data_lib.build_problem(cfg)
  seen = {}
  floor_bytes, estimate_of = budget.floor_bytes, budget.estimate_of
  with pytest.MonkeyPatch.context() as m:
    m.setattr(budget, "floor_bytes",
              lambda *a: seen.setdefault("floor", floor_bytes(*a)))
    m.setattr(budget, "estimate_of",
              lambda *a: seen.setdefault("xla", estimate_of(*a)))
    budget.checked_only(lambda: methods.prepare("dip", problem, cfg), cfg)
  floor, what = seen["floor"]
  assert what.startswith("64x64 px on a 64x64 canvas"), what
  assert 0 < floor <= seen["xla"].peak_bytes, (floor, seen["xla"])


def test_cli_refuses_a_photo_too_large_for_the_fit_from_its_header(
    big_png, tmp_path):
  workdir = tmp_path / "w"
  rc, _, err, peak_kib = _run_measured(
      ["-m", "dip_jax.main", f"--config={TINY}", f"--workdir={workdir}",
       f"--config.image={big_png}", "--config.memory_limit_gb=1"],
      tmp_path / "jax_cache")
  lines = [l for l in err.splitlines() if l.strip()]
  assert rc == 2 and "Traceback" not in err, err
  assert lines[-1].startswith("error: this fit needs at least about ") and \
      "10000x10000 px" in lines[-1] and "1.0 GiB are memory_limit_gb" in \
      lines[-1], lines[-1]
  assert peak_kib <= PEAK_LIMIT_KIB, f"peak RSS {peak_kib / 2 ** 20:.2f} GiB"
  assert not workdir.exists()


def test_a_sweep_job_on_a_photo_too_large_fails_from_its_header(big_png,
                                                                tmp_path):
  rc, out, err, peak_kib = _run_measured(
      ["-m", "dip_jax.cli.sweep",
       f"--config={os.path.join(ROOT, 'tests', 'sweep_tiny.py')}",
       f"--workdir={tmp_path / 's'}",
       f"--config.sweep.data_dir={os.path.dirname(big_png)}",
       "--config.sweep.settings=({},)", "--config.memory_limit_gb=1"],
      tmp_path / "jax_cache")
  assert rc == 1 and "Traceback" not in out + err, out + err
  error = (tmp_path / "s" / "default" / "photo" / "seed0" /
           "error.txt").read_text()
  assert error.startswith("InputError: this fit needs at least about "), \
      error
  assert peak_kib <= PEAK_LIMIT_KIB, f"peak RSS {peak_kib / 2 ** 20:.2f} GiB"


# ------------------------------------------- what the Python API is handed

def _photo(h=32, w=32):
  return np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8)


def test_a_mask_of_another_size_is_named_with_both_shapes():
  y = _photo().astype(np.float32) / 255
  with pytest.raises(InputError) as e:
    dip_jax.reconstruct(y, operators.inpainting(np.ones((16, 16))))
  assert str(e.value) == ("the mask (weights) of operator 'inpainting' of "
                          "shape (16, 16, 1) cannot weight the measurement "
                          "(y) of shape (32, 32, 3)")
  with pytest.raises(InputError, match=r"^weights of shape \(32, 16\) "
                     r"cannot weight the measurement \(y\) of shape "
                     r"\(32, 32, 3\)$"):
    dip_jax.reconstruct(y, weights=np.ones((32, 16), bool))
  with pytest.raises(InputError, match="values outside 0 / 1"):
    dip_jax.reconstruct(y, weights=np.full((32, 32), 3))


def test_bool_and_integer_masks_are_weights_of_0_and_1():
  y = _photo().astype(np.float32) / 255
  observed = np.random.default_rng(1).random((32, 32)) > 0.5
  for mask in (observed, observed.astype(np.int64),
               observed.astype(np.uint8) * 255):
    for kw in ({"weights": mask}, {"operator": operators.inpainting(mask)}):
      r = dip_jax.reconstruct(y, method="bicubic", **kw)
      shown = np.where(observed[..., None], y, operators.NEUTRAL)
      np.testing.assert_allclose(r.reconstruction, shown, atol=1e-6)


@pytest.mark.parametrize("dtype,peak", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_images_are_scaled_as_img_as_float(dtype, peak):
  raw = (_photo().astype(np.uint32) * peak // 255).astype(dtype)
  clean = np.flipud(raw)
  r = dip_jax.reconstruct(raw, method="bicubic", clean=clean)
  np.testing.assert_allclose(r.reconstruction, raw / peak, atol=1e-6)
  want = dip_jax.metrics.psnr(np.float32(raw / peak),
                              np.float32(clean / peak))
  assert abs(r.info["psnr"] - want) < 1e-3, (r.info["psnr"], want)


def test_signed_integers_and_a_wrong_clean_image_are_refused():
  with pytest.raises(InputError, match=r"^the observation has dtype int64; "
                     r"give floats in \[0, 1\] or uint8 / uint16"):
    dip_jax.reconstruct(np.zeros((8, 8, 3), np.int64))
  y = np.zeros((8, 8, 3), np.float32)
  with pytest.raises(InputError, match=r"^the clean image has shape "
                     r"\(8, 4, 3\) but x has shape \(8, 8, 3\)$"):
    dip_jax.reconstruct(y, clean=np.zeros((8, 4, 3)))
  with pytest.raises(InputError, match="clean image has dtype int16"):
    dip_jax.reconstruct(y, clean=np.zeros((8, 8, 3), np.int16))
  with pytest.raises(InputError, match="clean image has non-finite"):
    dip_jax.reconstruct(y, clean=np.full((8, 8, 3), np.inf))
  with pytest.raises(InputError, match="observation has dtype <U"):
    dip_jax.reconstruct("photo.png")


def test_integer_counts_stay_counts_for_the_poisson_objective():
  counts = np.full((8, 8, 1), 7, np.int64)
  from dip_jax import api  # pylint: disable=g-import-not-at-top
  problem = api._problem(counts, None, "poisson", None, None, None)  # pylint: disable=protected-access
  assert float(problem.observed.max()) == 7.0


def test_messages_use_the_words_of_the_interface_called(tmp_path):
  y = np.zeros((8, 8, 3), np.float32)
  with pytest.raises(InputError) as e:
    dip_jax.reconstruct(y, method="dipp")
  assert str(e.value).startswith("unknown method 'dipp'; known: [")
  assert "'dip'" in str(e.value)
  with pytest.raises(InputError, match="config.prior is now config.method"):
    dip_jax.reconstruct(y, prior="tv")
  proc = subprocess.run(
      [sys.executable, "-m", "dip_jax.main", f"--config={TINY}",
       f"--workdir={tmp_path / 'w'}", "--config.method=dipp"],
      capture_output=True, text=True, cwd=ROOT, timeout=300)
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert lines[-1].startswith("error: unknown method 'dipp'"), lines
