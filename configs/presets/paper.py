"""Sweep configs for the DIP paper's tables (configs/paper/*.py build on this).

A paper-table config is a task config from configs/ (the paper's per-task
settings) plus a sweep block over a benchmark folder, with what a table
needs on top:
  - `num_restarts` as the paper: 2 where it reports two runs averaged
    (denoising), else 1; `:restarts=N` overrides.
  - `ema_decay` = 0.99 everywhere, so every run also yields the paper's
    "output average" column. The EMA only watches the fit (it changes no
    step), so the "single run" column -- the net's final output f(z) -- is
    the paper's own setting either way; summary.json's `variants` block
    holds both, per restart, scored.
  - `:quick`: the task's `:quick` config (32-channel net, its step count) on
    the central 128 x 128 crop of every image (for SR, of the HR image):
    a CPU-sized run of the whole table, not comparable to the paper.
  - early stopping, where the task config has it on (denoising), watches
    without halting: the fixed-step columns stay the paper's, and the
    detected iterate (the run's answer) is a column of its own.
  - `:methods=dip+sgld+...`: DIP's successors beside plain DIP, one sweep
    setting each (configs/presets/successors.py says their settings); plain DIP's
    folder is named as without methods, so earlier sweeps resume.
  - `:precision=bfloat16`: the nets compute in bfloat16 (config.precision);
    the setting's name gains `_bf16`, so both precisions keep their folders
    and their tables can be compared image by image.

  paper_configs = config_lib.preset("paper")
  def get_config(arg=None):
    return paper_configs.sweep_config("sr.py", "x4", "set5", arg=arg)
"""

import os

from dip_jax import config_lib
from dip_jax.cli import hyper
successors = config_lib.preset("successors")
from dip_jax.cli import sweep

QUICK_CROP = 128


def sweep_config(task_file: str, variant: str | None, data_subdir: str,
                 images=("*.png",), restarts: int = 1, arg: str | None = None,
                 num_steps: int | None = None,
                 quick_num_steps: int | None = None):
  """The sweep config of one paper table.

  Args:
    task_file: the task config in configs/ ("denoise.py", "sr.py", ...).
    variant: its `:variant` ("x8") or None for its default.
    data_subdir: the benchmark folder under ../shared/data ("set5", ...);
      `sweep.data_dir` points there and may be overridden.
    images: glob patterns inside it.
    restarts: the paper's number of averaged runs.
    arg: this config's own `:arg` -- `quick`, `restarts=N`, `methods=A+B`,
      `precision=bfloat16`.
    num_steps: the table's own step count, when not the task config's.
    quick_num_steps: the same for `:quick` only.
  """
  args = config_lib.parse_arg(arg, quick=False, restarts=restarts,
                              methods="dip", precision="float32")
  if args.restarts < 1:
    raise ValueError(f"restarts must be >= 1, got {args.restarts}")
  if args.precision not in config_lib.PRECISIONS:
    raise ValueError(f"precision must be one of {config_lib.PRECISIONS}, "
                     f"got {args.precision!r}")
  task_arg = ",".join(filter(None, (variant, "quick" if args.quick else "")))
  c = config_lib.task_config(task_file, task_arg or None)
  c.num_restarts = int(args.restarts)
  if num_steps is not None:
    c.num_steps = num_steps
  if args.quick and quick_num_steps is not None:
    c.num_steps = quick_num_steps
  c.precision = args.precision
  c.ema_decay = 0.99
  if c.early_stopping.kind != "none":
    # The table's fixed-step columns are the paper's protocol, so the run
    # goes all the steps; the detector's pick is the run's answer, shown
    # in a column of its own.
    c.early_stopping.halt = False
  if args.quick:
    c.center_crop = QUICK_CROP
  # A table is read from summaries; checkpoints only for resuming, and a
  # quick job is short enough to redo from its last one cheaply.
  c.checkpoint_every = 500
  c.snapshot_every = 0
  c.eta_warning_minutes = 1e9  # long by design; the sweep prints progress
  c.sweep = sweep.sweep_block(
      images=tuple(images),
      data_dir=os.path.join("..", "shared", "data", data_subdir),
      # The setting names the job folders: quick and full runs, and runs
      # with another restart count, each keep their own.
      settings=method_settings(
          c, f"{'quick' if args.quick else 'paper'}_r{args.restarts}"
          + ("" if args.precision == "float32" else "_bf16"),
          args.methods, args.quick),
      seeds=(0,))
  return c


def method_settings(c, name: str, methods: str, quick: bool):
  """One named sweep setting per method of `methods` ("dip+sgld"): plain
  DIP is `name`, a successor `name_<method>`, each with its overrides; a
  method that does not apply to the task (`successors.applies`: DIP+DnCNN
  off denoising) is left out."""
  chosen = [m.strip() for m in methods.split("+") if m.strip()]
  unknown = sorted(set(chosen) - set(successors.METHODS))
  if unknown or not chosen:
    raise ValueError(f"methods={methods!r}: known methods are "
                     f"{'+'.join(successors.METHODS)}")
  return tuple(
      hyper.named(name if m == "dip" else f"{name}_{m}",
                  successors.overrides(c, m, quick))
      for m in dict.fromkeys(chosen) if successors.applies(c, m))
