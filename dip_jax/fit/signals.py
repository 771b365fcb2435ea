"""SIGINT and SIGTERM as a clean stop: one line, a resumable workdir.

The command line installs the handlers (`handled()`) around a run. Outside
a fit a signal raises `Interrupted` at once: nothing there is worth waiting
for, and every output is written atomically. Inside the fit loop
(`deferred()`) it is only recorded: the loop finishes the chunk it is in,
saves a checkpoint and raises `Interrupted` itself, so a rerun continues
from that step. A second signal while the first waits raises at once (the
user insists). SIGKILL cannot be caught; the periodic checkpoints cover it.

Without `handled()` (the Python API, a notebook) nothing changes: Ctrl-C is
Python's KeyboardInterrupt, and `pending()` is always None.
"""

import contextlib
import signal
import threading

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
  """A run stopped by SIGINT or SIGTERM.

  A BaseException, like KeyboardInterrupt: code that catches every failure
  of a job (`except Exception`, as a sweep does) must still stop.
  """

  def __init__(self, signum: int, step: int | None = None,
               resumable: bool = True):
    super().__init__(signum, step, resumable)
    self.signum, self.step, self.resumable = signum, step, resumable

  @property
  def exit_code(self) -> int:
    return 128 + self.signum  # what a shell reports: 130 for SIGINT, 143 TERM

  def __str__(self) -> str:
    where = f" at step {self.step}" if self.step is not None else ""
    if self.resumable:
      return f"interrupted{where}; run the same command to resume"
    return (f"interrupted{where}; no checkpoint was kept (checkpoint_every "
            f"is 0), so running the same command starts the fit over")


_deferring = 0
_pending: int | None = None


def _handler(signum, frame):
  del frame
  global _pending
  if _deferring and _pending is None:
    _pending = signum
    return
  raise Interrupted(signum)


@contextlib.contextmanager
def handled():
  """SIGINT and SIGTERM raise `Interrupted` (or are deferred, see the
  module docstring) while inside. A no-op off the main thread, where
  Python cannot install signal handlers."""
  global _pending
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {s: signal.signal(s, _handler) for s in HANDLED}
  _pending = None
  try:
    yield
  finally:
    for s, h in previous.items():
      signal.signal(s, h)
    _pending = None


@contextlib.contextmanager
def deferred():
  """While inside, a first signal is only recorded (see `pending`) for the
  fit loop to act on between chunks. One that arrived after the loop's
  last look raises here, on the way out."""
  global _deferring
  _deferring += 1
  try:
    yield
  finally:
    _deferring -= 1
  if _pending is not None and not _deferring:
    raise Interrupted(_pending)


def pending() -> int | None:
  """The signal number received inside `deferred()` and not yet acted on."""
  return _pending
