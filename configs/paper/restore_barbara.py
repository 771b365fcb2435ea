r"""Paper table: restoration from 50 % of the pixels, Barbara (Table 1).

The DIP paper, Table 1: Barbara 32.22 dB (Papyan et al.'s CSC: 28.14).
Settings: configs/restore.py (skip-5, 128 ch, lr 0.001, 11000 steps,
reg_noise 0.03, Bernoulli mask with seed 0); one run; the EMA (0.99) is
tracked for the "output average" column only.

  python -m dip_jax.cli.sweep --config=configs/paper/restore_barbara.py \
      --workdir=/tmp/paper/restore_barbara \
      [--config.sweep.data_dir=../shared/data/dip/restoration]
Full settings are for a GPU (11000 steps at 512 px). Quick (:quick, 128 px
centre crop, 32-ch net, lr 0.01, 1500 steps; ~40 s on 2 CPU cores):
  python -m dip_jax.cli.sweep --config=configs/paper/restore_barbara.py:quick \
      --workdir=/tmp/paper/restore_barbara
experiments/paper_tables.py runs this and writes the table beside the
paper's number and scikit-image's biharmonic inpainting.
"""

import os

from dip_jax import config_lib
paper_configs = config_lib.preset("paper")


def get_config(arg=None):
  return paper_configs.sweep_config(
      "restore.py", None, os.path.join("dip", "restoration"),
      images=("barbara.png",), arg=arg)
