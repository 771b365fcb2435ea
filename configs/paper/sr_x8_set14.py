r"""Paper table: super-resolution x8 on Set14 (Y-channel PSNR, border cropped).

The DIP paper, x8: reported in the supplement only (not retrieved for these notes).
Settings: configs/sr.py:x8 (skip-5, 128 ch, Lanczos-2 downsampler, lr 0.01,
4000 steps); ground truth mod-cropped to the factor; the LR image is PIL's
Lanczos resize of it, as the paper's code. One run per image, seed 0; the
EMA (0.99) is tracked for the "output average" column only.

  python -m dip_jax.cli.sweep --config=configs/paper/sr_x8_set14.py \
      --workdir=/tmp/paper/sr_x8_set14 \
      [--config.sweep.data_dir=../shared/data/set14]
Full settings are for a GPU. Quick (:quick, the central 128 x 128 crop of
each HR image, 32-ch net, 1000 steps; ~30 s per image on 2 CPU cores):
  python -m dip_jax.cli.sweep --config=configs/paper/sr_x8_set14.py:quick \
      --workdir=/tmp/paper/sr_x8_set14
experiments/paper_tables.py runs this and writes the table beside the
paper's numbers and bicubic upscaling.
"""

from dip_jax import config_lib
paper_configs = config_lib.preset("paper")


def get_config(arg=None):
  return paper_configs.sweep_config("sr.py", "x8", "set14", arg=arg)
