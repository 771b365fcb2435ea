"""A sweep config for tests: tests/tiny_config.py's net, 2 settings, 1 seed.

The test points `--config.sweep.data_dir` at a folder of small PNGs; with
two of them this is 2 settings x 2 images x 1 seed = 4 jobs of 4 steps.
"""

from dip_jax import config_lib
from dip_jax import sweep


def get_config(arg=None):
  del arg
  c = config_lib.base_config()
  c.sample_size = 32
  c.net.channels_down = (8, 8, 8)
  c.net.channels_up = (8, 8, 8)
  c.net.channels_skip = (2, 2, 2)
  c.input.channels = 8
  c.num_steps = 4
  c.log_every = 2
  c.snapshot_every = 0
  c.checkpoint_every = 0
  c.tv.max_iters = 20  # the TV baseline is a column, not the point here
  c.sweep = sweep.sweep_block(
      images=("*.png",),
      settings=("sigma25:corruption.sigma=25", "sigma50:corruption.sigma=50"),
      seeds=(0,))
  return c
