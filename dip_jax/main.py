r"""Command line: one reconstruction from a config file.

  python -m dip_jax.main --config=configs/denoise.py:quick --workdir=/tmp/dq \
      [--config.image=photo.png] [--config.KEY=VALUE ...]

Kept thin on purpose: it parses flags and calls `run.reconstruct`, so the
library is testable without it. Bad input ends with one line naming the
problem and exit code 2.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from dip_jax import cli
from dip_jax.errors import InputError


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    # JAX logs backend probing (e.g. "no TPU") at INFO; keep the console for
    # progress lines and errors unless asked otherwise.
    logging.set_verbosity(logging.WARNING)
  config = cli.load_config()
  from dip_jax import run  # after flag parsing: imports JAX
  try:
    summary = run.reconstruct(config, cli.WORKDIR.value)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except FloatingPointError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(3)
  parts = [f"{k} {summary[k]:.2f}" for k in ("psnr", "psnr_corrupted")
           if k in summary]
  print(f"done: {cli.WORKDIR.value}/reconstruction.png  " + "  ".join(parts)
        + f"  {summary['seconds']:.1f} s")


def run_main():
  app.run(main, flags_parser=cli.parse_flags)


if __name__ == "__main__":
  run_main()
