"""The Fourier-ptychography forward model (dip_jax/operators/ptycho.py)
against an independent numpy model, its energy bookkeeping, the overlap it
reports and its refusals; alternating projection and DIP on a small object
(one tiny fit)."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import dip_jax
from conftest import tiny_config
from dip_jax import config_lib
from dip_jax import data as data_lib
from dip_jax import metrics
from dip_jax.data.tasks import ptycho as ptycho_task
from dip_jax.errors import InputError
from dip_jax.operators import ptycho

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A 64 px object, 16 px images, 5 x 5 LEDs: Zheng's optics, smaller grids.
SMALL = ptycho.Geometry(leds=5, lowres=16)


def _object(size, seed=0):
  rng = np.random.default_rng(seed)
  amplitude = rng.uniform(0.2, 1.0, (size, size))
  phase = rng.uniform(-1.0, 1.0, (size, size))
  return amplitude * np.exp(1j * phase)


def _numpy_fields(g, obj):
  """Loops over LEDs: tilt the object by exp(i k_j . x) in real space (an
  exact whole-pixel shift of its spectrum), take the n x n centre of the
  spectrum, apply the pupil, back to an n x n image."""
  big, n = g.size, g.lowres
  rows, cols = np.meshgrid(np.arange(big), np.arange(big), indexing="ij")
  k = np.arange(n) - n // 2
  pupil = (k[:, None] ** 2 + k[None, :] ** 2) <= g.pupil_radius ** 2
  out = []
  for sr, sc in g.shifts():
    tilted = obj * np.exp(2j * np.pi * (sr * rows + sc * cols) / big)
    spectrum = np.fft.fftshift(np.fft.fft2(tilted))
    lo = big // 2 - n // 2
    crop = spectrum[lo:lo + n, lo:lo + n] * pupil
    out.append((n / big) ** 2 * np.fft.ifft2(np.fft.ifftshift(crop)))
  return np.stack(out)


def test_forward_model_matches_a_direct_numpy_model():
  obj = _object(SMALL.size)
  ours = np.asarray(ptycho.lowres_fields(SMALL, obj))
  ref = _numpy_fields(SMALL, obj)
  assert ours.shape == (25, 16, 16)
  rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
  assert rel < 1e-5, rel


def test_energy_of_a_band_limited_object_passes_the_centre_pupil():
  """Parseval: an object whose spectrum lies inside the centre LED's pupil
  keeps all its energy in that image (mean intensity = mean |o|^2), and an
  off-axis LED sees only part of it."""
  g, big = SMALL, SMALL.size
  k = np.fft.fftfreq(big) * big
  inside = (k[:, None] ** 2 + k[None, :] ** 2) <= (g.pupil_radius - 1) ** 2
  rng = np.random.default_rng(1)
  spectrum = (rng.standard_normal((big, big))
              + 1j * rng.standard_normal((big, big))) * inside
  obj = np.fft.ifft2(spectrum)
  intensity = np.abs(np.asarray(ptycho.lowres_fields(g, obj))) ** 2
  centre = g.leds ** 2 // 2
  np.testing.assert_allclose(intensity[centre].mean(),
                             np.mean(np.abs(obj) ** 2), rtol=1e-5)
  assert intensity[0].mean() < 0.9 * intensity[centre].mean()
  # A constant object of amplitude a: the centre image is a^2 everywhere.
  flat = np.abs(np.asarray(ptycho.lowres_fields(
      g, np.full((big, big), 0.7 + 0j)))[centre]) ** 2
  np.testing.assert_allclose(flat, 0.49, rtol=1e-5)


def test_overlap_follows_the_led_pitch():
  g = ptycho.Geometry()
  assert g.size == 256 and g.pupil_radius == pytest.approx(22.35, abs=0.01)
  # Zheng's reference setting: about 65 % overlap of neighbouring pupils.
  assert g.overlap() == pytest.approx(0.651, abs=0.002)
  overlaps = [dataclasses.replace(g, led_pitch_mm=p).overlap()
              for p in (2, 4, 6, 8)]
  assert overlaps == sorted(overlaps, reverse=True)
  # The analytic lens area against counting pixels of two shifted disks.
  r, d = g.pupil_radius, np.hypot(*np.diff(
      g.shifts(exact=True).reshape(15, 15, 2)[7, 6:8], axis=0)[0])
  yy, xx = np.mgrid[-40:40:0.05, -40:40:0.05]
  a = xx ** 2 + yy ** 2 <= r ** 2
  b = (xx - d) ** 2 + yy ** 2 <= r ** 2
  assert g.overlap() == pytest.approx((a & b).sum() / a.sum(), abs=0.005)


def test_operator_and_simulation_through_the_api():
  g = SMALL
  op = ptycho.fourier_ptychography(g)
  amplitude = np.random.default_rng(2).uniform(0.3, 1.0, (g.size, g.size))
  phase = np.random.default_rng(3).uniform(0, 1, (g.size, g.size))
  x, intensity = ptycho.simulate(g, amplitude, phase)
  assert x.shape == (64, 64, 2) and intensity.shape == (25, 16, 16)
  np.testing.assert_array_equal(x[..., 1], phase.astype(np.float32))
  field = np.asarray(op(x[None]))[0]
  np.testing.assert_allclose(np.abs(field) ** 2, intensity, rtol=1e-4,
                             atol=1e-6)
  # Poisson noise at 1000 photons per unit intensity: variance I / 1000.
  noisy = ptycho.simulate(g, amplitude, phase, photons=1000.0, seed=1)[1]
  np.testing.assert_allclose(np.mean((noisy - intensity) ** 2),
                             intensity.mean() / 1000.0, rtol=0.1)
  assert op.display(intensity).shape == (16, 16, 1)
  # The engine refuses a stack of the wrong size in one line.
  with pytest.raises(InputError, match="observation"):
    dip_jax.reconstruct(intensity[:24], op, objective="amplitude",
                        num_steps=1)


@pytest.mark.parametrize("settings, words", [
    (dict(na=0.0), "NA must be > 0"),
    (dict(na=-0.1), "NA must be > 0"),
    (dict(na=0.3, lowres=16), "does not fit"),
    (dict(leds=15, lowres=16, led_pitch_mm=8.0), "past the object's spectrum"),
])
def test_bad_geometry_is_one_line(settings, words):
  with pytest.raises(InputError, match=words) as err:
    ptycho.Geometry(**settings).check()
  assert "\n" not in str(err.value)


def test_simulation_refuses_images_of_the_wrong_size():
  with pytest.raises(InputError, match="amplitude image is"):
    ptycho.simulate(SMALL, np.ones((32, 32)), np.ones((64, 64)))


def _phase_psnr(est, ref):
  """PSNR of phase images in [0, 1] (the operator's phase range), up to the
  global offset phase retrieval cannot see."""
  est = est - np.mean(est - ref)
  return metrics.psnr(est[..., None], ref[..., None])


def test_alternating_projection_and_dip_recover_a_small_object():
  """High overlap (65 %, Zheng's optics on a 64 px object, 5 x 5 LEDs), no
  noise. Measured (amplitude / phase PSNR, dB): the upsampled centre image
  15.93 / 14.15; alternating projection, 20 loops, 20.81 / 30.29; DIP
  (3 levels of 16 channels, 500 steps) 20.96 / 37.98. The resolution limit
  of 5 x 5 LEDs is what keeps the amplitude near 21 dB."""
  g = SMALL
  c = config_lib.base_config()
  c.sample_size = g.size
  amplitude = 0.2 + 0.8 * data_lib.build_problem(c).clean.mean(-1)
  phase = ptycho_task.synthetic_phase(g.size)
  _, intensity = ptycho.simulate(g, amplitude, phase)
  start = np.kron(np.sqrt(intensity[g.leds ** 2 // 2]),
                  np.ones((g.upsampling, g.upsampling)))
  start_db = metrics.psnr(start[..., None], amplitude[..., None])

  obj = ptycho.alternating_projection(g, intensity, loops=20)
  ap_amp = metrics.psnr(np.clip(np.abs(obj), 0, 1)[..., None],
                        amplitude[..., None])
  ap_phase = _phase_psnr((np.angle(obj) + np.pi / 2) / np.pi, phase)
  assert ap_amp > 20.0 and ap_amp > start_db + 4.0, (ap_amp, start_db)
  assert ap_phase > 28.0, ap_phase

  width = {"net.channels_down": (16,) * 3, "net.channels_up": (16,) * 3,
           "input.channels": 16}
  result = dip_jax.reconstruct(intensity, ptycho.fourier_ptychography(g),
                               objective="amplitude", config=tiny_config(),
                               num_steps=500, **width)
  rec = result.reconstruction
  assert rec.shape == (g.size, g.size, 2)
  dip_amp = metrics.psnr(rec[..., :1], amplitude[..., None])
  assert dip_amp > 20.0 and dip_amp > start_db + 4.0, (dip_amp, start_db)
  assert _phase_psnr(rec[..., 1], phase) > 28.0


def _ptycho_config(**overrides):
  c = config_lib.task_config("ptycho.py", "quick")
  c.update_from_flattened_dict({
      "operator.fourier_ptychography.lowres": 16,
      "operator.fourier_ptychography.leds": 5, "sample_size": 64,
      **overrides})
  return c


def test_task_builds_the_simulated_stack_from_the_config():
  p = data_lib.build_problem(_ptycho_config())
  assert p.observed.shape == (25, 16, 16) and p.out_shape == (64, 64, 2)
  assert p.clean[..., 0].min() >= 0.2 - 1e-6  # the amplitude floor
  assert any("65 % pupil overlap" in n for n in p.notes)
  # Poisson at 1000 photons: the stack is not the noiseless one.
  quiet = data_lib.build_problem(_ptycho_config(**{"ptycho.photons": 0.0}))
  assert 0 < np.abs(p.observed - quiet.observed).max() < 0.2
  name, ap = metrics.corrupted_baseline(p)
  scores = metrics.score(p, ap)
  assert name == "ap" and set(scores) == {"psnr", "ssim", "psnr_phase"}
  # A phase offset costs nothing: intensities cannot see it.
  shifted = p.clean + np.array([0.0, 0.05], np.float32)
  assert metrics.score(p, shifted)["psnr_phase"] > 100


@pytest.mark.parametrize("overrides, words", [
    ({"operator.name": "identity"}, "needs operator.name"),
    ({"ptycho.amplitude_floor": 1.0}, "amplitude_floor"),
    ({"ptycho.photons": -1.0}, "photons must be >= 0"),
    ({"operator.fourier_ptychography.na": 0.0}, "NA must be > 0"),
    ({"operator.fourier_ptychography.led_pitch_mm": 20.0}, "reach"),
])
def test_task_refuses_bad_settings_in_one_line(overrides, words):
  with pytest.raises(InputError, match=words):
    data_lib.build_problem(_ptycho_config(**overrides))


def test_cli_run_writes_amplitude_phase_and_the_ap_baseline(tmp_path):
  cmd = [sys.executable, "-m", "dip_jax.main",
         f"--config={os.path.join(ROOT, 'configs', 'ptycho.py')}:quick",
         f"--workdir={tmp_path}",
         "--config.operator.fourier_ptychography.lowres=16",
         "--config.operator.fourier_ptychography.leds=5",
         "--config.sample_size=64", "--config.num_steps=200",
         "--config.net.channels_down=(16,16,16)",
         "--config.net.channels_up=(16,16,16)",
         "--config.net.channels_skip=(4,4,4)", "--config.input.channels=16",
         "--config.checkpoint_every=0", "--config.snapshot_every=0"]
  proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr[-2000:]
  for name in ("reconstruction_amplitude.png", "reconstruction_phase.png",
               "reconstruction.npy", "ap_amplitude.png", "corrupted.png",
               "comparison.png", "summary.json"):
    assert (tmp_path / name).exists(), name
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert np.load(tmp_path / "reconstruction.npy").shape == (64, 64, 2)
  for key in ("psnr", "psnr_phase", "ap_psnr", "ap_psnr_phase"):
    assert np.isfinite(summary[key]), key
  assert "reconstruction_amplitude.png" in proc.stdout
