r"""DIP's successors against the default DIP, one task at a time.

arg: `task=denoise` (default), `task=sr` or `task=restore`. Each task runs
its `:quick` config (the 32-channel net, the task's own steps) on the
central 128 x 128 crop of images not used for tuning, seeds 0, 1, 2, in
the settings

  dip      the task as a user runs it: its output average where it has one
           (not restore), its early stop where it has one (denoise)
  dip_tv   DIP-TV      } as configs/presets/successors.py sets them up on
  sgld     SGLD        } the task (`successors.overrides`), so the sweep
  deepred  DeepRED     } runs what `:quick,<method>` runs

  denoise  sigma 25 on the 5 images of Set5. (aSeqDIP against DIP on the
           CBM3D set is configs/sweeps/aseqdip_vs_dip.py.)
  sr       x4 on the 5 images of Set5 (the 128 px crop is the HR image).
  restore  50 % of the pixels kept at random, on the 5 images of Set5.

The TV baseline is off (tv.enabled=False): it is not compared here.

Run (from the repository root; a job is about 1-3 min on a 2-core CPU):
  python -m dip_jax.cli.sweep --config=configs/sweeps/successors_vs_dip.py:task=sr \
      --workdir=/tmp/succ_sr [--config.sweep.data_dir=DIR]
  python experiments/record_sweep.py \
      --config=configs/sweeps/successors_vs_dip.py:task=sr \
      --workdir=/tmp/succ_sr --name=successors_sr
  python -m dip_jax.io.results_pages     # the tables in docs/methods.md
Resume after an interruption: run the sweep command again.
"""

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep

successors = config_lib.preset("successors")

# task -> its config, each run on Set5
TASKS = {"denoise": "denoise.py:quick", "sr": "sr.py:quick",
         "restore": "restore.py:half,quick"}
SUCCESSORS = ("dip_tv", "sgld", "deepred")


def get_config(arg=None):
  args = config_lib.parse_arg(arg, task="denoise")
  if args.task not in TASKS:
    raise ValueError(f"unknown task {args.task!r}; known: {', '.join(TASKS)}")
  c = config_lib.task_config(TASKS[args.task])
  c.center_crop = 128
  c.tv.enabled = False
  settings = (hyper.named("dip"),) + tuple(
      hyper.named(m, successors.overrides(c, m, True)) for m in SUCCESSORS)
  c.sweep = sweep.sweep_block(images=("*.png",),
                              data_dir="../shared/data/set5",
                              settings=settings, seeds=(0, 1, 2))
  return c
