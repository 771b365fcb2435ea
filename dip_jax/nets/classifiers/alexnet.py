"""AlexNet in flax.linen, laid out exactly as `torchvision.models.alexnet`,
so that torchvision's weights apply unchanged (see `weights.py`).

  features    conv1  Conv(64, 11, stride 4, pad 2)   ReLU  MaxPool(3, 2)
              conv2  Conv(192, 5, pad 2)             ReLU  MaxPool(3, 2)
              conv3  Conv(384, 3, pad 1)             ReLU
              conv4  Conv(256, 3, pad 1)             ReLU
              conv5  Conv(256, 3, pad 1)             ReLU  MaxPool(3, 2)
  avgpool     pool5  AdaptiveAvgPool2d(6, 6)
  classifier  fc6    Dropout Linear(9216, 4096)      ReLU
              fc7    Dropout Linear(4096, 4096)      ReLU
              fc8    Linear(4096, num_classes)

The input is N x H x W x 3 in [0, 1]; the ImageNet normalization happens
inside. The output is a dict of named activations: conv1..conv5 after their
ReLU (before any pool), pool5 after the adaptive pool, fc6 and fc7 after
their ReLU, fc8 the logits. Only inference is supported, so the dropouts
are the identity and are left out.

Any input of at least 63 x 63 pixels works (224 and 227 both reach pool5 at
6 x 6); the adaptive pool follows torch's bins, start = floor(i in / out),
end = ceil((i + 1) in / out), which overlap when `in` is not a multiple of
`out`.
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from dip_jax.errors import InputError

__all__ = ["AlexNet", "apply", "adaptive_avg_pool", "LAYERS", "TORCH_NAMES",
           "torch_shapes", "MIN_SIZE"]

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "pool5", "fc6", "fc7",
          "fc8")

# (flax name, torchvision prefix) of every layer with parameters.
TORCH_NAMES = (("conv1", "features.0"), ("conv2", "features.3"),
               ("conv3", "features.6"), ("conv4", "features.8"),
               ("conv5", "features.10"), ("fc6", "classifier.1"),
               ("fc7", "classifier.4"), ("fc8", "classifier.6"))

# (features, kernel, stride, padding, max-pool after) of conv1..conv5.
_CONVS = ((64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
          (256, 3, 1, 1, False), (256, 3, 1, 1, True))
_POOL = 6  # the adaptive pool's output side
_HIDDEN = 4096

# The smallest side whose conv5 output is still 3 pixels, the one pool
# window: 63 -> 15 -> 7 -> 7 -> 3 -> 3.
MIN_SIZE = 63


def torch_shapes(num_classes: int = 1000) -> dict:
  """{torchvision state-dict key: shape in torch's layout}, in layer order:
  conv weights O x I x H x W, linear weights out x in."""
  shapes, cin = {}, 3
  for (_, prefix), (cout, k, _, _, _) in zip(TORCH_NAMES, _CONVS):
    shapes[f"{prefix}.weight"] = (cout, cin, k, k)
    shapes[f"{prefix}.bias"] = (cout,)
    cin = cout
  dims = (cin * _POOL * _POOL, _HIDDEN, _HIDDEN, num_classes)
  for (_, prefix), din, dout in zip(TORCH_NAMES[5:], dims[:-1], dims[1:]):
    shapes[f"{prefix}.weight"] = (dout, din)
    shapes[f"{prefix}.bias"] = (dout,)
  return shapes


def _bins(n_in: int, n_out: int) -> np.ndarray:
  """n_out x n_in averaging matrix of torch's adaptive pooling along one axis."""
  m = np.zeros((n_out, n_in), np.float32)
  for i in range(n_out):
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)  # ceil without floats
    m[i, start:end] = 1.0 / (end - start)
  return m


def adaptive_avg_pool(x, out_size):
  """torch's AdaptiveAvgPool2d on N x H x W x C: (oh, ow) averages over
  (possibly overlapping) bins. The identity when H, W == out_size."""
  oh, ow = out_size
  h, w = x.shape[1:3]
  if (h, w) == (oh, ow):
    return x
  # Two small static matrices: exact bin averages, differentiable, and one
  # einsum instead of oh * ow slices.
  return jnp.einsum("ih,nhwc,jw->nijc", jnp.asarray(_bins(h, oh)), x,
                    jnp.asarray(_bins(w, ow)))


class AlexNet(nn.Module):
  """torchvision's AlexNet (inference only); returns named activations."""
  num_classes: int = 1000

  @nn.compact
  def __call__(self, x) -> dict:
    if x.ndim != 4 or x.shape[-1] != 3:
      raise InputError(f"AlexNet takes N x H x W x 3 images, got shape "
                       f"{tuple(x.shape)}")
    if min(x.shape[1:3]) < MIN_SIZE:
      raise InputError(f"AlexNet needs images of at least {MIN_SIZE} x "
                       f"{MIN_SIZE} pixels, got {x.shape[1]} x {x.shape[2]}")
    x = (x - jnp.asarray(MEAN, x.dtype)) / jnp.asarray(STD, x.dtype)
    out = {}
    for i, (features, k, stride, pad, pool) in enumerate(_CONVS):
      name = f"conv{i + 1}"
      x = nn.Conv(features, (k, k), strides=(stride, stride),
                  padding=((pad, pad), (pad, pad)), name=name)(x)
      x = out[name] = nn.relu(x)
      if pool:
        # torch's MaxPool2d(3, 2): no padding, floor mode = VALID.
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    x = out["pool5"] = adaptive_avg_pool(x, (_POOL, _POOL))
    # torch flattens N x C x 6 x 6: channel-major, so fc6's columns apply
    # unchanged once the activations are in that order.
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
    x = out["fc6"] = nn.relu(nn.Dense(_HIDDEN, name="fc6")(x))
    x = out["fc7"] = nn.relu(nn.Dense(_HIDDEN, name="fc7")(x))
    out["fc8"] = nn.Dense(self.num_classes, name="fc8")(x)
    return out


def apply(params, x) -> dict:
  """(flax params of `AlexNet()`, N x H x W x 3 in [0, 1]) -> activations.

  A module-level function, so programs jitted on it are keyed on one
  object; the number of classes follows from fc8's parameters.
  """
  num_classes = params["fc8"]["bias"].shape[-1]
  return AlexNet(num_classes).apply({"params": params}, x)

