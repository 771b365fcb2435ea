"""Methods: a prior plus a solver, `solve(problem, config, hooks) -> Result`.

`dip` fits a net f_theta(z) through the problem's operator and objective
(`sgld` and `deepred` are DIP fits with a watcher of their own,
`dip_dncnn` DIP's answer averaged with a pretrained denoiser's); `tv` solves the TV-regularised problem on the image directly; `bicubic` is
the operator's classical baseline as a method. A new method registers a
function with `register("name")` and is then `config.method = "name"` on the
command line and `method="name"` in `dip_jax.reconstruct`.
"""

import dataclasses
from typing import Any, Callable

import numpy as np

from dip_jax.errors import InputError

METHODS: dict[str, Callable] = {}
# name -> prepare(problem, config) -> dict of extra `solve` arguments: the
# method's validation, run before a CLI run writes anything.
PREPARE: dict[str, Callable] = {}
# Methods whose fits of many problems can share one program
# (`methods.dip.solve_batch`): the CLI's batches, sweeps and
# `dip_jax.reconstruct_batch` ask `batches(name)`.
BATCHED: set[str] = set()


@dataclasses.dataclass
class Result:
  """What a method returns.

  Attributes:
    reconstruction: H x W x C float32 in [0, 1] (numpy).
    history: per-step numpy arrays (loss, PSNRs, ...); empty for one-shot
      solvers.
    state: the method's final state (the DIP fit state; None for TV).
    info: numbers for the summary (steps, seconds, scores, ...).
    images: further named images to write (e.g. restart_0 ... restart_R-1).
    panels: label -> name in `images`: parts of the answer that a CLI run
      shows beside it in comparison.png (DIP+DnCNN: its two halves).
  """
  reconstruction: np.ndarray
  history: dict = dataclasses.field(default_factory=dict)
  state: Any = None
  info: dict = dataclasses.field(default_factory=dict)
  images: dict = dataclasses.field(default_factory=dict)
  panels: dict = dataclasses.field(default_factory=dict)


def register(name: str, prepare: Callable | None = None,
             batches: bool = False):
  def wrap(solve):
    METHODS[name] = solve
    if prepare is not None:
      PREPARE[name] = prepare
    if batches:
      BATCHED.add(name)
    return solve
  return wrap


def batches(name: str) -> bool:
  """Whether method `name` fits many problems in one program."""
  _load_builtin()
  return name in BATCHED


def prepare(name: str, problem, config) -> dict:
  """Validates `config` for method `name` on `problem` (raises InputError);
  returns the extra keyword arguments its `solve` takes."""
  get(name)
  fn = PREPARE.get(name)
  return {} if fn is None else (fn(problem, config) or {})


def get(name: str) -> Callable:
  _load_builtin()
  if name not in METHODS:
    raise InputError(f"unknown method {name!r}; known: {sorted(METHODS)}")
  return METHODS[name]


def _load_builtin():
  # Imported on first use: each registers itself (and dip pulls in flax).
  from dip_jax.methods import aseqdip, deepred, dip, dip_dncnn, sgld, tv, tv_gradient  # pylint: disable=g-import-not-at-top,unused-import


@register("bicubic")
def _baseline(problem, config, hooks=None) -> Result:
  """The operator's own classical estimate (bicubic for SR, the observation
  for denoising) as a method, for tables that compare against it."""
  del config, hooks
  found = problem.operator.baseline(problem.observed)
  if found is None:
    raise InputError(f"operator {problem.operator.name!r} has no classical "
                     f"baseline")
  return Result(reconstruction=np.asarray(found[1], np.float32),
                info={"baseline": found[0]})
