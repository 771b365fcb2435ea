"""The net families by `net.arch`: each family module registers itself here.

A family is three functions of the resolved `net` block (preset applied,
width capped; `presets.resolve`):

  build(cfg, common)   the flax module; `common` holds what every net takes
                       (out_channels, sigmoid, conv_impl)
  validate(cfg)        raises InputError, naming the key, for a bad value of
                       a key the family reads (flax would only fail at init)
  depth(cfg)           x2 downsamplings: the canvas is padded to a multiple
                       of 2**depth
  full_resolution_channels(cfg)   optional: channels of a conv output at the
                       canvas's size, for the memory estimate (fit/budget.py)

This module imports no family, so the families import it without a cycle
through `dip_jax.nets` (whose `__init__` imports the built-in ones so that
they are registered).
"""

import dataclasses
from typing import Callable

from dip_jax.errors import InputError


@dataclasses.dataclass(frozen=True)
class Family:
  build: Callable
  validate: Callable
  depth: Callable
  full_resolution_channels: Callable


FAMILIES: dict[str, Family] = {}


def register(arch: str, *, depth: Callable, validate: Callable | None = None,
             full_resolution_channels: Callable | None = None):
  """Decorator: `build(cfg, common)` is the builder of `net.arch = arch`.

  A second registration of `arch` replaces the first (a module reloaded in
  a notebook, a test's stand-in)."""
  def wrap(build):
    FAMILIES[arch] = Family(
        build=build, validate=validate or (lambda cfg: None), depth=depth,
        # 0: no activation term in the estimate, as for an unknown net.
        full_resolution_channels=full_resolution_channels or (lambda c: 0))
    return build
  return wrap


def family(arch: str) -> Family:
  if arch not in FAMILIES:
    raise InputError(f"net.arch must be one of {tuple(FAMILIES)}, "
                     f"got {arch!r}")
  return FAMILIES[arch]


def check_choice(cfg, key: str, allowed, values=None) -> None:
  """One line unless every one of `values` (default: cfg[key]) is allowed."""
  for v in (cfg[key],) if values is None else values:
    if v not in allowed:
      raise InputError(f"net.{key} must be one of {allowed}, got {v!r}")


def check_at_least(cfg, key: str, low: int) -> None:
  if int(cfg[key]) < low:
    raise InputError(f"net.{key} must be >= {low}, got {cfg[key]}")


def check_levels(cfg) -> int:
  """The number of levels of `net.channels_down` (refused when empty or a
  level has no channels)."""
  depth = len(cfg.channels_down)
  if depth < 1 or any(int(c) < 1 for c in cfg.channels_down):
    raise InputError("net.channels_down needs at least one level, each >= 1")
  return depth


def as_sequence(v):
  """A config value that is one setting for all levels (a str or int) or
  one per level (made a tuple, which flax modules hash)."""
  return v if isinstance(v, (str, int)) else tuple(v)
