"""Weights the user supplies, read without running any of their code.

A weights file is a state dict keyed by torchvision's names
("features.0.weight", ..., "classifier.6.bias") in torch's layouts (conv
O x I x H x W, linear out x in), saved as

  .npz          numpy's archive, read with allow_pickle=False; make one from
                torchvision's .pth with `python -m
                dip_jax.nets.classifiers.convert_torchvision SRC.pth DST.npz`
  .safetensors  read with the `safetensors` package's numpy API, when it is
                installed (it is not a dependency of dip_jax)

Nothing is ever unpickled. `to_flax_params` checks the names, shapes and
values and converts the layouts to flax's (conv H x W x I x O, dense
in x out); every problem is a one-line `InputError` naming it.
"""

import os
import zipfile

import numpy as np

from dip_jax.errors import InputError
from dip_jax.nets.classifiers import alexnet

__all__ = ["read_state_dict", "to_flax_params", "load_alexnet_params"]

_CONVERT = ("python -m dip_jax.nets.classifiers.convert_torchvision "
            "alexnet-owt-7be5be79.pth alexnet.npz")


def _one_line(err: BaseException) -> str:
  text = str(err).strip().splitlines()
  return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _read_npz(path: str) -> dict:
  try:
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
      raise InputError(f"weights file {path} holds a single array, not an "
                       f".npz archive of named arrays")
    with archive:
      return {k: archive[k] for k in archive.files}
  except InputError:
    raise
  except ValueError as e:
    # allow_pickle=False refuses pickles and object arrays rather than
    # unpickling them.
    raise InputError(f"cannot read weights file {path}: {_one_line(e)} "
                     f"(dip_jax never unpickles)") from e
  except (OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
    raise InputError(f"cannot read weights file {path}: not a valid .npz "
                     f"archive ({_one_line(e)})") from e


def _read_safetensors(path: str) -> dict:
  try:
    from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise InputError(f"reading {path} needs the safetensors package: pip "
                     f"install safetensors, or use an .npz file ({_CONVERT})"
                     ) from None
  try:
    return dict(load_file(path))
  except Exception as e:  # pylint: disable=broad-except
    # safetensors raises its own SafetensorError (and TypeError for dtypes
    # numpy lacks, e.g. bfloat16); each means the same thing here.
    raise InputError(f"cannot read weights file {path}: not a valid "
                     f".safetensors file ({_one_line(e)})") from e


def read_state_dict(path: str) -> dict:
  """{name: numpy array} from an .npz or .safetensors file, as stored."""
  path = os.path.expanduser(os.fspath(path))
  if not os.path.isfile(path):
    raise InputError(f"weights file {path} does not exist"
                     + (" (it is a directory)" if os.path.isdir(path) else ""))
  ext = os.path.splitext(path)[1].lower()
  if ext == ".npz":
    return _read_npz(path)
  if ext == ".safetensors":
    return _read_safetensors(path)
  if ext in (".pth", ".pt", ".ckpt", ".bin"):
    raise InputError(f"weights file {path} is a torch checkpoint, which "
                     f"dip_jax does not unpickle; convert it first: "
                     f"python -m dip_jax.nets.classifiers.convert_torchvision "
                     f"{path} {os.path.splitext(path)[0]}.npz")
  raise InputError(f"weights file {path} has unknown extension "
                   f"{ext or '(none)'!r}; expected .npz or .safetensors")


def to_flax_params(state: dict, num_classes: int = 1000, where: str = "") \
    -> dict:
  """torchvision's AlexNet state dict -> the params pytree of `AlexNet`.

  Checks, in this order: every expected key is present (the first missing
  one is named), no other key is (the first one, sorted), then key by key
  in layer order its shape and that its values are finite. Arrays become
  float32, conv weights H x W x I x O, dense weights in x out.
  """
  where = f" in {where}" if where else ""
  expected = alexnet.torch_shapes(num_classes)
  for key in expected:
    if key not in state:
      raise InputError(f"missing key {key!r}{where} (expected torchvision's "
                       f"AlexNet state dict, {len(expected)} keys)")
  extra = sorted(set(state) - set(expected))
  if extra:
    raise InputError(f"unexpected key {extra[0]!r}{where}"
                     + (f" (and {len(extra) - 1} more)" if len(extra) > 1
                        else "")
                     + " (expected torchvision's AlexNet state dict)")
  params = {}
  for name, prefix in alexnet.TORCH_NAMES:
    layer = {}
    for part in ("weight", "bias"):
      key = f"{prefix}.{part}"
      a = np.asarray(state[key])
      if tuple(a.shape) != expected[key]:
        raise InputError(f"wrong shape for {key!r}{where}: expected "
                         f"{expected[key]}, got {tuple(a.shape)}")
      if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{key!r}{where} has dtype {a.dtype}, expected "
                         f"floating point")
      a = a.astype(np.float32, copy=False)
      # A finite sum means finite values (inf and nan propagate); only an
      # overflowing or non-finite sum needs the elementwise look.
      if not np.isfinite(a.sum()) and not np.isfinite(a).all():
        raise InputError(f"{key!r}{where} has non-finite values "
                         f"({int(np.sum(~np.isfinite(a)))} of {a.size})")
      if part == "bias":
        layer["bias"] = a
      elif a.ndim == 4:
        # O x I x H x W -> H x W x I x O; both are cross-correlations.
        layer["kernel"] = np.ascontiguousarray(a.transpose(2, 3, 1, 0))
      else:
        layer["kernel"] = np.ascontiguousarray(a.T)  # out x in -> in x out
    params[name] = layer
  return params


def load_alexnet_params(path: str, num_classes: int = 1000) -> dict:
  """The params pytree of `AlexNet` from a weights file (numpy arrays)."""
  return to_flax_params(read_state_dict(path), num_classes, where=str(path))
