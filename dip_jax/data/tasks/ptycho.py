"""The Fourier-ptychography task: an intensity stack simulated from photos.

The object's amplitude comes from the source image (`config.image` or the
built-in photo), its phase from `config.ptycho.phase_image` or a smooth
synthetic pattern; both are centre-cropped to a square and resized to the
geometry's object size. The stack is `ptycho.simulate`'s (Poisson at
`photons` per unit intensity, then Gaussian `sigma`), seeded by
`config.seed`, so the clean object is known and every method is scored
against it: amplitude PSNR, and phase PSNR up to the global offset.
"""

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import problem as problem_lib
from dip_jax.data import sources
from dip_jax.data import tasks
from dip_jax.errors import InputError
from dip_jax.io import images
from dip_jax.operators import ptycho


def synthetic_phase(size: int) -> np.ndarray:
  """A smooth phase pattern in [0.1, 0.9] (units of the phase range): two
  crossed waves, no edges in common with any photo."""
  yy, xx = np.mgrid[0:size, 0:size] / max(size - 1.0, 1.0)
  return (0.5 + 0.4 * np.sin(2 * np.pi * (xx + 0.5 * yy))
          * np.cos(3 * yy)).astype(np.float32)


def square(x: np.ndarray, size: int) -> np.ndarray:
  """The luminance of `x` (H x W x C in [0, 1]), centre-cropped to a square
  and resized to size x size (antialiased when shrinking)."""
  lum = np.asarray(x, np.float32).mean(-1)
  h, w = lum.shape
  side = min(h, w)
  t, l = (h - side) // 2, (w - side) // 2
  lum = lum[t:t + side, l:l + side]
  if side != size:
    lum = np.asarray(jax.image.resize(jnp.asarray(lum), (size, size),
                                      "cubic", antialias=True))
  return np.clip(lum, 0.0, 1.0)


@tasks.register("ptycho")
def build(config) -> problem_lib.Problem:
  """The simulated stack of config.operator.fourier_ptychography's geometry."""
  if config.operator.name != "fourier_ptychography":
    raise InputError(f"task 'ptycho' needs operator.name "
                     f"'fourier_ptychography', got {config.operator.name!r}")
  geometry, phase_range = ptycho.settings_from_block(
      config.operator.get("fourier_ptychography"))
  op = ptycho.fourier_ptychography(geometry, phase_range)
  settings = config.ptycho
  floor = float(settings.amplitude_floor)
  if not 0 <= floor < 1:
    raise InputError(f"ptycho.amplitude_floor must be in [0, 1), got {floor}")
  for key in ("photons", "sigma"):
    if not float(settings[key]) >= 0:
      raise InputError(f"ptycho.{key} must be >= 0, got {settings[key]}")
  size = op.in_shape[0]
  src = sources.load_source(config)
  notes = list(src.notes)
  if src.pixels.shape[:2] != (size, size):
    notes.append(f"amplitude: {src.source} centre-cropped and resized to "
                 f"{size} x {size}, the object's size")
  amplitude = floor + (1 - floor) * square(src.pixels, size)
  if settings.phase_image:
    phase_src = images.load_image(settings.phase_image,
                                  max_pixels=int(config.max_pixels),
                                  what="phase image")
    phase = square(phase_src.pixels, size)
  else:
    phase = synthetic_phase(size)
  clean, intensity = ptycho.simulate(
      geometry, amplitude, phase, phase_range=phase_range,
      photons=float(settings.photons), sigma=float(settings.sigma),
      seed=int(config.seed))
  notes.append(f"{geometry.leds} x {geometry.leds} LEDs at "
               f"{geometry.led_pitch_mm:g} mm: {100 * geometry.overlap():.0f} "
               f"% pupil overlap")
  return problem_lib.Problem(
      observed=intensity, clean=clean, mask=None, out_shape=(size, size, 2),
      operator=op, objective=config.loss, source=src.source,
      notes=tuple(notes))
