"""What every method's `Settings` shares: reading its config block and
refusing a bad value in one line that names the key.

A method's settings are a frozen dataclass built from its own block,
`Settings.from_config(config.<block>, ...)`, where each value is checked
once; its solve then reads the typed fields, not the config. For example
(methods/sgld.py):

  @dataclasses.dataclass(frozen=True)
  class Settings:
    noise_scale: float
    burn_in: int
    sample_every: int

    @classmethod
    def from_config(cls, block, num_steps) -> "Settings":
      v = settings.values(cls, block, "sgld")
      settings.check_number("sgld.noise_scale", v["noise_scale"], ...)
      ...
      return cls(noise_scale=float(v["noise_scale"]), ...)
"""

import dataclasses

import numpy as np

from dip_jax.errors import InputError


def check_number(key: str, value, ok, need: str) -> None:
  """One line (InputError) unless `value` is a finite number with ok(value):
  "`key` must be `need`, got ..."."""
  if not (isinstance(value, (int, float)) and np.isfinite(value)
          and ok(value)):
    raise InputError(f"{key} must be {need}, got {value!r}")


def is_count(v) -> bool:
  """For check_number: a whole number (1.0 counts; 1.5 does not)."""
  return v == int(v)


def values(cls, block, name: str, strict: bool = False) -> dict:
  """The raw values of dataclass `cls`'s fields in config block `name`
  (a ConfigDict, a dict or None), a field's default where the block lacks
  it; one line for a missing key without a default and, when `strict`, for
  a key `cls` does not know (a block that is not in the base config, where
  nothing else catches a typo)."""
  block = dict(block or {})
  fields = dataclasses.fields(cls)
  known = [f.name for f in fields]
  unknown = sorted(set(block) - set(known))
  if strict and unknown:
    raise InputError(f"unknown {name} key(s) {unknown}; known: "
                     f"{', '.join(known)}")
  out = {}
  for f in fields:
    if f.name in block:
      out[f.name] = block[f.name]
    elif f.default is not dataclasses.MISSING:
      out[f.name] = f.default
    else:
      raise InputError(f"config.{name} has no key {f.name!r}")
  return out
