"""The one exception type for bad user input.

`main` prints its message as a single line and exits non-zero; everything
that validates files, shapes or config values raises it with a message that
names the problem.
"""


class InputError(ValueError):
  """Bad input from the user: a file, a shape, a config value."""
