r"""Example sweep: blind denoising at two noise levels over a folder of images.

The task is configs/denoise.py:quick (32-channel net, 2000 steps) on the
central 128 x 128 crop of each image; the sweep runs it at sigma 25 and 50
for every PNG in `sweep.data_dir` (default: Set5 in the shared data folder).

Run (from the repository root; 5 images x 2 settings x 1 seed = 10 jobs of
about 2-3 min each on a 2-core CPU):
  python -m dip_jax.cli.sweep --config=configs/sweeps/example.py \
      --workdir=/tmp/sweep_example [--config.sweep.data_dir=DIR]
Outputs: /tmp/sweep_example/<setting>/<image>/seed<k>/ (a normal run's
files each), and results.csv / results.md with the table per setting.

The same on every host of a multi-host TPU VM (each host runs its share of
the jobs; the workdir and data must be the same path on every host, e.g. a
shared disk or gcsfuse mount):
  gcloud compute tpus tpu-vm ssh NAME --zone=ZONE --worker=all --command="\
      cd dip_jax && python -m dip_jax.cli.sweep \
      --config=configs/sweeps/example.py --workdir=/mnt/shared/sweep \
      --config.sweep.data_dir=/mnt/shared/data/set5 --distributed"
(On TPU VMs jax.distributed.initialize needs no arguments. Elsewhere pass
--coordinator_address=HOST:PORT --num_processes=N --process_id=I.)

Resume after an interruption: run the same command again. Finished jobs are
skipped ("already finished"), unfinished ones continue from their last
checkpoint, and the results files are rewritten. Growing the sweep (more
seeds, images or settings) reuses every job already done.

The settings are Python (dip_jax/cli/hyper.py): here one per noise level,
named "sigma=25" and "sigma=50" after their override. More axes multiply:
  hyper.product([hyper.sweep("corruption.sigma", [25, 50]),
                 hyper.sweep("net.width", [16, 32])])     # 4 settings
Other settings and seeds from the command line (Python literals; the key
"name" names a setting's folder):
  --config.sweep.settings="({'corruption.sigma': 25}, \
      {'name': 'wide', 'net.channels_down': (64, 64, 64, 64, 64)})"
  --config.sweep.seeds="(0, 1, 2)"
"""

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep


def get_config(arg=None):
  del arg
  # The task config itself (configs/denoise.py of this checkout), so the
  # sweep runs exactly what `main --config=configs/denoise.py:quick` does.
  c = config_lib.task_config("denoise.py", "quick")
  c.center_crop = 128
  c.sweep = sweep.sweep_block(
      images=("*.png",),
      data_dir="../shared/data/set5",
      settings=hyper.sweep("corruption.sigma", [25, 50]),
      seeds=(0,))
  return c
