"""Convert a torchvision checkpoint (.pth) to the .npz that dip_jax reads.

  python -m dip_jax.nets.classifiers.convert_torchvision \\
      ~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth alexnet.npz

The only place dip_jax imports torch, so torch is needed only here. The
checkpoint is read with `torch.load(..., weights_only=True)`, which refuses
anything but tensors and plain containers (no arbitrary unpickling); a bare
state dict and a dict with a "state_dict" entry both work. The .npz keeps
torch's names and layouts, as float32, and is written atomically (a
temporary file in the same folder, then a rename), so an interrupted
conversion leaves no half-written file behind. By default the state dict
is checked against torchvision's AlexNet first, so a wrong file fails here
rather than at the first fit.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

from dip_jax.errors import InputError
from dip_jax.nets.classifiers import weights

__all__ = ["convert", "main"]


def _load_torch(src: str) -> dict:
  """{name: float32 numpy array} of a torch checkpoint's state dict."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise InputError("converting a .pth needs torch, which is not installed: "
                     "pip install torch (the CPU build is enough)") from None
  if not os.path.isfile(src):
    raise InputError(f"checkpoint {src} does not exist")
  try:
    obj = torch.load(src, map_location="cpu", weights_only=True)
  except Exception as e:  # pylint: disable=broad-except
    # weights_only refuses pickled code with a long message; its first line
    # names the problem.
    lines = str(e).strip().splitlines() or [type(e).__name__]
    raise InputError(f"cannot load checkpoint {src} with weights_only=True: "
                     f"{lines[0]}") from e
  if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
    obj = obj["state_dict"]
  if not isinstance(obj, dict) or not obj:
    raise InputError(f"checkpoint {src} holds a {type(obj).__name__}, not a "
                     f"state dict (a dict of tensors, or a dict with one "
                     f"under 'state_dict')")
  state = {}
  for key, value in obj.items():
    if not isinstance(key, str) or not torch.is_tensor(value):
      raise InputError(f"checkpoint {src}: entry {key!r} is a "
                       f"{type(value).__name__}, not a tensor")
    if not value.is_floating_point():
      raise InputError(f"checkpoint {src}: tensor {key!r} has dtype "
                       f"{value.dtype}, expected floating point")
    state[key] = value.detach().to("cpu", torch.float32).contiguous().numpy()
  return state


def _write_npz_atomically(state: dict, dst: str) -> None:
  folder = os.path.dirname(os.path.abspath(dst))
  if not os.path.isdir(folder):
    raise InputError(f"cannot write {dst}: folder {folder} does not exist")
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-",
                             suffix=os.path.basename(dst))
  try:
    # A file object, not a path: np.savez would append ".npz" to a path.
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **state)
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp's 0600 is meant for secrets, not weights
    os.replace(tmp, dst)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def convert(src: str, dst: str, arch: str | None = "alexnet") -> tuple:
  """Write torch checkpoint `src` as the .npz `dst`; (keys, parameters).

  `arch` ("alexnet", or None to skip) checks the state dict against that
  architecture's names and shapes before anything is written.
  """
  src, dst = os.fspath(src), os.fspath(dst)
  if not dst.lower().endswith(".npz"):
    raise InputError(f"output {dst} must end in .npz")
  state = _load_torch(src)
  if arch == "alexnet":
    weights.to_flax_params(state, where=src)
  elif arch is not None:
    raise InputError(f"unknown architecture {arch!r}; known: alexnet")
  _write_npz_atomically(state, dst)
  return len(state), sum(int(a.size) for a in state.values())


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m dip_jax.nets.classifiers.convert_torchvision",
      description="Convert a torchvision .pth state dict to an .npz "
                  "(torch names and layouts, float32) for "
                  "--config.weights.")
  parser.add_argument("src", help="e.g. ~/.cache/torch/hub/checkpoints/"
                                  "alexnet-owt-7be5be79.pth")
  parser.add_argument("dst", help="the .npz to write, e.g. alexnet.npz")
  parser.add_argument("--arch", default="alexnet",
                      help="architecture to check against, or 'none'")
  args = parser.parse_args(argv)
  arch = None if args.arch.lower() == "none" else args.arch.lower()
  try:
    keys, count = convert(os.path.expanduser(args.src),
                          os.path.expanduser(args.dst), arch)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  print(f"wrote {args.dst}: {keys} tensors, {count:,} parameters")
  return 0


if __name__ == "__main__":
  sys.exit(main())
