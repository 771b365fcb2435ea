"""Fourier ptychography: the low-resolution images an LED array makes of a
thin complex object o = a e^{i phi}.

LED j, at (x_j, y_j) in a K x K grid of pitch p at height h below the
sample, tilts the illumination by the wave vector k_j = k0 (x_j, y_j) / r_j
(r_j its distance to the sample centre, k0 = 2 pi / wavelength). The
objective's coherent transfer function is a circular pupil P of radius
NA k0, so the camera records I_j = |F^-1{P(k) O(k - k_j)}|^2 on an n x n
grid, n = N / upsampling for an N x N object. On the discrete grids the
spectrum shift is k_j / dk rounded to whole pixels, dk = 2 pi / (N dx) the
object's frequency step (the same step as the low-resolution grid's, since
N dx = n * pixel), as in G. Zheng's reference simulation, whose parameters
are the defaults: 0.63 um light, NA 0.08, 15 x 15 LEDs at 4 mm pitch 90 mm
above the sample, 2.75 um pixels (at the sample), 4x upsampling, 64 x 64
low-resolution images of a 256 x 256 object.

Scaling: the low-resolution field is (n / N)^2 F^-1_n{crop}, so a constant
object of amplitude a gives the centre LED an image of intensity a^2.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError


@dataclasses.dataclass(frozen=True)
class Geometry:
  wavelength_um: float = 0.63
  na: float = 0.08
  leds: int = 15               # K: a K x K array, centred on the axis
  led_pitch_mm: float = 4.0
  led_height_mm: float = 90.0
  pixel_um: float = 2.75       # low-resolution pixel at the sample
  upsampling: int = 4          # N / n
  lowres: int = 64             # n

  @property
  def size(self) -> int:
    """N, the object's side in pixels."""
    return self.lowres * self.upsampling

  @property
  def pupil_radius(self) -> float:
    """NA k0 / dk in pixels of the (shared) frequency grid."""
    return self.na * self.lowres * self.pixel_um / self.wavelength_um

  def led_positions_mm(self) -> np.ndarray:
    """K^2 x 2 (x, y) of the LEDs, row by row."""
    c = (np.arange(self.leds) - (self.leds - 1) / 2) * self.led_pitch_mm
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], -1)

  def shifts(self, exact: bool = False) -> np.ndarray:
    """K^2 x 2 (row, column) spectrum offsets of the LEDs, in pixels."""
    pos = self.led_positions_mm()
    r = np.sqrt(np.sum(pos ** 2, -1) + self.led_height_mm ** 2)
    sin = pos / r[:, None]
    # sin(theta) k0 / dk = sin(theta) N dx / wavelength.
    s = sin * self.lowres * self.pixel_um / self.wavelength_um
    s = s[:, ::-1]  # (x, y) -> (row, column)
    return s if exact else np.round(s).astype(np.int32)

  def overlap(self) -> float:
    """The fraction of a pupil's area that the next LED's pupil shares (the
    two central neighbours of the middle row): two circles of radius r at
    distance d. NaN for a single LED."""
    k = self.leds
    if k < 2:
      return float("nan")
    s = self.shifts(exact=True).reshape(k, k, 2)
    d = float(np.hypot(*(s[k // 2, k // 2] - s[k // 2, k // 2 - 1])))
    r = self.pupil_radius
    if d >= 2 * r:
      return 0.0
    lens = 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(
        4 * r * r - d * d)
    return lens / (math.pi * r * r)

  def check(self) -> "Geometry":
    """One line for a geometry the grids cannot represent."""
    if not self.na > 0:
      raise InputError(f"NA must be > 0, got {self.na}")
    if self.leds < 1 or self.lowres < 2 or self.upsampling < 1:
      raise InputError("leds, lowres and upsampling must be positive "
                       "(lowres >= 2)")
    if 2 * self.pupil_radius + 1 > self.lowres:
      raise InputError(
          f"the pupil (radius {self.pupil_radius:.1f} px) does not fit the "
          f"{self.lowres} x {self.lowres} low-resolution grid; lower NA or "
          f"raise lowres")
    reach = int(np.max(np.abs(self.shifts()))) + self.lowres // 2
    if reach > self.size // 2:
      raise InputError(
          f"the outer LEDs' spectra reach {reach} px from the centre, past "
          f"the object's spectrum ({self.size // 2} px): use fewer LEDs, a "
          f"smaller pitch or more upsampling")
    return self


def pupil(geometry: Geometry) -> np.ndarray:
  """n x n boolean circle of radius `pupil_radius` about the centre."""
  n = geometry.lowres
  k = np.arange(n) - n // 2
  return (k[:, None] ** 2 + k[None, :] ** 2) <= geometry.pupil_radius ** 2


@functools.lru_cache(maxsize=16)
def _fields_fn(geometry: Geometry):
  g = geometry.check()
  n, big = g.lowres, g.size
  shifts = g.shifts()
  p = jnp.asarray(pupil(g), jnp.complex64)
  # The crop of LED j is centred on -k_j: there O(k - k_j) has its k = 0.
  starts = big // 2 - shifts - n // 2
  scale = (n / big) ** 2

  def fields(obj):  # ... x N x N complex -> ... x K^2 x n x n complex
    spectrum = jnp.fft.fftshift(jnp.fft.fft2(obj), axes=(-2, -1))
    crops = jnp.stack([spectrum[..., r:r + n, c:c + n]
                       for r, c in starts.tolist()], -3)
    return scale * jnp.fft.ifft2(jnp.fft.ifftshift(crops * p, axes=(-2, -1)))
  return fields


def lowres_fields(geometry: Geometry, obj) -> jax.Array:
  """The K^2 low-resolution complex fields of `obj` (... x N x N complex)."""
  return _fields_fn(geometry)(jnp.asarray(obj, jnp.complex64))


DEFAULT_PHASE_RANGE = (-math.pi / 2, math.pi / 2)
AP_LOOPS = 20  # alternating projection's sweeps over the LEDs as a baseline


def as_object(x, phase_range=DEFAULT_PHASE_RANGE) -> jax.Array:
  """B x N x N x 2 real (amplitude, phase in [0, 1]) -> B x N x N complex,
  the phase channel mapped linearly onto `phase_range` (so a net's sigmoid
  output, or a box-constrained x, covers exactly the phases allowed)."""
  lo, hi = phase_range
  phase = lo + (hi - lo) * x[..., 1]
  return (x[..., 0] * jnp.exp(1j * phase)).astype(jnp.complex64)


def as_channels(obj, phase_range=DEFAULT_PHASE_RANGE) -> np.ndarray:
  """N x N complex -> N x N x 2 (amplitude, phase in units of the range),
  the inverse of `as_object` for phases inside the range."""
  lo, hi = phase_range
  obj = np.asarray(obj)
  return np.stack([np.abs(obj), (np.angle(obj) - lo) / (hi - lo)],
                  -1).astype(np.float32)


def score(x, clean) -> dict:
  """Amplitude PSNR and SSIM ("psnr", "ssim": the amplitude is the image
  one looks at) and phase PSNR up to the global offset that intensities
  cannot see ("psnr_phase", phase in units of its range)."""
  from dip_jax import metrics  # pylint: disable=import-outside-toplevel
  x, clean = np.asarray(x, np.float64), np.asarray(clean, np.float64)
  amp = np.clip(x[..., :1], 0, 1)
  phase = x[..., 1:] - np.mean(x[..., 1:] - clean[..., 1:])
  return {"psnr": metrics.psnr(amp, clean[..., :1]),
          "ssim": metrics.ssim(amp.astype(np.float32),
                               clean[..., :1].astype(np.float32)),
          "psnr_phase": metrics.psnr(phase, clean[..., 1:])}


def views(x) -> dict:
  """The two pictures of x: amplitude and phase (in units of its range)."""
  x = np.asarray(x)
  return {"amplitude": x[..., :1], "phase": x[..., 1:2]}


def fourier_ptychography(geometry: Geometry | None = None,
                         phase_range=DEFAULT_PHASE_RANGE, **settings):
  """The operator x = (amplitude, phase in [0, 1]) channels -> the K^2
  complex low-resolution fields (nonlinear in x; the data are their
  intensities: use the "amplitude" objective). Its baseline is alternating
  projection; its scores are `score`'s."""
  from dip_jax import operators  # pylint: disable=import-outside-toplevel
  g = (geometry or Geometry(**settings)).check()
  phase_range = tuple(float(v) for v in phase_range)
  if not phase_range[1] > phase_range[0]:
    raise InputError(f"phase_range must be (low, high) with low < high, got "
                     f"{phase_range}")
  return operators.Operator(
      apply=_apply_fn(g, phase_range), in_shape=(g.size, g.size, 2),
      linear=False, name=f"fourier ptychography {g.leds}x{g.leds}",
      display_fn=lambda op, y: _centre_image(g, y),
      baseline_fn=lambda op, y: ("ap", as_channels(alternating_projection(
          g, y, loops=AP_LOOPS), phase_range)),
      views_fn=views, score_fn=score)


def settings_from_block(block) -> tuple:
  """(Geometry, phase_range) from a config block of Geometry's fields and
  phase_range; an unknown key is one line."""
  block = dict(block or {})
  phase_range = tuple(block.pop("phase_range", DEFAULT_PHASE_RANGE))
  known = {f.name for f in dataclasses.fields(Geometry)}
  unknown = sorted(set(block) - known)
  if unknown:
    raise InputError(f"unknown key operator.fourier_ptychography."
                     f"{unknown[0]}; known: {sorted(known)}, phase_range")
  return Geometry(**block), phase_range


@functools.lru_cache(maxsize=16)
def _apply_fn(geometry: Geometry, phase_range):
  # One function object per setting: compiled fits are keyed on it.
  fields = _fields_fn(geometry)
  return lambda x: fields(as_object(x, phase_range))


def _centre_image(geometry: Geometry, intensities):
  """The centre LED's (bright-field) image, scaled to [0, 1] for viewing."""
  centre = np.asarray(intensities)[geometry.leds ** 2 // 2]
  return (centre / max(float(centre.max()), 1e-12))[..., None]


def simulate(geometry: Geometry, amplitude, phase, *,
             phase_range=DEFAULT_PHASE_RANGE, photons: float = 0.0,
             sigma: float = 0.0, seed: int = 0):
  """(x: N x N x 2 (amplitude, phase in [0, 1]), intensities: K^2 x n x n).

  `amplitude` and `phase` are N x N images in [0, 1]; the phase is mapped
  linearly onto `phase_range` (the operator's convention). Noise: Poisson
  at `photons` per unit intensity (0 = none), then Gaussian of std `sigma`
  (clipped at 0).
  """
  g = geometry.check()
  amplitude, phase = (np.asarray(a, np.float32) for a in (amplitude, phase))
  for name, a in (("amplitude", amplitude), ("phase", phase)):
    if a.shape != (g.size, g.size):
      raise InputError(f"{name} image is {a.shape}, the geometry's object "
                       f"is {g.size} x {g.size}")
  x = np.stack([amplitude, phase], -1)
  intensity = np.abs(np.asarray(
      lowres_fields(g, as_object(x, phase_range)))) ** 2
  rng = np.random.default_rng(seed)
  if photons > 0:
    intensity = rng.poisson(intensity * photons) / photons
  if sigma > 0:
    intensity = np.maximum(intensity + sigma * rng.standard_normal(
        intensity.shape), 0.0)
  return x, intensity.astype(np.float32)


def alternating_projection(geometry: Geometry, intensities,
                           loops: int = 10) -> np.ndarray:
  """The classical sequential Fourier-ptychography update with a fixed
  pupil (G. Zheng's reference code): LED by LED, centre outwards, replace
  the amplitude of the current estimate's low-resolution image by the
  measured one and write its spectrum back inside the pupil. Starts from
  the centre image upsampled (nearest, amplitude only). Returns the N x N
  complex object."""
  g = geometry.check()
  intensities = np.asarray(intensities, np.float64)
  if intensities.shape != (g.leds ** 2, g.lowres, g.lowres):
    raise InputError(f"the stack is {intensities.shape}, the geometry "
                     f"gives {(g.leds ** 2, g.lowres, g.lowres)}")
  n, big, up = g.lowres, g.size, g.upsampling
  scale = (n / big) ** 2
  inside = pupil(g)
  amplitude = np.sqrt(np.maximum(intensities, 0.0))
  centre = g.leds ** 2 // 2
  start = np.kron(amplitude[centre], np.ones((up, up)))
  spectrum = np.fft.fftshift(np.fft.fft2(start))
  shifts = g.shifts()
  order = np.argsort(np.sum(shifts.astype(np.float64) ** 2, -1),
                     kind="stable")
  starts = big // 2 - shifts - n // 2
  for _ in range(loops):
    for j in order:
      r, c = starts[j]
      window = spectrum[r:r + n, c:c + n]
      low = scale * np.fft.ifft2(np.fft.ifftshift(window * inside))
      low = amplitude[j] * np.exp(1j * np.angle(low))
      new = np.fft.fftshift(np.fft.fft2(low)) / scale
      spectrum[r:r + n, c:c + n] = np.where(inside, new, window)
  return np.fft.ifft2(np.fft.ifftshift(spectrum))
