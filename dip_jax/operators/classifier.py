"""Operators that look through a classifier: x -> one of its units, or a
layer's features (activation maximization and feature inversion, the DIP
paper's Figs. 10-11 and the notebooks activation_maximization.ipynb and
feature_inversion.ipynb).

  classifier_unit(clf, "fc8", unit=933)          x -> logit 933, N values
  classifier_unit(clf, "conv4", unit=2, window=3)
                                   x -> channel 2 of conv4 summed over the
                                   central 3 x 3 of conv4's own pixels
  classifier_features(clf, "conv3")              x -> {"conv3": Phi(x)}

x is N x H x W x 3 in [0, 1] (or 1 channel, repeated to 3); when (H, W) is
not the classifier's `input_size`, x is resized to it (bilinear) first, so
a fit may run on a smaller canvas than the classifier sees. A single
H x W x C image gives the unbatched measurement, so `op(reference)` is the
observation to invert.

Both are nonlinear operators without a baseline or a picture of the
measurement (`observed_for_display` is None). The features come as a
one-key dict, a pytree that is not an image, so the engine reports no PSNR
to the observation (the features are not in [0, 1]). The classifier's
weights (and the unit's index) are the operator's `params`, arguments of
the compiled fits rather than constants in them; the compiled fits key
their programs on `op.apply`, which is the same function object for the
same classifier function, input size, layer and window: maximizing
another class reuses the program.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError
from dip_jax.operators import Operator

__all__ = ["classifier_unit", "classifier_features", "classifier_input",
           "layer_shapes"]


@functools.lru_cache(maxsize=16)
def layer_shapes(clf) -> dict:
  """{layer: activation shape without the batch axis} at `input_size`."""
  h, w = clf.input_size
  spec = jax.ShapeDtypeStruct((1, int(h), int(w), 3), jnp.float32)
  out = jax.eval_shape(lambda x: clf.apply(clf.params, x), spec)
  return {name: tuple(a.shape[1:]) for name, a in out.items()}


def _check_layer(clf, layer) -> tuple:
  shapes = layer_shapes(clf)
  if layer not in shapes:
    raise InputError(f"unknown layer {layer!r} of {clf.name}; known: "
                     f"{', '.join(clf.layers)}")
  return shapes[layer]


def _size(clf) -> tuple:
  return tuple(int(d) for d in clf.input_size)


def _in_shape(clf, in_shape) -> tuple:
  if in_shape is None:
    return (*_size(clf), 3)
  in_shape = tuple(int(d) for d in in_shape)
  if len(in_shape) != 3 or in_shape[2] not in (1, 3) or min(in_shape) < 1:
    raise InputError(f"in_shape must be (H, W, 1 or 3) for {clf.name}, got "
                     f"{in_shape}")
  return in_shape


def _resize_for(size, x):
  """x as a classifier of input `size` (H, W) takes it: 3 channels, at its
  input size."""
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  if x.shape[1:3] != size:
    # Bilinear, antialiased when shrinking: the classifier sees the image,
    # not its aliased samples.
    x = jax.image.resize(x, (x.shape[0], *size, 3), "linear", antialias=True)
  return x


def classifier_input(clf, x):
  """x (N x H x W x {1, 3}) as `clf` takes it: 3 channels, at its input
  size."""
  return _resize_for(_size(clf), x)


def _single_or_batch(fn):
  """N x H x W x C -> batched measurement; one H x W x C image -> the
  measurement without the batch axis (the observation a Problem holds)."""
  def apply(x, params):
    if x.ndim == 3:
      return jax.tree.map(lambda a: a[0], fn(x[None], params))
    if x.ndim != 4:
      raise InputError(f"operators take N x H x W x C arrays, got shape "
                       f"{x.shape}")
    return fn(x, params)
  return apply


# The functions are cached on the classifier's apply function and input
# size, not on the Classifier record: its weights and the unit index come in
# as the operator's params, so a new unit, or the same net loaded again,
# reuses the compiled fits.
@functools.lru_cache(maxsize=32)
def _unit_fn(clf_apply, size: tuple, layer: str, one_unit: bool,
             window: int):
  @_single_or_batch
  def apply(x, params):
    a = clf_apply(params["classifier"], _resize_for(size, x))[layer]
    if one_unit:
      a = jnp.take(a, params["unit"], axis=-1)
    if a.ndim >= 3 and window:
      # Starts at h // 2 - window // 2, as the notebook's slice
      # [h // 2 - ws : h // 2 + ws] for window = 2 ws.
      h, w = a.shape[1:3]
      t, l = h // 2 - window // 2, w // 2 - window // 2
      a = a[:, t:t + window, l:l + window]
    return jnp.sum(a.reshape(a.shape[0], -1), axis=1)
  return apply


def classifier_unit(clf, layer: str, unit=None, window: int = 0,
                    in_shape=None) -> Operator:
  """x -> one value per image: unit `unit` of `layer` (a logit of a fully
  connected layer; for a conv layer its channel `unit` summed over the
  central `window` x `window` square in the layer's own pixels, 0 = the
  whole map). unit=None sums every unit (every channel) instead.

  Fit with objective "maximize" (`objectives.regularized("maximize", l2=,
  tv=)` to add a weight on x) and no observation. The DIP notebook's
  `window_size = 20` on AlexNet's conv4 is a half-width whose slice start
  goes negative on the 13 x 13 map, i.e. the whole map: window=0 here.
  """
  shape = _check_layer(clf, layer)
  channels = shape[-1]
  if unit is not None:
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)):
      raise InputError(f"unit must be an integer index of {layer}, got "
                       f"{unit!r}")
    if not 0 <= unit < channels:
      raise InputError(f"unit {unit} is out of range for {clf.name} {layer} "
                       f"({channels} units: 0..{channels - 1})")
    unit = int(unit)
  window = int(window)
  if window < 0:
    raise InputError(f"window must be >= 0 (0 = the whole map), got {window}")
  if window and len(shape) < 3:
    raise InputError(f"window={window} needs a conv layer; {layer} is fully "
                     f"connected ({channels} units)")
  if window and window > min(shape[0], shape[1]):
    raise InputError(f"window {window} is larger than layer {layer} "
                     f"({shape[0]} x {shape[1]} px)")
  name = (f"{clf.name} {layer}" + ("" if unit is None else f"[{unit}]")
          + (f" window {window}" if window else ""))
  params = {"classifier": clf.params}
  if unit is not None:
    params["unit"] = np.asarray(unit, np.int32)
  return Operator(apply=_unit_fn(clf.apply, _size(clf), layer,
                                 unit is not None, window),
                  in_shape=_in_shape(clf, in_shape), linear=False, name=name,
                  params=params)


@functools.lru_cache(maxsize=32)
def _features_fn(clf_apply, size: tuple, layer: str):
  @_single_or_batch
  def apply(x, params):
    return {layer: clf_apply(params, _resize_for(size, x))[layer]}
  return apply


def classifier_features(clf, layer: str, in_shape=None) -> Operator:
  """x -> {layer: Phi_layer(x)} (N x h x w x C or N x C), for feature
  inversion with objective "normalized_mse":
  y = op(reference) (one H x W x 3 image -> the unbatched features)."""
  _check_layer(clf, layer)
  return Operator(apply=_features_fn(clf.apply, _size(clf), layer),
                  in_shape=_in_shape(clf, in_shape), linear=False,
                  name=f"{clf.name} {layer} features", params=clf.params)
