"""The results schema: what a run's summary.json holds, typed.

`run.reconstruct` writes it, `cli.tables.collect` and
experiments/paper_tables.py read it, and the tests check both sides through
it. The file stays the flat JSON it has always been (same keys, same
values); these classes only give it names and types:

  Summary          one run: what ran, its scores, its baseline's scores, the
                   TV baseline, the fit's numbers, the scored variants and
                   the early-stopping detector's choice
  Scores           one image against the clean one (metrics.score):
                   psnr, ssim, psnr_missing (masks), psnr_y (SR)
  TVBaseline       Scores of the TV solution, plus its solver's numbers
  Variants         the end-of-run answers a paper table compares

Conventions: a field that is None was not written (not measured: no clean
image, no restarts, ...); a number that was measured but not finite is NaN
here and null in the file (strict JSON, never NaN/Infinity tokens). Keys
this schema does not know (a method's own info) are kept in `extra` and
written back unchanged, so a round trip loses nothing.
"""

import dataclasses
import json
import math
import numbers
import os

import numpy as np

from dip_jax.io import report
from dip_jax.io import workdir as workdir_lib

# The baselines a run scores beside its reconstruction, by the name the
# operator gives them; their scores are the flat keys "<name>_psnr", ...
BASELINES = ("corrupted", "bicubic", "ap")  # ap: alternating projection
# The old name of corrupted_psnr, still written for scripts that read it.
LEGACY_CORRUPTED = "psnr_corrupted"


def _num(v):
  """A JSON number (or a list of them) as read: null -> NaN."""
  if isinstance(v, np.ndarray):  # built in-process rather than read
    v = v.tolist()
  if isinstance(v, (list, tuple)):
    return [_num(x) for x in v]
  if v is None:
    return math.nan
  if isinstance(v, numbers.Real):
    return v
  raise ValueError(f"expected a number, got {v!r}")


def _field(read=None, write=None):
  return dataclasses.field(default=None,
                           metadata={"read": read, "write": write})


def _extra():
  return dataclasses.field(default_factory=dict)


class _Record:
  """from_dict / to_dict over a dataclass's fields; the rest in `extra`."""

  @classmethod
  def from_dict(cls, d):
    if not isinstance(d, dict):
      raise ValueError(f"{cls.__name__}: expected a JSON object, got "
                       f"{type(d).__name__}")
    rest, kwargs = dict(d), {}
    for f in dataclasses.fields(cls):
      if f.name != "extra" and f.name in rest:
        value = rest.pop(f.name)
        read = f.metadata.get("read")
        kwargs[f.name] = read(value) if read else value
    return cls(**kwargs, extra=rest)

  def to_dict(self) -> dict:
    out = dict(self.extra)
    for f in dataclasses.fields(self):
      value = getattr(self, f.name)
      if f.name != "extra" and value is not None:
        write = f.metadata.get("write")
        out[f.name] = write(value) if write else value
    return out


@dataclasses.dataclass
class Scores(_Record):
  """Quality numbers of one image against the clean image."""
  psnr: float | None = _field(_num)
  ssim: float | None = _field(_num)
  psnr_missing: float | None = _field(_num)  # over the masked-out pixels
  psnr_y: float | None = _field(_num)        # Y channel, border cropped (SR)
  psnr_phase: float | None = _field(_num)    # ptychography, offset removed
  extra: dict = _extra()

  def get(self, metric: str):
    """The score named `metric` ("psnr", "psnr_y", ...), or None."""
    return getattr(self, metric, None) if metric in SCORE_KEYS \
        else self.extra.get(metric)


SCORE_KEYS = tuple(f.name for f in dataclasses.fields(Scores)
                   if f.name != "extra")


@dataclasses.dataclass
class TVBaseline(Scores):
  """The TV solution on the same operator: its scores and solver numbers."""
  seconds: float | None = _field(_num)
  iterations: int | None = _field(_num)
  converged: bool | None = _field()
  lam: float | None = _field(_num)


def _scores(v):
  return Scores.from_dict(v)


def _scores_list(v):
  if not isinstance(v, list):
    raise ValueError(f"expected a list of scores, got {v!r}")
  return [Scores.from_dict(x) for x in v]


def _to_dict(v):
  return v.to_dict()


def _to_dicts(v):
  return [x.to_dict() for x in v]


@dataclasses.dataclass
class Variants(_Record):
  """The end-of-run answers, each scored: per restart the net's final output
  f(z) ("single run") and its exponential average ("output average"), and
  with restarts the average of the restarts' answers."""
  ema_decay: float | None = _field(_num)
  final_output: list | None = _field(_scores_list, _to_dicts)
  output_average: list | None = _field(_scores_list, _to_dicts)
  restarts_average: Scores | None = _field(_scores, _to_dict)
  extra: dict = _extra()


@dataclasses.dataclass
class Summary(_Record):
  """One run's summary.json."""
  # What ran.
  task: str | None = _field()
  image: str | None = _field()
  method: str | None = _field()
  device: str | None = _field()
  # The reconstruction's scores (with a clean image).
  psnr: float | None = _field(_num)
  ssim: float | None = _field(_num)
  psnr_missing: float | None = _field(_num)
  psnr_y: float | None = _field(_num)
  psnr_phase: float | None = _field(_num)
  # The TV solution beside every run (tv.enabled).
  tv: TVBaseline | None = _field(TVBaseline.from_dict, _to_dict)
  # The fit.
  steps: int | None = _field(_num)
  seconds: float | None = _field(_num)
  compile_seconds: float | None = _field(_num)
  seconds_per_step: float | None = _field(_num)
  num_restarts: int | None = _field(_num)
  batch_size: int | None = _field(_num)  # images fitted in its program
  restores: int | None = _field(_num)
  final_loss: float | None = _field(_num)
  reconstruction: str | None = _field()  # which iterate the answer is
  psnr_restarts: list | None = _field(_num)
  psnr_single_mean: float | None = _field(_num)
  oracle_peak_step: int | None = _field(_num)   # a bound: needs the clean
  oracle_peak_psnr: float | None = _field(_num)
  variants: Variants | None = _field(Variants.from_dict, _to_dict)
  # The early-stopping detector (a list per restart where it has restarts).
  early_stopping: str | None = _field()
  stopped_early: bool | None = _field()
  detected_step: int | list | None = _field(_num)
  detected_variance: float | list | None = _field(_num)
  answer_step: int | list | None = _field(_num)  # detected + lag
  detected_psnr: float | None = _field(_num)
  gap_db: float | None = _field(_num)
  final_step_psnr: float | None = _field(_num)
  # The input's baseline scores by name ("corrupted", "bicubic"); in the
  # file they are flat keys, "bicubic_psnr_y" etc.
  baselines: dict = dataclasses.field(default_factory=dict)
  extra: dict = _extra()

  @classmethod
  def from_dict(cls, d) -> "Summary":
    if not isinstance(d, dict):
      raise ValueError(f"a summary is a JSON object, got {type(d).__name__}")
    rest, baselines = dict(d), {}
    for name in BASELINES:
      found = {k: rest.pop(f"{name}_{k}") for k in SCORE_KEYS
               if f"{name}_{k}" in rest}
      if found:
        baselines[name] = Scores.from_dict(found)
    if "corrupted" in baselines and LEGACY_CORRUPTED in rest:
      rest.pop(LEGACY_CORRUPTED)  # derived: written again from the scores
    rest.pop("baselines", None)  # a name of ours, never a file key
    summary = super().from_dict(rest)
    summary.baselines = baselines
    return summary

  def to_dict(self) -> dict:
    out = super().to_dict()
    out.pop("baselines")
    for name, scores in self.baselines.items():
      out.update({f"{name}_{k}": v for k, v in scores.to_dict().items()})
    corrupted = self.baselines.get("corrupted")
    if corrupted is not None and corrupted.psnr is not None:
      out[LEGACY_CORRUPTED] = corrupted.psnr
    return out

  def baseline(self) -> tuple[str, Scores] | None:
    """(name, scores) of the input's baseline (bicubic for SR, else the
    corrupted input), or None when the run had none."""
    for name in reversed(BASELINES):
      if name in self.baselines:
        return name, self.baselines[name]
    return None

  def to_json(self) -> str:
    """Strict JSON (non-finite numbers as null), keys sorted."""
    return report.json_text(self.to_dict())

  @classmethod
  def from_json(cls, text: str) -> "Summary":
    return cls.from_dict(json.loads(text))

  def write(self, path: str) -> None:
    """Writes summary.json atomically."""
    report.write_json(path, self.to_dict())

  @classmethod
  def read(cls, path: str) -> "Summary":
    """Reads a summary.json (OSError / ValueError when it cannot be)."""
    with open(path, encoding="utf-8") as f:
      return cls.from_json(f.read())


def read_dir(job_dir: str) -> Summary:
  """The summary of the finished run in `job_dir`."""
  return Summary.read(os.path.join(job_dir, workdir_lib.SUMMARY))
