"""Classifiers to look inside: a `Classifier` record (a pure apply function
returning named activations, its parameters, its input size) and loaders
for user-supplied weights. Nothing here downloads anything.

  load_classifier("alexnet", "alexnet.npz")   torchvision's AlexNet

The weights come from the user: torchvision caches AlexNet's as
~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth, and
`python -m dip_jax.nets.classifiers.convert_torchvision SRC.pth alexnet.npz`
turns that into a file dip_jax reads without torch (see `weights`).
"""

import jax

from dip_jax.errors import InputError
from dip_jax.nets.classifiers.base import Classifier

__all__ = ["Classifier", "load_classifier", "KNOWN"]

KNOWN = ("alexnet",)

_HOW = ("pass weights_path (on the command line --config.weights="
        "alexnet.npz), made from "
        "torchvision's checkpoint (~/.cache/torch/hub/checkpoints/"
        "alexnet-owt-7be5be79.pth) with: python -m "
        "dip_jax.nets.classifiers.convert_torchvision alexnet-owt-7be5be79.pth "
        "alexnet.npz")


def load_classifier(name: str, weights_path: str) -> Classifier:
  """The classifier `name` with the weights in `weights_path` (.npz or
  .safetensors, torchvision's names and layouts), its params on the
  default device. `apply` is the same function object on every call for
  one architecture, so compiled programs keyed on it are reused."""
  key = str(name).strip().lower()
  if key not in KNOWN:
    raise InputError(f"unknown classifier {name!r}; known: "
                     f"{', '.join(KNOWN)}")
  if not weights_path or not str(weights_path).strip():
    raise InputError(f"classifier {key} needs weights and none were given: "
                     f"{_HOW}")
  # Imported here: the operators import this package, and only a run that
  # uses a classifier needs the net.
  from dip_jax.nets.classifiers import alexnet, weights  # pylint: disable=g-import-not-at-top
  params = weights.load_alexnet_params(str(weights_path).strip())
  # On the device once, rather than as 244 MB of host arrays copied into
  # every jitted call (or baked into its program as constants).
  params = jax.device_put(params)
  return Classifier(name=key, apply=alexnet.apply, params=params,
                    input_size=(224, 224), layers=alexnet.LAYERS)
