r"""Paper table: colour denoising, sigma = 25, on the 9-image CBM3D set.

The DIP paper (Sec. 3): single run 29.22 dB, with the output average 30.43,
two runs averaged 31.00; CBM3D 31.42, NLM 30.26 (means over the 9 images).
Settings: configs/denoise.py (skip-5, 128 ch, lr 0.01, reg_noise 1/30, EMA
0.99) with the table's 1800 steps, 2 restarts (one program), seed 0. The
config's early stopping (the discrepancy stop) watches without halting: the
fixed-step columns are the paper's protocol, the detector's pick (the run's
answer, restarts averaged) is a column of its own.

  python -m dip_jax.cli.sweep --config=configs/paper/denoise_cset9.py \
      --workdir=/tmp/paper/denoise_cset9 \
      [--config.sweep.data_dir=../shared/data/denoise9]
Full settings are for a GPU (512 px images). Quick (:quick, 128 px centre
crops, 32-ch net, the same 1800 steps; ~80 s per image on 2 CPU cores):
  python -m dip_jax.cli.sweep --config=configs/paper/denoise_cset9.py:quick \
      --workdir=/tmp/paper/denoise_cset9
experiments/paper_tables.py runs this and writes the table beside the
paper's numbers and CBM3D. `:restarts=N` changes the restart count.
"""

from dip_jax import config_lib
paper_configs = config_lib.preset("paper")


def get_config(arg=None):
  # The table's own step count (the paper's 29.22 dB single run is at 1800),
  # quick or not; the denoising notebook's F16 figure uses 3000.
  return paper_configs.sweep_config("denoise.py", None, "denoise9",
                                    restarts=2, arg=arg, num_steps=1800)
