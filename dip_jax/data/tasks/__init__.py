"""Task builders: config -> Problem for tasks that are not "an image through
an image operator" (Fourier ptychography simulates an intensity stack from
two images; activation maximization has no observation at all).

`data.build_problem(config)` asks `builder(config.task)` first and falls
back to the image pipeline when there is none. A builder module registers
itself with `@register("task name")`; `BUILTIN` names the modules imported
on first use (they pull in what their task needs, e.g. a classifier).
"""

import importlib
from typing import Callable

TASK_BUILDERS: dict[str, Callable] = {}
BUILTIN = {"ptycho": "dip_jax.data.tasks.ptycho",
           "actmax": "dip_jax.data.tasks.classifier",
           "invert": "dip_jax.data.tasks.classifier"}


def register(name: str):
  def wrap(build):
    TASK_BUILDERS[name] = build
    return build
  return wrap


def builder(task: str) -> Callable | None:
  """The problem builder of `task`, or None for the image pipeline."""
  if task not in TASK_BUILDERS and task in BUILTIN:
    importlib.import_module(BUILTIN[task])
  return TASK_BUILDERS.get(task)
