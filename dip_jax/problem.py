"""The Problem record: what is observed, through which operator, and what
the reconstruction is scored against (when a clean image is known).

A Problem is made by hand (the Python API) or from a config
(`dip_jax.data.build_problem`).
"""

import dataclasses
import functools
from typing import Any

import jax.numpy as jnp
import numpy as np

from dip_jax import operators
from dip_jax.errors import InputError

@dataclasses.dataclass
class Problem:
  """y = A(x) (+ noise) or an objective alone, and how x is scored.

  `observed` is y in the operator's measurement space (an H' x W' x C image,
  a pytree of arrays, or None when the objective needs no observation);
  `mask` is the objective's weights (1 = observed), by default the
  operator's own (`operators.inpainting(mask)`).
  """
  observed: Any                   # y (H' x W' x C, pytree, or None)
  clean: np.ndarray | None        # ground truth for scoring, if known
  mask: np.ndarray | None         # H x W x 1 weights, 1 = observed pixel
  out_shape: tuple                # shape of the reconstruction (H, W, C)
  operator: operators.Operator | None = None  # A; None = identity
  objective: Any = "mse"          # objectives.get(...): name or function
  alpha: np.ndarray | None = None  # passed through to the outputs
  bit_depth: int = 8
  source: str = "built-in sample"
  net_input: np.ndarray | None = None  # a fixed image as z (flash/no-flash)
  notes: tuple = ()               # things the log should tell the user

  def __post_init__(self):
    if self.operator is None:
      self.operator = operators.identity()
    # One set of weights for the objective, the display and the baseline:
    # the Problem's own mask wins over the operator's default.
    if self.mask is None:
      self.mask = self.operator.weights
    elif self.operator.weights is not self.mask:
      self.operator = dataclasses.replace(self.operator, weights=self.mask)
    if self.mask is not None and not _any_positive(self.mask):
      # The objective would be 0 for every x: a fit that "converges" to
      # whatever the net starts with.
      raise InputError("the mask observes no pixel (all weights are 0); "
                       "nothing to reconstruct from")

  @functools.cached_property
  def image_measurement(self) -> bool:
    """True when y is one real image the shape of A x (PSNR to y exists)."""
    if not (isinstance(self.observed, np.ndarray) and self.observed.ndim == 3
            and not np.iscomplexobj(self.observed)):
      return False
    # y may be image-shaped while A x is not comparable with it (intensities
    # of complex fields): ask the operator what it gives.
    ax = self.operator.out_spec(self.out_shape)
    return (hasattr(ax, "shape") and tuple(ax.shape[1:]) == self.observed.shape
            and not jnp.issubdtype(ax.dtype, jnp.complexfloating))

  def observed_for_display(self):
    """The observation as a picture (an image with its missing pixels
    neutral, a ptychography stack's bright-field image), or None when the
    operator has no picture of it."""
    if self.observed is None:
      return None
    return self.operator.display(self.observed)


def _any_positive(a) -> bool:
  """np.any(a > 0), without a full-size comparison for a constant view."""
  a = np.asarray(a)
  if a.size and not any(a.strides):
    return bool(a.flat[0] > 0)
  return bool(np.any(a > 0))
