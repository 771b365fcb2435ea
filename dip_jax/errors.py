"""The one exception type for bad user input.

`main` prints its message as a single line and exits non-zero; everything
that validates files, shapes or config values raises it with a message that
names the problem.
"""


class InputError(ValueError):
  """Bad input from the user: a file, a shape, a config value."""


def numeric_array(a, what: str):
  """`a` as a numpy array of numbers (bool included), or one line saying
  what it is instead: the API's first check of anything it is handed."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    a = np.asarray(a)
  except (ValueError, TypeError) as e:  # a ragged list, ...
    raise InputError(f"{what} is not an array ({str(e).splitlines()[0]})"
                     ) from None
  if not (a.dtype == bool or np.issubdtype(a.dtype, np.number)):
    raise InputError(f"{what} has dtype {a.dtype}, not numbers")
  return a
