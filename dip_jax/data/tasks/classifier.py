"""The classifier tasks: activation maximization and feature inversion.

  actmax  x* = argmin_x loss(A x) with A x = one unit of a layer of the
          classifier (`config.actmax`: layer, unit, window) and loss =
          `config.loss` ("maximize": -A x); the fits add the weights on x
          of `config.regularizer` (l2, tv). No observation and no clean
          image: nothing is scored, `final_loss` is minus the unit's value
          (plus the weights).
  invert  x* = argmin_x ||Phi_l(x) - Phi_l(x_ref)||^2 / ||Phi_l(x_ref)||^2
          for layer l (`config.invert.layer`) of the reference image
          (`config.image` or the built-in sample, centre-cropped to the
          classifier's aspect and resized); the reference is the clean
          image, so PSNR and SSIM are scored against it.

The classifier is `config.classifier.name` with the weights in
`config.weights` (an .npz from torchvision's file, see README); x has
`config.classifier.image_size` px per side (0 = the classifier's input
size) and is resized to the classifier's input inside the operator.
"""

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax import objectives
from dip_jax import problem as problem_lib
from dip_jax.data import sources
from dip_jax.data import tasks
from dip_jax.errors import InputError
from dip_jax.operators import classifier as classifier_ops

CONVERT = ("python -m dip_jax.nets.classifiers.convert_torchvision "
           "alexnet-owt-7be5be79.pth alexnet.npz")


def load(config):
  """The classifier of `config` (one line when no weights are given)."""
  weights = str(config.get("weights", "") or "").strip()
  name = config.classifier.name
  if not weights:
    raise InputError(f"task {config.task!r} needs the weights of {name}: "
                     f"pass --config.weights={name}.npz (made from "
                     f"torchvision's file with: {CONVERT})")
  # Imported here: only these tasks need a classifier (and its net).
  from dip_jax.nets import classifiers  # pylint: disable=g-import-not-at-top
  return classifiers.load_classifier(name, weights)


def image_shape(config, clf, channels: int = 3) -> tuple:
  """(H, W, C) of x: classifier.image_size square, or the input size."""
  size = int(config.classifier.get("image_size", 0) or 0)
  if size < 0:
    raise InputError(f"classifier.image_size must be >= 0 (0 = the "
                     f"classifier's input size), got {size}")
  h, w = (size, size) if size else tuple(int(d) for d in clf.input_size)
  return (h, w, channels)


def fit_to(x: np.ndarray, shape_hw: tuple) -> np.ndarray:
  """`x` (H x W x C in [0, 1]) centre-cropped to the aspect of `shape_hw`
  and resized to it (antialiased when shrinking)."""
  h, w = x.shape[:2]
  th, tw = shape_hw
  # The largest centred crop with the target's aspect.
  ch, cw = (h, round(h * tw / th)) if h * tw <= w * th else (
      round(w * th / tw), w)
  t, l = (h - ch) // 2, (w - cw) // 2
  x = np.asarray(x[t:t + ch, l:l + cw], np.float32)
  if (ch, cw) != (th, tw):
    x = np.asarray(jax.image.resize(jnp.asarray(x), (th, tw, x.shape[2]),
                                    "cubic", antialias=True))
  return np.clip(x, 0.0, 1.0)


@tasks.register("actmax")
def build_actmax(config) -> problem_lib.Problem:
  """The unit of config.actmax (layer, unit, window) to maximise."""
  block = config.actmax
  objective = objectives.get(config.loss)
  clf = load(config)
  shape = image_shape(config, clf)
  unit = int(block.unit)
  if unit < -1:
    raise InputError(f"actmax.unit must be a unit index, or -1 for every "
                     f"unit of the layer, got {unit}")
  op = classifier_ops.classifier_unit(
      clf, block.layer, unit=None if unit == -1 else unit,
      window=int(block.window), in_shape=shape)
  notes = [f"maximizing {op.name} over a {shape[1]} x {shape[0]} image"
           + ("" if shape[:2] == tuple(clf.input_size) else
              f" (resized to {clf.input_size[1]} x {clf.input_size[0]} for "
              f"{clf.name})")]
  return problem_lib.Problem(
      observed=None, clean=None, mask=None, out_shape=shape, operator=op,
      objective=objective, source=f"none (activation maximization of "
      f"{op.name})", notes=tuple(notes))


@tasks.register("invert")
def build_invert(config) -> problem_lib.Problem:
  """The features of config.invert.layer of the reference image."""
  block = config.invert
  objective = objectives.get(config.loss)
  clf = load(config)
  src = sources.load_source(config)
  shape = image_shape(config, clf, channels=src.pixels.shape[2])
  if shape[2] not in (1, 3):
    raise InputError(f"the reference image has {shape[2]} channels; "
                     f"{clf.name} takes RGB or grayscale")
  notes = list(src.notes)
  reference = fit_to(src.pixels, shape[:2])
  if src.pixels.shape[:2] != shape[:2]:
    notes.append(f"reference: {src.source} centre-cropped and resized to "
                 f"{shape[1]} x {shape[0]}")
  op = classifier_ops.classifier_features(clf, block.layer, in_shape=shape)
  observed = jax.tree.map(np.asarray, op(jnp.asarray(reference)))
  return problem_lib.Problem(
      observed=observed, clean=reference, mask=None, out_shape=shape,
      operator=op, objective=objective, source=src.source,
      bit_depth=src.bit_depth, notes=tuple(notes))
