r"""Fourier ptychography phase retrieval (Boominathan et al. 2018 fitted a
deep image prior to it; not in the DIP paper).

A thin complex object (amplitude from the image, phase from
--config.ptycho.phase_image or a smooth synthetic pattern) is imaged under
a K x K LED array; the camera records only intensities. G. Zheng's
reference optics: 0.63 um light, NA 0.08, 15 x 15 LEDs at 4 mm pitch 90 mm
below the sample, 2.75 um pixels, 4x upsampling: 225 images of 64 x 64 px
of a 256 x 256 object, 65 % pupil overlap. Poisson noise at 1000 photons
per unit intensity. The net has two outputs (amplitude through the
sigmoid, phase in units of phase_range), fitted with the amplitude loss;
alternating projection (AP, 20 sweeps) is the baseline it is scored
beside: amplitude PSNR and phase PSNR up to the global offset.

  python -m dip_jax.main --config=configs/ptycho.py --workdir=/tmp/fp \
      [--config.image=amp.png --config.ptycho.phase_image=phase.png]
Lower overlap: --config.operator.fourier_ptychography.led_pitch_mm=8
(33 %). Outputs: reconstruction_{amplitude,phase}.png, reconstruction.npy,
ap_*.png, corrupted.png (the bright-field image), comparison.png.
Quick (built-in photo at 128 px, 15 x 15 images of 32 px, 32-ch net):
  python -m dip_jax.main --config=configs/ptycho.py:quick --workdir=/tmp/fpq
Expected (quick, built-in photo, synthetic phase, seed 0): amplitude 27.6 dB,
phase 45.1 dB, beside alternating projection 24.6 / 32.5; about 3 minutes on 2
cores (11 it/s).
"""

import math

import ml_collections

from dip_jax import config_lib


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False)
  c = config_lib.base_config()
  c.task = "ptycho"
  c.operator.name = "fourier_ptychography"
  c.operator.fourier_ptychography = ml_collections.ConfigDict(dict(
      wavelength_um=0.63, na=0.08, leds=15, led_pitch_mm=4.0,
      led_height_mm=90.0, pixel_um=2.75, upsampling=4, lowres=64,
      phase_range=(-math.pi / 2, math.pi / 2)))
  c.ptycho = ml_collections.ConfigDict()
  c.ptycho.phase_image = ""       # "" = a smooth synthetic phase pattern
  c.ptycho.photons = 1000.0       # Poisson photons per unit intensity (0 =
                                  # no shot noise)
  c.ptycho.sigma = 0.0            # Gaussian read noise (intensity units)
  c.ptycho.amplitude_floor = 0.2  # amplitude = floor + (1 - floor) image:
                                  # a phase needs light to be seen
  c.loss = "amplitude"
  c.corruption.kind = "none"      # the noise is the stack's (c.ptycho)
  c.tv.enabled = False            # image TV needs a linear operator; AP is
                                  # the baseline here
  c.sample_size = 256
  c.num_steps = 3000
  c.input.reg_noise_std = 0.03
  c.quick_hint = "configs/ptycho.py:quick"
  if args.quick:
    c.operator.fourier_ptychography.lowres = 32
    config_lib.narrow_for_cpu(c)
    c.num_steps = 2000
  return c
