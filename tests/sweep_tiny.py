"""A sweep config for tests: tests/tiny_config.py's net, 2 settings, 1 seed.

The test points `--config.sweep.data_dir` at a folder of small PNGs; with
two of them this is 2 settings x 2 images x 1 seed = 4 jobs of 4 steps.
"""

import importlib.util
import os

from dip_jax.cli import hyper
from dip_jax.cli import sweep

# Config files are loaded by path, not as modules of a package: load the
# shared tiny net the same way.
_spec = importlib.util.spec_from_file_location(
    "_tiny_config", os.path.join(os.path.dirname(__file__), "tiny_config.py"))
_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tiny)


def get_config(arg=None):
  del arg
  c = _tiny.tiny_base()
  c.num_steps = 4
  c.log_every = 2
  c.snapshot_every = 0
  c.checkpoint_every = 0
  c.tv.max_iters = 20  # the TV baseline is a column, not the point here
  c.sweep = sweep.sweep_block(
      images=("*.png",),
      settings=hyper.sweep("corruption.sigma", [25, 50]),
      seeds=(0,))
  return c
