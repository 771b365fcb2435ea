"""A config file for CLI tests: the denoising task with a tiny net.

`tiny_base()` is the one definition of the tiny test net; conftest.py and
sweep_tiny.py build on it.
"""

from dip_jax import config_lib


def tiny_base():
  """Denoising on the 32 px sample with 3 levels of 8 channels."""
  c = config_lib.base_config()
  c.sample_size = 32
  c.net.channels_down = (8, 8, 8)
  c.net.channels_up = (8, 8, 8)
  c.net.channels_skip = (2, 2, 2)
  c.input.channels = 8
  return c


def get_config(arg=None):
  del arg
  c = tiny_base()
  c.num_steps = 4
  c.log_every = 2
  c.snapshot_every = 2
  return c
