r"""aSeqDIP (Alkhouri et al., NeurIPS 2024) on a task: the net's input is an
image estimate, refreshed to the net's output every `aseqdip.every` steps,
with an autoencoding term `aseqdip.lam` * ||f(z) - z||^2 beside the data
term (dip_jax/methods/aseqdip.py).

Args (comma-separated): `task=` one of denoise (default), sr, inpaint,
restore, deblur, jpeg; `quick` for the task's CPU-sized recipe.

  python -m dip_jax.main --config=configs/aseqdip.py:task=sr,quick --workdir=/tmp/aq

The task's own recipe is kept (net, steps, learning rate) except what the
method changes: no input noise (z is an image, refreshed from f(z)), and no
early stop (the method's claim is that its answer does not overfit).
Settings: every = 2 steps per round and lam = 1 (the autoencoding weight
on the mean-squared scale of the data term); not tuned here.
"""

import ml_collections

from dip_jax import config_lib


def get_config(arg=None):
  args = config_lib.parse_arg(arg, task="denoise", quick=False)
  c = config_lib.task_config(f"{args.task}.py",
                             "quick" if args.quick else None)
  c.method = "aseqdip"
  c.aseqdip = ml_collections.ConfigDict({"every": 2, "lam": 1.0})
  c.input.reg_noise_std = 0.0
  c.early_stopping.kind = "none"
  c.quick_hint = f"configs/aseqdip.py:task={args.task},quick"
  return c
