r"""The default DIP against the task's TV baseline, where no other sweep has
DIP's runs already.

arg: `task=deblur` (default) or `task=jpeg`. Each runs the task's `:quick`
config as a user runs it (the 32-channel net, or JPEG's paper net, 8 to 128
channels, the task's own steps) on the central 128 x 128 crop of the 5 Set5
images, which no recipe was tuned on, seeds 0, 1, 2:

  deblur  Gaussian blur sigma 2 px plus 1 % noise, 4000 steps, the output
          average
  jpeg    JPEG quality 10, 4000 steps, the output average

TV is not run by the jobs (tv.enabled=False): record_sweep.py solves it
with the job config's `tv.lam` on each job's own observation, so the pairs
share their blur noise and their JPEG. Denoising, SR x4 and restoration
take their DIP runs from configs/sweeps/aseqdip_vs_dip.py and
successors_vs_dip.py instead (docs/reproducing.md lists the commands).

Run (from the repository root; a job is a few minutes on a 2-core CPU):
  python -m dip_jax.cli.sweep --config=configs/sweeps/dip_vs_tv.py:task=deblur \
      --workdir=/tmp/tv_deblur [--config.sweep.data_dir=DIR]
  python experiments/record_sweep.py \
      --config=configs/sweeps/dip_vs_tv.py:task=deblur \
      --workdir=/tmp/tv_deblur --name=dip_vs_tv_deblur --classical=TV
  python -m dip_jax.io.results_pages     # the tables in docs/methods.md
Resume after an interruption: run the sweep command again.
"""

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep

TASKS = {"deblur": "deblur.py:quick", "jpeg": "jpeg.py:quick"}


def get_config(arg=None):
  args = config_lib.parse_arg(arg, task="deblur")
  if args.task not in TASKS:
    raise ValueError(f"unknown task {args.task!r}; known: {', '.join(TASKS)}")
  c = config_lib.task_config(TASKS[args.task])
  c.center_crop = 128
  c.tv.enabled = False
  c.sweep = sweep.sweep_block(images=("*.png",),
                              data_dir="../shared/data/set5",
                              settings=(hyper.named("dip"),), seeds=(0, 1, 2))
  return c
