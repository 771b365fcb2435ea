"""A pretrained DnCNN denoiser (Zhang et al., IEEE TIP 2017) for images with
i.i.d. Gaussian noise, from the weights SCICO's wheel ships.

The weights: `scico/data/flax/dncnn{17,6}{L,M,H}.mpk` in the `scico` wheel
on PyPI (BSD-3-Clause, Los Alamos National Laboratory), grey-image models
trained at noise std 0.06 (L), 0.10 (M) and 0.20 (H) on [0, 1]. SCICO
itself pins older jax and flax than dip_jax runs on, so it is installed
without its dependencies and never imported -- only its data is read:

  pip install --no-deps scico==0.0.7

or point `where` (the config key `dncnn.weights`) at the wheel file
(`pip download --no-deps scico==0.0.7`), its `scico/data/flax` folder or one
.mpk file. Nothing is downloaded here.

Where the weights are looked for, first found wins:

1. `where` (`dncnn.weights`), when it is not empty;
2. an installed `scico` package (found without importing it);
3. the environment variable `DIP_JAX_DNCNN_WEIGHTS`: a path to the wheel
   file, its `scico/data/flax` folder or one .mpk file, as `where` takes.
   `make test` and `.ci/run` set it to the wheel that
   `tools/dncnn_weights.sh` downloads and checks, so that no SCICO install
   (and its older jax pins) is needed.

The net is DnCNN as SCICO trained it: a 3x3 conv + ReLU, depth - 2 blocks of
3x3 conv (no bias) + BatchNorm + ReLU, a last 3x3 conv, all with circular
padding, and the output y - net(y) (the net predicts the noise). The layer
names are SCICO's, so its parameter files load as they are.

Colour images are denoised channel by channel in an orthonormal opponent
colour space (luminance and two colour differences): an orthonormal
transform keeps i.i.d. noise i.i.d. with the same std, so each channel is
the grey problem the net was trained on, and luminance carries most of the
structure; it was chosen over R, G, B each on three 128 px Kodak crops
outside the CBM3D set (kodim04/15/20, sigma = 25).
The answer can average the net's outputs over the 8 flips and quarter turns
of the image (`self_ensemble`), as is usual for CNN denoisers.
"""

import importlib.util
import os
import zipfile

import flax.linen as nn
import jax
import numpy as np
from flax import serialization

from dip_jax import metrics
from dip_jax.errors import InputError

# Noise std each grey model was trained at ([0, 1] scale; SCICO's README).
TRAINED_SIGMA = {"L": 0.06, "M": 0.10, "H": 0.20}
INSTALL_HINT = ("pip install --no-deps scico==0.0.7 (BSD-3; dip_jax reads "
                "only the DnCNN weights its wheel ships), or set "
                "dncnn.weights (or the environment variable "
                "DIP_JAX_DNCNN_WEIGHTS) to that wheel, its scico/data/flax "
                "folder or a .mpk file")
_WHEEL_DIR = "scico/data/flax"
# Where the weights are looked for when neither `where` nor scico has them.
WEIGHTS_ENV = "DIP_JAX_DNCNN_WEIGHTS"

# An orthonormal opponent colour basis (rows): luminance, red - blue, and
# red + blue - 2 green. The two colour differences are shifted by 0.5 so
# that they sit in [0, 1] like the grey images the net was trained on.
OPPONENT = np.array([[1 / np.sqrt(3)] * 3,
                     [1 / np.sqrt(2), 0.0, -1 / np.sqrt(2)],
                     [1 / np.sqrt(6), -2 / np.sqrt(6), 1 / np.sqrt(6)]],
                    np.float32)
OPPONENT_SHIFT = np.array([0.0, 0.5, 0.5], np.float32)


class _ConvBN(nn.Module):
  filters: int

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(self.filters, (3, 3), use_bias=False, padding="CIRCULAR")(x)
    return nn.relu(nn.BatchNorm(use_running_average=True, epsilon=1e-5)(x))


class DnCNN(nn.Module):
  """y -> the denoised y (N x H x W x channels), SCICO's layer names."""
  depth: int = 17
  channels: int = 1
  filters: int = 64

  @nn.compact
  def __call__(self, y):
    conv = lambda c, name: nn.Conv(c, (3, 3), use_bias=False,
                                   padding="CIRCULAR", name=name)
    h = nn.relu(conv(self.filters, "conv_start")(y))
    for i in range(self.depth - 2):
      h = _ConvBN(self.filters, name=f"ConvBNBlock_{i}")(h)
    return y - conv(self.channels, "conv_end")(h)


def pick_variant(y, depth: int = 17) -> str:
  """The model trained nearest (in log std) to the noise std estimated from
  y itself (`metrics.noise_sigma`), e.g. "17M" at sigma = 25 / 255."""
  sigma = max(metrics.noise_sigma(y), 1e-6)
  level = min(TRAINED_SIGMA,
              key=lambda k: abs(np.log(TRAINED_SIGMA[k] / sigma)))
  return f"{depth}{level}"


def _shipped(names) -> list:
  """The variants among file names `dncnn<variant>.mpk` that load() takes
  (not the noise-level-input "N" models)."""
  return sorted(n[len("dncnn"):-len(".mpk")] for n in names
                if n.startswith("dncnn") and n.endswith(".mpk")
                and not n.endswith("N.mpk"))


def _mistyped(variant: str, source: str, shipped) -> InputError:
  """The error for a variant that `source` does not ship (the name is
  wrong, not the install)."""
  return InputError(f"dncnn.variant {variant!r}: {source} has no "
                    f"dncnn{variant}.mpk (it ships {', '.join(shipped)}; "
                    f"'auto' picks "
                    f"{'/'.join('17' + k for k in TRAINED_SIGMA)} by the "
                    f"noise level)")


def _read_from(where: str, variant: str, label: str) -> bytes:
  """The bytes of `dncnn<variant>.mpk` from `where`: a .mpk file, a folder
  holding it, or the scico wheel. label names where `where` came from (the
  config key or the environment variable) in the errors."""
  name = f"dncnn{variant}.mpk"
  if os.path.isdir(where):
    where = os.path.join(where, name)
  elif zipfile.is_zipfile(where):
    with zipfile.ZipFile(where) as wheel:
      member = f"{_WHEEL_DIR}/{name}"
      names = wheel.namelist()
      if member not in names:
        shipped = _shipped(os.path.basename(n) for n in names
                           if n.startswith(_WHEEL_DIR + "/"))
        hint = f" (it ships {', '.join(shipped)})" if shipped else ""
        raise InputError(f"{label}: {where} has no {member}{hint}")
      return wheel.read(member)
  if not os.path.isfile(where):
    raise InputError(f"{label}: no file {where}")
  with open(where, "rb") as f:
    return f.read()


def read_weights(variant: str, where: str = "") -> bytes:
  """The bytes of `dncnn<variant>.mpk`.

  Args:
    variant: the model, e.g. "17M" (depth 17, trained at noise std 0.10).
    where: a .mpk file, a folder holding it, or the scico wheel; when
      empty, an installed scico package (found without importing it), else
      the path in the environment variable `DIP_JAX_DNCNN_WEIGHTS`.

  Returns:
    The file's bytes (flax msgpack).

  Raises:
    InputError: when none of those has the file.
  """
  name = f"dncnn{variant}.mpk"
  if where:
    return _read_from(where, variant, "dncnn.weights")
  spec = importlib.util.find_spec("scico")
  folders = list(spec.submodule_search_locations or []) if spec else []
  shipped = []
  for folder in folders:
    flax_dir = os.path.join(folder, "data", "flax")
    path = os.path.join(flax_dir, name)
    if os.path.isfile(path):
      with open(path, "rb") as f:
        return f.read()
    if os.path.isdir(flax_dir):
      shipped += _shipped(os.listdir(flax_dir))
  if shipped:
    # scico is there: the name is wrong, not the install.
    raise _mistyped(variant, "the installed scico", shipped)
  from_env = os.environ.get(WEIGHTS_ENV, "")
  if from_env:
    return _read_from(from_env, variant, WEIGHTS_ENV)
  raise InputError(f"no DnCNN weights ({name}) found: {INSTALL_HINT}")


def available(variant: str = "17M", where: str = "") -> bool:
  """Whether `read_weights(variant, where)` finds its file."""
  try:
    read_weights(variant, where)
    return True
  except InputError:
    return False


def load(variant: str, where: str = ""):
  """(DnCNN module, its variables) from SCICO's `dncnn<variant>.mpk`; the
  depth and width are read from the file. Grey models only (not the noise-level
  input "N" variants)."""
  raw = read_weights(variant, where)
  try:
    tree = serialization.msgpack_restore(raw)
    variables = {"params": tree["params"],
                 "batch_stats": tree["batch_stats"]}
    blocks = [k for k in variables["params"] if k.startswith("ConvBNBlock_")]
    _, _, channels, filters = variables["params"]["conv_start"][
        "kernel"].shape
  except (ValueError, KeyError, TypeError) as e:
    raise InputError(f"dncnn{variant}.mpk is not a DnCNN parameter file "
                     f"({type(e).__name__}: {e})") from None
  if channels != 1:
    raise InputError(f"dncnn{variant}.mpk takes {channels} input channels; "
                     f"only the grey models (L, M, H) are supported")
  return DnCNN(depth=len(blocks) + 2, filters=filters), variables


class Denoiser:
  """D(y) for H x W x C images (C = 1 or 3) in [0, 1], numpy in and out."""

  def __init__(self, variant: str = "17M", where: str = "",
               self_ensemble: bool = True):
    self.variant = variant
    self.net, self.variables = load(variant, where)
    self.self_ensemble = bool(self_ensemble)
    # One program per image shape: every channel of one view in one batch.
    self._apply = jax.jit(lambda v, x: self.net.apply(v, x))

  def _grey_batch(self, channels):
    """channels: C x H x W -> denoised C x H x W, over the 8 dihedral views
    when self_ensemble (each view undone before averaging)."""
    views = [(k, flip) for k in range(4) for flip in (False, True)]
    if not self.self_ensemble:
      views = views[:1]
    total = np.zeros(channels.shape, np.float32)
    for k, flip in views:
      v = np.rot90(channels, k, axes=(1, 2))
      v = v[:, :, ::-1] if flip else v
      # jit takes the strided view as it is (it copies to the device).
      out = np.asarray(self._apply(self.variables, v[..., None]))[..., 0]
      out = out[:, :, ::-1] if flip else out
      total += np.rot90(out, -k, axes=(1, 2))
    return total / len(views)

  def __call__(self, y) -> np.ndarray:
    y = np.asarray(y, np.float32)
    if y.ndim != 3 or y.shape[-1] not in (1, 3):
      raise InputError(f"DnCNN denoises H x W x 1 or 3 images, got shape "
                       f"{y.shape}")
    if y.shape[-1] == 1:
      out = self._grey_batch(np.moveaxis(y, -1, 0))
      return np.moveaxis(out, 0, -1)
    opp = y @ OPPONENT.T + OPPONENT_SHIFT
    out = np.moveaxis(self._grey_batch(np.moveaxis(opp, -1, 0)), 0, -1)
    return (out - OPPONENT_SHIFT) @ OPPONENT
