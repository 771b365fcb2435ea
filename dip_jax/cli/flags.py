"""The command line's shared pieces: the --config / --workdir flags, flag
parsing that reports config errors in one line, and loading the config.

`dip_jax.main` (one run) and `dip_jax.cli.sweep` (many) both use them, so a
config error reads the same from either.
"""

import re
import sys

from absl import flags
from ml_collections import config_flags

from dip_jax import config_lib

CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Task config file, e.g. configs/denoise.py[:quick].",
    lock_config=True)
WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the outputs.")
flags.mark_flags_as_required(["config", "workdir"])


def load_config():
  """The parsed --config (exits 2 with one line when it cannot be loaded)."""
  try:
    config = CONFIG.value
    config.keys()  # config_flags defers a load failure to the first access
  except OSError as e:
    fail(f"cannot load the config file: {str(e).splitlines()[-1].strip()}")
  return config


def fail(message: str, code: int = 2):
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(code)


def os_error_line(e: OSError) -> str:
  """'No space left on device: PATH' and the like, in one line."""
  lines = str(e).splitlines()
  reason = e.strerror or (lines[0] if lines else type(e).__name__)
  return f"{reason}: {e.filename}" if e.filename else reason


def parse_flags(argv):
  """absl's flag parsing, with config errors (unknown key, bad value, bad
  variant) reported as one line instead of a traceback."""
  try:
    return flags.FLAGS(argv)
  except Exception as e:  # ml_collections raises several types here
    print(f"error: {one_line(e)}", file=sys.stderr)
    sys.exit(2)


def one_line(e: Exception) -> str:
  text = str(e.args[0]) if e.args else str(e)
  text = text.replace("\\n", "\n")
  if isinstance(e, (AttributeError, KeyError)):
    key = (re.search(r'instead of "([^"]+)"', text)
           or re.search(r"([A-Za-z_][\w.]*)", text))
    hint = re.search(r'Did you mean "([^"]+)"', text)
    msg = (config_lib.unknown_key_line(key.group(1)) if key
           else "unknown config key")
    return msg + (f" (did you mean {hint.group(1)!r}?)" if hint else "")
  lines = [l.strip() for l in text.splitlines() if l.strip()]
  if any(l.startswith("Traceback") for l in lines):
    # A config file's get_config raised: its exception line says why.
    return f"{lines[0].rstrip(':')}: {lines[-1]}"
  return lines[0] if lines else type(e).__name__
