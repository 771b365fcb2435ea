"""A sweep's settings in Python: products and zips over dotted config keys.

In the manner of big_vision's `get_hyper(hyper)`: a setting is a dict of
dotted config keys to values, and a sweep is a tuple of settings built from
small pieces:

  from dip_jax.cli import hyper
  hyper.product([hyper.sweep("corruption.sigma", [25, 50]),
                 hyper.sweep("net.preset", ["skip-5", "unet"])])
  # -> 4 settings: {"corruption.sigma": 25, "net.preset": "skip-5"}, ...
  hyper.zipit([hyper.sweep("operator.downsample.factor", [4, 8]),
               hyper.sweep("num_steps", [2000, 4000])])
  # -> 2 settings: factor 4 with 2000 steps, factor 8 with 4000

The reserved key "name" names a setting (its folder in the sweep's
workdir); without it the name is spelled from the overrides, last key part
and value ("sigma=25,preset=skip-5"), and {} is "default". `check` turns a
config's `sweep.settings` into named override lists, each tried on a copy
of the config, so a typo stops the sweep before any job runs.
"""

import copy
import itertools
import re
import zlib

import ml_collections

from dip_jax.errors import InputError

NAME = "name"  # the reserved key: a setting's name, not a config key
_MAX_NAME = 80  # longer spelled names keep a prefix and a checksum


def sweep(key: str, values) -> tuple[dict, ...]:
  """One setting per value of the dotted config key `key`."""
  return tuple({key: v} for v in values)


def fixed(key: str, value) -> tuple[dict, ...]:
  """One setting: `key` = `value` (a factor of a product that never
  varies)."""
  return ({key: value},)


def named(name: str, overrides: dict | None = None) -> dict:
  """A setting with an explicit name, e.g. named("wide", {"net.width": 64});
  named("paper") alone is the config as it is, in a folder "paper"."""
  return {NAME: name, **(overrides or {})}


def product(parts) -> tuple[dict, ...]:
  """Every combination of one setting from each part, merged in order (the
  first part varies slowest)."""
  return tuple(_merge(combo) for combo in itertools.product(*map(tuple, parts)))


def zipit(parts) -> tuple[dict, ...]:
  """The k-th settings of every part merged: the parts must be equally
  long."""
  parts = [tuple(p) for p in parts]
  if len({len(p) for p in parts}) > 1:
    raise ValueError(f"zipit needs parts of one length, got "
                     f"{[len(p) for p in parts]}")
  return tuple(_merge(combo) for combo in zip(*parts))


def _merge(settings) -> dict:
  out = {}
  for s in settings:
    twice = set(out) & set(s)
    if twice:  # a key swept by two parts: the later would silently win
      raise ValueError(f"sweep key(s) {sorted(twice)} set by two parts")
    out.update(s)
  return out


def spell(setting: dict) -> str:
  """The folder name of a setting: its "name", or its overrides spelled
  out (the last key part when it is unambiguous within the setting)."""
  if NAME in setting:
    return str(setting[NAME])
  keys = [k for k in setting if k != NAME]
  if not keys:
    return "default"
  tails = [k.rsplit(".", 1)[-1] for k in keys]
  parts = [f"{t if tails.count(t) == 1 else k}={_value_text(setting[k])}"
           for k, t in zip(keys, tails)]
  text = re.sub(r"[^\w.,=+-]", "_", ",".join(parts))
  if len(text) > _MAX_NAME:  # deterministic, and still starts readable
    text = f"{text[:_MAX_NAME - 9]}-{zlib.crc32(text.encode()):08x}"
  return text


def _value_text(v) -> str:
  if isinstance(v, bool):
    return str(v).lower()
  if isinstance(v, (tuple, list)):
    return "-".join(map(_value_text, v)) or "none"
  return str(v) if v != "" else "none"


def check(settings, config) -> list[tuple[str, tuple]]:
  """[(name, ((key, value), ...)), ...] of `sweep.settings`, validated: each
  override is applied to a copy of `config`, so an unknown key or a value
  of the wrong type fails here, in one line, before any job runs."""
  if isinstance(settings, (str, dict)):
    settings = (settings,)
  out = []
  for setting in settings:
    if not isinstance(setting, dict):
      raise InputError(
          f"sweep.settings entries are dicts of dotted config keys, e.g. "
          f"{{'corruption.sigma': 50}} (see dip_jax/cli/hyper.py); got "
          f"{setting!r}")
    name = spell(setting)
    if not name or name in (".", "..") or "/" in name or "\\" in name:
      raise InputError(f"sweep setting name {name!r} is not a folder name")
    overrides = tuple((k, _tuples(v)) for k, v in setting.items()
                      if k != NAME)
    trial = copy.deepcopy(config)
    for key, value in overrides:
      _check_key(trial, key, name)
      try:
        set_key(trial, key, value)
      except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise InputError(f"setting {name!r}: cannot set {key}={value!r} "
                         f"({_first_line(e)})") from None
    out.append((name, overrides))
  names = [n for n, _ in out]
  if not out or len(set(names)) != len(names):
    dupes = sorted({n for n in names if names.count(n) > 1})
    raise InputError("sweep.settings is empty" if not out else
                     f"sweep.settings names repeat: {dupes}; give each "
                     f"setting a distinct '{NAME}'")
  return out


def _check_key(config, key: str, name: str) -> None:
  if not isinstance(key, str) or not key:
    raise InputError(f"setting {name!r}: config keys are dotted strings, "
                     f"got {key!r}")
  if key in ("image", "seed") or key.split(".")[0] == "sweep":
    raise InputError(f"setting {name!r}: {key!r} is set by the sweep itself")
  node = config
  for field in key.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or field not in node:
      raise InputError(f"setting {name!r}: unknown config key {key!r}")
    node = node[field]
  if isinstance(node, ml_collections.ConfigDict):
    raise InputError(f"setting {name!r}: {key!r} is a group; set its fields")


def set_key(config, key: str, value) -> None:
  # ml_collections walks the dotted key and casts/checks the type (int to
  # float, and refuses a string for a number).
  config.update_from_flattened_dict({key: _tuples(value)})


def _tuples(v):
  """Lists (JSON, or a list literal on the command line) as the tuples the
  config's sequence fields hold."""
  return tuple(map(_tuples, v)) if isinstance(v, (list, tuple)) else v


def _first_line(e: Exception) -> str:
  text = str(e.args[0]) if e.args else type(e).__name__
  return text.strip().splitlines()[0] if text.strip() else type(e).__name__
