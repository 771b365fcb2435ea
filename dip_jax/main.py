r"""Command line: one reconstruction from a config file.

  python -m dip_jax.main --config=configs/denoise.py:quick --workdir=/tmp/dq \
      [--config.image=photo.png] [--config.KEY=VALUE ...]

Kept thin on purpose: it parses flags and calls `run.reconstruct`, so the
library is testable without it. Bad input ends with one line naming the
problem and exit code 2; SIGINT / SIGTERM with one line ("interrupted at
step N; ...") and 128 + the signal's number, leaving a workdir that the same
command resumes (see signals.py).
"""

import os

from absl import app
from absl import flags
from absl import logging

from dip_jax.cli import flags as cli_flags
from dip_jax.errors import InputError
from dip_jax.fit import signals


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not flags.FLAGS["verbosity"].present:
    # JAX logs backend probing (e.g. "no TPU") at INFO; keep the console for
    # progress lines and errors unless asked otherwise.
    logging.set_verbosity(logging.WARNING)
  config = cli_flags.load_config()
  try:
    with signals.handled():
      from dip_jax.cli import run  # after flag parsing: imports JAX
      summary = run.reconstruct(config, cli_flags.WORKDIR.value)
  except signals.Interrupted as e:
    cli_flags.fail(str(e), e.exit_code)
  except InputError as e:
    cli_flags.fail(str(e), 2)
  except FloatingPointError as e:
    cli_flags.fail(str(e), 3)
  except OSError as e:
    # A failed write the code above did not expect (a disk that filled up
    # while an output was written): the files already there stay as they
    # were, since every output is replaced atomically.
    cli_flags.fail(cli_flags.os_error_line(e), 1)
  except Exception as e:  # pylint: disable=broad-except
    if flags.FLAGS["verbosity"].present:
      raise  # asked for detail: the whole traceback
    first = next((l for l in str(e).splitlines() if l.strip()), "")[:300]
    cli_flags.fail(f"unexpected {type(e).__name__}: {first} (run again with "
             f"--verbosity=0 to see where)", 1)
  parts = [f"{k} {summary[k]:.2f}" for k in ("psnr", "psnr_phase",
                                              "psnr_corrupted")
           if k in summary]
  written = sorted(f for f in os.listdir(cli_flags.WORKDIR.value)
                   if f.startswith("reconstruction") and f.endswith(".png"))
  print(f"done: {os.path.join(cli_flags.WORKDIR.value, ' '.join(written))}  "
        + "  ".join(parts) + f"  {summary['seconds']:.1f} s")


def run_main():
  app.run(main, flags_parser=cli_flags.parse_flags)


if __name__ == "__main__":
  run_main()
