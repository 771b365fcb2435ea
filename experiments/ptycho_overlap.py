r"""Fourier ptychography vs LED overlap: alternating projection, TV, DIP.

Boominathan et al. (2018) fitted a deep image prior to Fourier-ptychography
intensities: classical alternating projection (AP) needs neighbouring pupils
to overlap strongly in the Fourier plane, and a prior should help where they
do not. This simulates one object (amplitude: the built-in photo's
luminance in [0.2, 1]; phase: a smooth synthetic pattern in [0, 1] mapped to
[-pi/2, pi/2]) under G. Zheng's optics (0.63 um, NA 0.08, LEDs 90 mm below,
2.75 um pixels, 4x upsampling) for several LED pitches, i.e. pupil overlaps,
at two noise levels (Poisson at two photon counts), and reconstructs each
stack three ways:

  AP    the sequential update with a fixed pupil, 20 loops, from the
        upsampled centre image (dip_jax.operators.ptycho);
  TV    projected Adam on x = (amplitude, phase) with a smoothed TV prior and
        the amplitude loss (method tv_gradient);
  DIP   a skip net with two outputs (sigmoid: amplitude, phase in [0, 1])
        fitted to the measured amplitudes, EMA of the outputs.

Scores: amplitude PSNR, and phase PSNR up to the global offset that
intensities cannot see (phase in units of its pi range). With a fixed LED
count, a larger pitch both lowers the overlap and widens the synthetic
aperture (more of the object's spectrum is measured), so the two effects
are mixed in this sweep, as they are in a real LED array.

  python experiments/ptycho_overlap.py --quick   # 64 px object, 5 x 5 LEDs
  python experiments/ptycho_overlap.py           # 256 px, 15 x 15 (Zheng's)
"""

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # pylint: disable=wrong-import-position

import numpy as np  # pylint: disable=wrong-import-position,g-bad-import-order

import dip_jax  # pylint: disable=wrong-import-position
from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax import data as data_lib
from dip_jax.data.tasks import ptycho as ptycho_task  # pylint: disable=wrong-import-position
from dip_jax.io import images  # pylint: disable=wrong-import-position
from dip_jax.operators import ptycho  # pylint: disable=wrong-import-position


def test_object(size: int, amplitude_image: str = "", phase_image: str = ""):
  """(amplitude in [0.2, 1], phase in [0, 1]) of size x size: the images'
  luminance centre-cropped and resized (the CLI task's recipe); defaults:
  the built-in photo and a smooth synthetic phase."""
  c = config_lib.base_config()
  c.sample_size, c.image = size, amplitude_image
  amplitude = 0.2 + 0.8 * ptycho_task.square(
      data_lib.load_source(c).pixels, size)
  phase = (ptycho_task.square(images.load_image(phase_image).pixels, size)
           if phase_image else ptycho_task.synthetic_phase(size))
  return amplitude.astype(np.float32), phase.astype(np.float32)


def scores(amplitude, phase, true_amplitude, true_phase):
  s = ptycho.score(np.stack([amplitude, phase], -1),
                   np.stack([true_amplitude, true_phase], -1))
  return s["psnr"], s["psnr_phase"]


def reconstruct(geometry, intensity, args):
  """{method: (amplitude, phase in [0, 1], seconds)}."""
  out = {}
  t = time.perf_counter()
  obj = ptycho.alternating_projection(geometry, intensity, loops=20)
  ap = ptycho.as_channels(obj)
  out["AP"] = (ap[..., 0], ap[..., 1], time.perf_counter() - t)
  op = ptycho.fourier_ptychography(geometry)
  t = time.perf_counter()
  tv = dip_jax.reconstruct(intensity, op, method="tv_gradient",
                           objective="amplitude",
                           **{"tv_gradient.lam": args.tv_lam,
                              "tv_gradient.num_steps": args.tv_steps,
                              "tv_gradient.learning_rate": 0.01})
  out["TV"] = (tv.reconstruction[..., 0], tv.reconstruction[..., 1],
               time.perf_counter() - t)
  width = args.width
  t = time.perf_counter()
  fit = dip_jax.reconstruct(
      intensity, op, objective="amplitude", num_steps=args.steps,
      seed=args.seed, **{"net.channels_down": (width,) * args.depth,
                         "net.channels_up": (width,) * args.depth,
                         "net.channels_skip": (4,) * args.depth,
                         "input.channels": width, "tv.enabled": False})
  out["DIP"] = (fit.reconstruction[..., 0], fit.reconstruction[..., 1],
                time.perf_counter() - t)
  return out


def main():
  p = common.parser("ptycho_overlap", __doc__)
  p.add_argument("--pitches", default="",
                 help="LED pitches in mm (default: by --quick)")
  p.add_argument("--photons", default="1000,100",
                 help="Poisson photon counts per unit intensity")
  p.add_argument("--steps", type=int, default=0, help="DIP steps")
  p.add_argument("--tv_steps", type=int, default=1000)
  p.add_argument("--tv_lam", type=float, default=0.01)
  p.add_argument("--lowres", type=int, default=0,
                 help="low-resolution image side (default: by --quick)")
  p.add_argument("--leds", type=int, default=0, help="K of the K x K array")
  p.add_argument("--width", type=int, default=0, help="DIP channels")
  p.add_argument("--depth", type=int, default=0, help="DIP levels")
  p.add_argument("--amplitude_image", default="",
                 help="image for the amplitude (default: the built-in photo)")
  p.add_argument("--phase_image", default="",
                 help="image for the phase (default: a smooth pattern)")
  args = p.parse_args()
  if args.quick:
    geometry = ptycho.Geometry(leds=args.leds or 5, lowres=args.lowres or 16)
    pitches = args.pitches or "3,5,8,13"
    defaults = (800, 16, 3)
  else:
    geometry = ptycho.Geometry(leds=args.leds or 15,
                               lowres=args.lowres or 64)
    pitches = args.pitches or "2,4,6,8"
    defaults = (3000, 64, 5)
  args.steps = args.steps or defaults[0]
  args.width = args.width or defaults[1]
  args.depth = args.depth or defaults[2]
  amplitude, phase = test_object(geometry.size, args.amplitude_image,
                                 args.phase_image)
  rows, panels = [], []
  for pitch in [float(v) for v in pitches.split(",")]:
    g = dataclasses.replace(geometry, led_pitch_mm=pitch)
    for photons in [float(v) for v in args.photons.split(",")]:
      _, intensity = ptycho.simulate(g, amplitude, phase, photons=photons,
                                     seed=args.seed)
      results = reconstruct(g, intensity, args)
      row = [f"{pitch:g}", f"{100 * g.overlap():.0f} %", f"{photons:g}"]
      for name in ("AP", "TV", "DIP"):
        a, ph, seconds = results[name]
        amp_db, phase_db = scores(a, ph, amplitude, phase)
        row.append(f"{amp_db:.2f} / {phase_db:.2f}")
        print(f"pitch {pitch:g} mm ({100 * g.overlap():.0f} % overlap), "
              f"{photons:g} photons: {name} {amp_db:.2f} / {phase_db:.2f} "
              f"dB ({seconds:.1f} s)", flush=True)
        if photons == max(float(v) for v in args.photons.split(",")):
          panels += [(f"{name} amp, {100 * g.overlap():.0f} %", a[..., None]),
                     (f"{name} phase", ph[..., None])]
      rows.append(row)
  panels = ([("true amp", amplitude[..., None]),
             ("true phase", phase[..., None])] + panels)
  common.image_grid(os.path.join(args.out, "ptycho_overlap.png"), panels,
                    cols=8, title="Fourier ptychography: amplitude / phase")
  header = ["pitch mm", "overlap", "photons", "AP amp / phase dB",
            "TV amp / phase dB", "DIP amp / phase dB"]
  common.write_summary(args.out, (
      f"Fourier ptychography, {geometry.size} px object, {geometry.leds} x "
      f"{geometry.leds} LEDs of {geometry.lowres} px; amplitude "
      f"{args.amplitude_image or 'built-in photo'}, phase "
      f"{args.phase_image or 'synthetic'}; DIP {args.depth} levels of "
      f"{args.width} ch, {args.steps} steps; "
      f"{common.device_line()}\n\n" + common.markdown_table(header, rows)
      + "\n"))


if __name__ == "__main__":
  main()
