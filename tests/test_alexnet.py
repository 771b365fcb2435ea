"""AlexNet (torchvision's layout), its weight loader and the .pth converter.

Shapes come from jax.eval_shape (nothing compiles); the layouts are checked
numerically twice: against a numpy conv1 and fc6 on hand-made weights here,
and against torchvision's AlexNet written out in plain torch in the round
trip (.pth -> converter -> .npz -> Flax), which runs wherever torch is
installed (CI installs it; torchvision is not needed).
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dip_jax.errors import InputError
from dip_jax.nets.classifiers import alexnet, convert_torchvision, weights
from dip_jax.nets.classifiers import Classifier, load_classifier

MEAN = np.array(alexnet.MEAN, np.float32)
STD = np.array(alexnet.STD, np.float32)
SHAPES = alexnet.torch_shapes()
KEYS = tuple(SHAPES)


def _shapes(size):
  spec = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
  out, variables = jax.eval_shape(
      lambda x: alexnet.AlexNet().init_with_output(jax.random.key(0), x), spec)
  return {k: v.shape for k, v in out.items()}, variables["params"]


def _raises(match, fn, *args):
  with pytest.raises(InputError, match=match) as info:
    fn(*args)
  assert "\n" not in str(info.value)
  return str(info.value)


@pytest.fixture(scope="module")
def zeros_state():
  return {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}


@pytest.fixture(scope="module")
def zeros_npz(tmp_path_factory, zeros_state):
  """The full 244 MB state dict, once per module, removed afterwards."""
  path = tmp_path_factory.mktemp("weights") / "alexnet.npz"
  np.savez(path, **zeros_state)
  yield str(path)
  os.remove(path)


@pytest.mark.parametrize("size,conv1", [(224, 55), (227, 56)])
def test_activation_shapes(size, conv1):
  shapes, params = _shapes(size)
  assert shapes == {
      "conv1": (2, conv1, conv1, 64), "conv2": (2, 27, 27, 192),
      "conv3": (2, 13, 13, 384), "conv4": (2, 13, 13, 256),
      "conv5": (2, 13, 13, 256), "pool5": (2, 6, 6, 256),
      "fc6": (2, 4096), "fc7": (2, 4096), "fc8": (2, 1000)}
  assert set(shapes) == set(alexnet.LAYERS)
  n = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
  assert n == 61_100_840 == sum(int(np.prod(s)) for s in SHAPES.values())


def test_other_sizes():
  # 256 px reaches conv5 at 15 x 15, pool 7 x 7: overlapping adaptive bins.
  assert _shapes(256)[0]["pool5"] == (2, 6, 6, 256)
  assert _shapes(alexnet.MIN_SIZE)[0]["pool5"] == (2, 6, 6, 256)
  _raises("at least 63", _shapes, alexnet.MIN_SIZE - 1)
  spec = jax.ShapeDtypeStruct((1, 224, 224, 1), jnp.float32)
  _raises("N x H x W x 3", jax.eval_shape,
          lambda x: alexnet.AlexNet().init(jax.random.key(0), x), spec)


@pytest.mark.parametrize("hw", [(7, 13), (3, 5), (6, 6), (11, 6)])
def test_adaptive_pool_matches_numpy(hw):
  x = np.random.default_rng(0).normal(size=(2, *hw, 4)).astype(np.float32)
  ref = np.zeros((2, 6, 6, 4), np.float32)
  h, w = hw
  for i in range(6):
    for j in range(6):
      h0, h1 = int(np.floor(i * h / 6)), int(np.ceil((i + 1) * h / 6))
      w0, w1 = int(np.floor(j * w / 6)), int(np.ceil((j + 1) * w / 6))
      ref[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
  got = np.asarray(alexnet.adaptive_avg_pool(jnp.asarray(x), (6, 6)))
  np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_layouts_against_numpy(zeros_state):
  """conv1 (OIHW -> HWIO, cross-correlation, stride, padding) and fc6
  (out x in, torch's C x 6 x 6 flatten) on hand-made weights: conv2..conv5
  are zero, so pool5 is relu(conv5 bias) everywhere."""
  rng = np.random.default_rng(1)
  state = dict(zeros_state)
  w1 = rng.normal(0, 0.05, SHAPES["features.0.weight"]).astype(np.float32)
  b1 = rng.normal(0, 0.1, 64).astype(np.float32)
  b5 = rng.uniform(0.1, 1, 256).astype(np.float32)
  w6 = rng.standard_normal((4096, 9216), np.float32) / 96
  b6 = rng.normal(0, 0.1, 4096).astype(np.float32)
  state.update({"features.0.weight": w1, "features.0.bias": b1,
                "features.10.bias": b5, "classifier.1.weight": w6,
                "classifier.1.bias": b6})
  params = weights.to_flax_params(state)
  x = rng.uniform(size=(1, 224, 224, 3)).astype(np.float32)
  out = jax.jit(lambda p, x: {k: v for k, v in alexnet.apply(p, x).items()
                              if k in ("conv1", "fc6")})(params, x)

  xp = np.pad((x - MEAN) / STD, ((0, 0), (2, 2), (2, 2), (0, 0)))
  win = np.lib.stride_tricks.sliding_window_view(xp, (11, 11), (1, 2))
  conv1 = np.einsum("nhwcij,ocij->nhwo", win[:, ::4, ::4], w1) + b1
  np.testing.assert_allclose(out["conv1"], np.maximum(conv1, 0), atol=2e-5)
  fc6 = np.maximum(w6 @ np.repeat(b5, 36) + b6, 0)  # channel-major
  np.testing.assert_allclose(out["fc6"][0], fc6, atol=2e-5 * np.abs(fc6).max())


def test_load_classifier(zeros_npz):
  clf = load_classifier("AlexNet", zeros_npz)
  assert isinstance(clf, Classifier) and clf.name == "alexnet"
  assert clf.apply is alexnet.apply  # one function for every load
  assert clf.input_size == (224, 224) and clf.layers == alexnet.LAYERS
  spec = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
  out = jax.eval_shape(clf.apply, clf.params, spec)
  assert set(out) == set(clf.layers) and out["fc8"].shape == (1, 1000)
  _, init = _shapes(224)
  assert (jax.tree_util.tree_map(lambda a: a.shape, clf.params)
          == jax.tree_util.tree_map(lambda a: a.shape, init))


def test_load_classifier_errors(tmp_path):
  _raises("unknown classifier 'vgg16'; known: alexnet", load_classifier,
          "vgg16", "x.npz")
  msg = _raises("needs weights", load_classifier, "alexnet", "")
  assert "--config.weights=alexnet.npz" in msg
  assert ("python -m dip_jax.nets.classifiers.convert_torchvision "
          "alexnet-owt-7be5be79.pth alexnet.npz") in msg
  assert "~/.cache/torch/hub/checkpoints" in msg
  _raises("does not exist", load_classifier, "alexnet", str(tmp_path / "no"))


def _save(tmp_path, state, name="w.npz"):
  path = str(tmp_path / name)
  np.savez(path, **state)
  return path


def _small(**override):
  """All keys, conv1's at their real shapes and the rest (1,): enough for
  every check that stops at or before conv1's parameters."""
  state = {k: np.zeros(SHAPES[k] if k.startswith("features.0.") else (1,),
                       np.float32) for k in KEYS}
  state.update(override)
  return state


def test_file_errors(tmp_path):
  load = weights.load_alexnet_params
  _raises("does not exist", load, str(tmp_path / "missing.npz"))
  _raises("is a directory", load, str(tmp_path))
  (tmp_path / "w.h5").write_bytes(b"x")
  _raises("unknown extension '.h5'", load, str(tmp_path / "w.h5"))
  (tmp_path / "w.pth").write_bytes(b"x")
  _raises("convert_torchvision", load, str(tmp_path / "w.pth"))
  (tmp_path / "bad.npz").write_bytes(b"not an archive at all")
  _raises("cannot read", load, str(tmp_path / "bad.npz"))
  (tmp_path / "empty.npz").write_bytes(b"")
  _raises("cannot read", load, str(tmp_path / "empty.npz"))
  np.save(tmp_path / "one.npy", np.zeros(3))
  os.rename(tmp_path / "one.npy", tmp_path / "one.npz")
  _raises("single array", load, str(tmp_path / "one.npz"))
  obj = np.array([{"a": 1}], dtype=object)
  _raises("never unpickles", load, _save(tmp_path, {"x": obj}, "obj.npz"))


def test_key_shape_value_errors(tmp_path):
  load = weights.load_alexnet_params
  state = _small()
  del state["features.3.bias"], state["classifier.6.weight"]
  _raises("missing key 'features.3.bias'", load, _save(tmp_path, state))
  msg = _raises("unexpected key 'aaa'", load,
                _save(tmp_path, _small(zzz=np.zeros(1), aaa=np.zeros(1))))
  assert "1 more" in msg
  state = _small(**{"features.3.weight": np.zeros((192, 64, 5, 4))})
  _raises(r"wrong shape for 'features.3.weight'.*: expected \(192, 64, 5, 5\)"
          r", got \(192, 64, 5, 4\)", load, _save(tmp_path, state))
  w = np.zeros(SHAPES["features.0.weight"], np.float32)
  w[3, 1, 2, 2] = np.inf
  _raises("'features.0.weight'.* non-finite", load,
          _save(tmp_path, _small(**{"features.0.weight": w})))
  b = np.full(64, np.nan, np.float32)
  _raises("'features.0.bias'.* non-finite", load,
          _save(tmp_path, _small(**{"features.0.bias": b})))
  state = _small(**{"features.0.bias": np.zeros(64, np.int32)})
  _raises("dtype int32", load, _save(tmp_path, state))


def test_safetensors(tmp_path):
  path = str(tmp_path / "w.safetensors")
  try:
    from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  except ImportError:
    open(path, "wb").close()
    _raises("pip install safetensors", weights.load_alexnet_params, path)
    return
  state = _small()
  del state["classifier.6.bias"]
  save_file(state, path)
  _raises("missing key 'classifier.6.bias'", weights.load_alexnet_params, path)
  with open(path, "wb") as f:
    f.write(b"garbage")
  _raises("not a valid .safetensors", weights.load_alexnet_params, path)


def test_converter_without_torch(tmp_path, capsys, monkeypatch):
  # A None in sys.modules makes `import torch` raise ImportError, so this
  # runs where torch is installed too (CI installs it for the references).
  monkeypatch.setitem(sys.modules, "torch", None)
  src = tmp_path / "a.pth"
  src.write_bytes(b"x")
  _raises("needs torch", convert_torchvision.convert, str(src),
          str(tmp_path / "a.npz"))
  assert convert_torchvision.main([str(src), str(tmp_path / "a.npz")]) == 1
  err = capsys.readouterr().err
  assert "pip install torch" in err and err.count("\n") == 1
  assert not os.path.exists(tmp_path / "a.npz")


def test_converter_errors(tmp_path):
  torch = pytest.importorskip("torch")  # torchvision is not needed here
  pth = str(tmp_path / "a.pth")
  _raises("must end in .npz", convert_torchvision.convert, pth, "a.bin")
  _raises("does not exist", convert_torchvision.convert, pth, "a.npz")
  torch.save({"w": torch.zeros(2), "f": _NotAllowed()}, pth)
  _raises("weights_only=True", convert_torchvision.convert, pth,
          str(tmp_path / "a.npz"))
  torch.save({"state_dict": {"features.0.weight": torch.zeros(1)}}, pth)
  _raises("missing key 'features.0.bias'", convert_torchvision.convert, pth,
          str(tmp_path / "a.npz"))
  torch.save([torch.zeros(1)], pth)
  _raises("not a state dict", convert_torchvision.convert, pth,
          str(tmp_path / "a.npz"))
  assert os.listdir(tmp_path) == ["a.pth"]  # nothing half-written


class _NotAllowed:
  """Not on weights_only's allow list: torch.load must refuse it."""


def _torch_alexnet(torch):
  """torchvision's AlexNet (models/alexnet.py), written out in plain torch:
  the same modules at the same indices, so `state_dict()` has torchvision's
  keys, and the same forward. PyPI's torchvision does not import beside the
  CPU torch wheel CI installs (torch==2.13.0), so the reference is built
  here instead; the dropouts keep their places in `classifier` (they hold
  no weights, but they fix the indices 1, 4, 6 of the linear layers)."""
  nn = torch.nn

  class AlexNet(nn.Module):

    def __init__(self):
      super().__init__()
      self.features = nn.Sequential(
          nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
          nn.ReLU(inplace=True),
          nn.MaxPool2d(kernel_size=3, stride=2),
          nn.Conv2d(64, 192, kernel_size=5, padding=2),
          nn.ReLU(inplace=True),
          nn.MaxPool2d(kernel_size=3, stride=2),
          nn.Conv2d(192, 384, kernel_size=3, padding=1),
          nn.ReLU(inplace=True),
          nn.Conv2d(384, 256, kernel_size=3, padding=1),
          nn.ReLU(inplace=True),
          nn.Conv2d(256, 256, kernel_size=3, padding=1),
          nn.ReLU(inplace=True),
          nn.MaxPool2d(kernel_size=3, stride=2))
      self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
      self.classifier = nn.Sequential(
          nn.Dropout(p=0.5), nn.Linear(256 * 6 * 6, 4096),
          nn.ReLU(inplace=True), nn.Dropout(p=0.5), nn.Linear(4096, 4096),
          nn.ReLU(inplace=True), nn.Linear(4096, 1000))

    def forward(self, x):
      x = self.avgpool(self.features(x))
      return self.classifier(torch.flatten(x, 1))

  return AlexNet()


def test_round_trip_against_torch(tmp_path, capsys):
  torch = pytest.importorskip("torch")
  torch.manual_seed(0)
  model = _torch_alexnet(torch).eval()
  # The state dict has exactly the keys and shapes the loader expects (a
  # typo in the module above would fail here, not as a layout mismatch).
  assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == SHAPES
  pth, npz = str(tmp_path / "alexnet.pth"), str(tmp_path / "alexnet.npz")
  torch.save({"state_dict": model.state_dict(), "epoch": 3}, pth)
  assert convert_torchvision.main([pth, npz]) == 0
  assert "16 tensors, 61,100,840 parameters" in capsys.readouterr().out
  assert sorted(os.listdir(tmp_path)) == ["alexnet.npz", "alexnet.pth"]
  clf = load_classifier("alexnet", npz)

  x = np.random.default_rng(0).uniform(size=(2, 224, 224, 3)).astype(
      np.float32)
  out = jax.jit(clf.apply)(clf.params, x)
  xt = torch.from_numpy(((x - MEAN) / STD).transpose(0, 3, 1, 2).copy())
  with torch.no_grad():
    ref = {"conv1": model.features[:2](xt).permute(0, 2, 3, 1),
           "fc8": model(xt)}
    ref["fc6"] = model.classifier[:3](
        torch.flatten(model.avgpool(model.features(xt)), 1))
  for layer, r in ref.items():
    r = r.numpy()
    err = np.abs(np.asarray(out[layer]) - r).max() / np.abs(r).max()
    print(f"{layer}: max |flax - torch| / max |torch| = {err:.2e}")
    assert err < 1e-4, layer
