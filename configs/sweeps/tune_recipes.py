r"""Recipe tuning on images that no table reports: the :quick recipe of a
task and the variants it was chosen from, on the central 128 x 128 crop of
five Kodak photos outside the CBM3D set (kodim04, 05, 07, 08, 09), seed 0.
The evaluation on Set5 is configs/sweeps/dip_vs_tv.py; keeping the two sets
apart is what keeps a tuned recipe honest.

arg: `task=deblur` or `task=jpeg`, and optionally `only=NAME[+NAME...]` to
run some of the task's settings:

  deblur  last1500  the recipe before tuning: the last output at 1500 steps
          quick     the :quick recipe as it is (4000 steps, output average)
  jpeg    paper     the :quick recipe (the paper's net) run to 8000 steps;
                    its curve (metrics.jsonl) gives every shorter count
          dip_tv    the same with DIP-TV's TV weight (presets/successors.py)

DIP against TV per image, as for the evaluation (TV solved on each job's
own observation by the recording step):
  python -m dip_jax.cli.sweep --config=configs/sweeps/tune_recipes.py:task=jpeg \
      --workdir=/tmp/tune_jpeg [--config.sweep.data_dir=DIR]
  python experiments/record_sweep.py \
      --config=configs/sweeps/tune_recipes.py:task=jpeg \
      --workdir=/tmp/tune_jpeg --name=tune_jpeg --classical=TV
"""

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep

successors = config_lib.preset("successors")

TASKS = {"deblur": "deblur.py:quick", "jpeg": "jpeg.py:quick"}
IMAGES = tuple(f"kodim{n}.png" for n in ("04", "05", "07", "08", "09"))


def settings(task: str, config) -> dict:
  """Setting name -> its overrides of the task's :quick config."""
  if task == "deblur":
    return {"last1500": {"num_steps": 1500, "ema_decay": 0.0},
            "quick": {}}
  return {"paper": {"num_steps": 8000},
          "dip_tv": {"num_steps": 8000,
                     **successors.overrides(config, "dip_tv", True)}}


def get_config(arg=None):
  args = config_lib.parse_arg(arg, task="jpeg", only="")
  if args.task not in TASKS:
    raise ValueError(f"unknown task {args.task!r}; known: {', '.join(TASKS)}")
  c = config_lib.task_config(TASKS[args.task])
  c.center_crop = 128
  c.tv.enabled = False
  known = settings(args.task, c)
  names = args.only.split("+") if args.only else list(known)
  unknown = [n for n in names if n not in known]
  if unknown:
    raise ValueError(f"no setting {unknown[0]!r} for {args.task}; known: "
                     f"{', '.join(known)}")
  c.sweep = sweep.sweep_block(
      images=IMAGES, data_dir="../shared/data/kodak24",
      settings=tuple(hyper.named(n, known[n]) for n in names), seeds=(0,))
  return c
