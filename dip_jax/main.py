r"""Command line: one reconstruction from a config file.

  python -m dip_jax.main --config=configs/denoise.py:quick --workdir=/tmp/dq \
      [--config.image=photo.png] [--config.KEY=VALUE ...]

Kept thin on purpose: it parses flags and calls `run.reconstruct`, so the
library is testable without it. Bad input ends with one line naming the
problem and exit code 2.
"""

import re
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from dip_jax.errors import InputError

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Task config file, e.g. configs/denoise.py[:quick].",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the outputs.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    # JAX logs backend probing (e.g. "no TPU") at INFO; keep the console for
    # progress lines and errors unless asked otherwise.
    logging.set_verbosity(logging.WARNING)
  try:
    config = _CONFIG.value
    config.keys()  # config_flags defers a load failure to the first access
  except OSError as e:
    print(f"error: cannot load the config file: "
          f"{str(e).splitlines()[-1].strip()}", file=sys.stderr)
    sys.exit(2)
  from dip_jax import run  # after flag parsing: imports JAX
  try:
    summary = run.reconstruct(config, _WORKDIR.value)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except FloatingPointError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(3)
  parts = [f"{k} {summary[k]:.2f}" for k in ("psnr", "psnr_corrupted")
           if k in summary]
  print(f"done: {_WORKDIR.value}/reconstruction.png  " + "  ".join(parts)
        + f"  {summary['seconds']:.1f} s")


def _parse_flags(argv):
  """absl's flag parsing, with config errors (unknown key, bad value, bad
  variant) reported as one line instead of a traceback."""
  try:
    return flags.FLAGS(argv)
  except Exception as e:  # ml_collections raises several types here
    print(f"error: {_one_line(e)}", file=sys.stderr)
    sys.exit(2)


def _one_line(e: Exception) -> str:
  text = str(e.args[0]) if e.args else str(e)
  text = text.replace("\\n", "\n")
  if isinstance(e, (AttributeError, KeyError)):
    key = (re.search(r'instead of "([^"]+)"', text)
           or re.search(r"([A-Za-z_][\w.]*)", text))
    hint = re.search(r'Did you mean "([^"]+)"', text)
    msg = f"unknown config key {key.group(1)!r}" if key else "unknown config key"
    return msg + (f" (did you mean {hint.group(1)!r}?)" if hint else "")
  lines = [l.strip() for l in text.splitlines() if l.strip()]
  if any(l.startswith("Traceback") for l in lines):
    # A config file's get_config raised: its exception line says why.
    return f"{lines[0].rstrip(':')}: {lines[-1]}"
  return lines[0] if lines else type(e).__name__


def run_main():
  app.run(main, flags_parser=_parse_flags)


if __name__ == "__main__":
  run_main()
