"""Every task's `:quick` config, at 64 px and half its steps (tests stay
at <= 64 px; the README's table is the full `:quick` run at 128 px): the
DIP reconstruction and the TV solution both beat the corrupted input, and
DIP beats TV where it did when measured.

Margins are set below what was measured with seed 0 on the CPU (jax 0.10.2,
2-core EPYC; the measured values are in the comments), so a regression of
the fit, the operators or the TV solver fails here.
"""

import os

import pytest

from dip_jax import config_lib
from dip_jax.cli import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# config, key of the baseline to beat, DIP margin, TV margin, DIP over TV
# (dB; None: TV wins this task at these settings)
CASES = [
    # measured: DIP 24.65 vs noisy 20.80, TV 23.06 (the discrepancy stop:
    # detected at step 461, answer the output average of step 560, the
    # fit's PSNR still rising; at 64 px the noise estimate reads the small
    # image's detail as noise, 26.2 for a true 23.3, so it stops early.
    # ES-WMV, the default before, ran on and gave 25.64)
    ("denoise.py:quick", "corrupted_psnr", 3.5, 1.8, 1.2),
    # measured: DIP 20.76 (two fits averaged, the quick recipe since they
    # beat TV on the tuning crops; one fit gave 20.68) vs JPEG 20.35, TV
    # 20.69. DIP over TV (+0.08) is inside the drift between installs: the
    # Set5 record (docs/methods.md) is the claim.
    ("jpeg.py:quick", "corrupted_psnr", 0.15, 0.15, None),
    # measured: DIP 27.40 vs 18.71 (missing pixels neutral), TV 26.16
    ("inpaint.py:quick", "corrupted_psnr", 7.0, 6.5, 0.7),
    # measured: DIP 15.72 vs 14.23, TV 15.43 (holes of 16 px); the same
    # code gave DIP 16.24 in an earlier session's install (same jax 0.10.2,
    # other package builds): this fit is sensitive to rounding
    ("inpaint.py:vase,quick", "corrupted_psnr", 1.2, 0.8, 0.15),
    # measured: DIP 22.98 vs 13.02, TV 21.18 (50 % of the pixels kept)
    ("restore.py:quick", "corrupted_psnr", 8.5, 7.0, 1.0),
    # measured: DIP 18.34 (its output average at 1000 steps; before the
    # quick config averaged outputs, the last output at 500: 17.98) vs
    # bicubic 17.01, TV 17.56
    ("sr.py:quick", "bicubic_psnr", 0.6, 0.3, 0.2),
    # measured: DIP 20.11 (the output average at 2000 steps) vs blurred
    # 16.89, TV 19.90. DIP's +0.21 over TV is inside the 0.1-0.5 dB that
    # fits have moved between installs, so it is not asserted here; the
    # Set5 record (docs/methods.md, "DIP against TV") is the claim. Before
    # the quick config ran 4000 steps with the average: DIP 18.98.
    ("deblur.py:quick", "corrupted_psnr", 2.5, 2.5, None),
    # measured: DIP 29.29 vs no-flash 20.80, TV 23.06 (synthetic flash pair)
    ("flash.py:quick", "corrupted_psnr", 7.0, 1.8, 4.0),
]


@pytest.mark.parametrize("spec,baseline,dip_margin,tv_margin,over_tv", CASES,
                         ids=[c[0] for c in CASES])
def test_quick_task_beats_corrupted_input(tmp_path, spec, baseline,
                                          dip_margin, tv_margin, over_tv):
  config = config_lib.task_config(spec)
  config.sample_size, config.num_steps = 64, config.num_steps // 2
  config.snapshot_every = 0
  config.checkpoint_every = 0
  summary = run.reconstruct(config, str(tmp_path))
  base = summary[baseline]
  assert summary["psnr"] > base + dip_margin, summary
  assert summary["tv"]["psnr"] > base + tv_margin, summary["tv"]
  if over_tv is not None:
    assert summary["psnr"] > summary["tv"]["psnr"] + over_tv, summary
  if spec == "inpaint.py:quick":
    # The paper's point for text removal: measured DIP 18.89 dB vs TV 17.43
    # dB over the pixels under the text.
    assert summary["psnr_missing"] > summary["tv"]["psnr_missing"] + 0.8
