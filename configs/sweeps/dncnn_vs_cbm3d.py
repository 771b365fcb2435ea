r"""DIP+DnCNN against CBM3D: Gaussian denoising on images not used for tuning.

The task is configs/denoise.py:quick,dip_dncnn (sigma 25, the 32-channel
net with the discrepancy stop and the output average, then the average
with DnCNN's answer) on the central 128 x 128 crop of each of the 9 images
of the CBM3D colour set, seeds 0, 1, 2 (27 jobs of about a minute each on a
2-core CPU). CBM3D is solved on each job's own noisy image when the record
is written (experiments/classical.py; `pip install -e '.[paper]'` brings
bm3d), so the two are paired over the same 27 observations.

DnCNN's weights come from SCICO's wheel: `export DIP_JAX_DNCNN_WEIGHTS=$(bash
tools/dncnn_weights.sh)` first (docs/methods.md, "DIP+DnCNN").

Run (from the repository root):
  python -m dip_jax.cli.sweep --config=configs/sweeps/dncnn_vs_cbm3d.py \
      --workdir=/tmp/dncnn_sweep [--config.sweep.data_dir=DIR]
  python experiments/record_sweep.py \
      --config=configs/sweeps/dncnn_vs_cbm3d.py --workdir=/tmp/dncnn_sweep \
      --name=dncnn_cbm3d --classical=CBM3D
  python -m dip_jax.io.results_pages
Resume after an interruption: run the sweep command again.
"""

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep


def get_config(arg=None):
  del arg
  c = config_lib.task_config("denoise.py", "quick,dip_dncnn")
  c.center_crop = 128
  c.tv.enabled = False  # not compared here
  c.sweep = sweep.sweep_block(
      images=("*.png",),
      data_dir="../shared/data/denoise9",
      settings=(hyper.named("dip_dncnn"),),
      seeds=(0, 1, 2))
  return c
