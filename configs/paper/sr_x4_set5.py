r"""Paper table: super-resolution x4 on Set5 (Y-channel PSNR, border cropped).

The DIP paper, x4: 29.90 dB (Set5) / 27.00 (Set14); bicubic 28.43 / 26.05; SRResNet 32.10 / 28.53.
Settings: configs/sr.py:x4 (skip-5, 128 ch, Lanczos-2 downsampler, lr 0.01,
2000 steps); ground truth mod-cropped to the factor; the LR image is PIL's
Lanczos resize of it, as the paper's code. One run per image, seed 0; the
EMA (0.99) is tracked for the "output average" column only.

  python -m dip_jax.cli.sweep --config=configs/paper/sr_x4_set5.py \
      --workdir=/tmp/paper/sr_x4_set5 \
      [--config.sweep.data_dir=../shared/data/set5]
Full settings are for a GPU. Quick (:quick, the central 128 x 128 crop of
each HR image, 32-ch net, 1000 steps; ~30 s per image on 2 CPU cores):
  python -m dip_jax.cli.sweep --config=configs/paper/sr_x4_set5.py:quick \
      --workdir=/tmp/paper/sr_x4_set5
experiments/paper_tables.py runs this and writes the table beside the
paper's numbers and bicubic upscaling.
"""

from dip_jax import config_lib
paper_configs = config_lib.preset("paper")


def get_config(arg=None):
  # The quick table keeps 1000 steps (configs/sr.py:quick runs 2000): the
  # six quick tables stay within half an hour on 2 CPU cores, and the
  # table's "+ output average" column is that quick config's answer at
  # half its steps.
  return paper_configs.sweep_config("sr.py", "x4", "set5", arg=arg,
                                    quick_num_steps=1000)
