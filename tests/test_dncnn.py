"""The pretrained DnCNN denoiser (dip_jax/solvers/dncnn.py) and DIP+DnCNN
(method=dip_dncnn).

The loading and view-handling tests use small random nets written here in
SCICO's file format, so they run without the weights. The quality tests need
SCICO's weights: `make test` and `.ci/run` point DIP_JAX_DNCNN_WEIGHTS at
SCICO 0.0.7's wheel (tools/dncnn_weights.sh downloads and checks it); an
installed scico (`pip install --no-deps scico==0.0.7`) serves as well.
Without either they are skipped; with the variable set they run, so a
wrong path fails instead of skipping. Measured (jax 0.10.2, CPU): on the built-in
photo at 64 px, sigma = 25, DnCNN-17M (self-ensemble) 20.80 -> 26.34 dB; on
the successors' 32 px cartoon DIP+DnCNN 27.76 dB against plain DIP's 24.14.
"""

import os
import zipfile

import jax
import numpy as np
import pytest
from flax import serialization

import dip_jax
from conftest import tiny_config
from dip_jax import config_lib
from dip_jax import metrics
from dip_jax import operators
from dip_jax.cli import run
from dip_jax.errors import InputError
from dip_jax.io import workdir
from dip_jax.solvers import dncnn
from test_successors import MARGIN_DB, STEPS, _cartoon, _noisy


needs_weights = pytest.mark.skipif(
    not (dncnn.available() or os.environ.get(dncnn.WEIGHTS_ENV)),
    reason=f"no DnCNN weights: set {dncnn.WEIGHTS_ENV} to the wheel "
           f"tools/dncnn_weights.sh prints (make test does)")


def _no_scico(monkeypatch):
  """Hides an installed scico from read_weights (find_spec finds none)."""
  monkeypatch.setattr(dncnn.importlib.util, "find_spec", lambda name: None)


def _fake_wheel(folder, variant="4T"):
  """A wheel that ships one random net as `dncnn<variant>.mpk`."""
  wheel = folder / "scico-0.0.7-py3-none-any.whl"
  with zipfile.ZipFile(wheel, "w") as z:
    z.write(_write_net(folder, variant), f"scico/data/flax/dncnn{variant}.mpk")
  return wheel


def _write_net(folder, variant="4T", zero_last=False, channels=1, seed=0):
  """A random DnCNN (depth 4) saved as SCICO saves its models; returns the
  file's path. zero_last: the net predicts no noise, so D(y) = y."""
  net = dncnn.DnCNN(depth=4, channels=channels, filters=8)
  variables = net.init(jax.random.PRNGKey(seed),
                       np.zeros((1, 8, 8, channels), np.float32))
  variables = jax.tree.map(np.array, variables)  # writable copies
  rng = np.random.default_rng(seed)
  # Non-trivial BatchNorm statistics, so loading them is checked too.
  for block in ("ConvBNBlock_0", "ConvBNBlock_1"):
    stats = variables["batch_stats"][block]["BatchNorm_0"]
    stats["mean"] = rng.normal(0, 0.1, stats["mean"].shape).astype(np.float32)
    stats["var"] = rng.uniform(0.5, 2, stats["var"].shape).astype(np.float32)
  if zero_last:
    variables["params"]["conv_end"]["kernel"] *= 0
  path = folder / f"dncnn{variant}.mpk"
  path.write_bytes(serialization.msgpack_serialize(variables))
  return path


def test_weights_load_from_a_file_a_folder_and_the_wheel(tmp_path):
  path = _write_net(tmp_path)
  wheel = tmp_path / "scico-0.0.7-py3-none-any.whl"
  with zipfile.ZipFile(wheel, "w") as z:
    z.write(path, "scico/data/flax/dncnn4T.mpk")
  y = np.random.default_rng(1).uniform(0, 1, (12, 10, 1)).astype(np.float32)
  outs = [dncnn.Denoiser("4T", str(where), self_ensemble=False)(y)
          for where in (path, tmp_path, wheel)]
  assert dncnn.Denoiser("4T", str(path)).net.depth == 4
  np.testing.assert_array_equal(outs[0], outs[1])
  np.testing.assert_array_equal(outs[0], outs[2])
  assert np.abs(outs[0] - y).max() > 1e-3  # a random net changes y
  with pytest.raises(InputError,
                     match=r"has no scico/data/flax/dncnn17M.*ships 4T"):
    dncnn.read_weights("17M", str(wheel))


def test_the_environment_variable_is_the_last_place_looked(tmp_path,
                                                            monkeypatch):
  _no_scico(monkeypatch)
  wheel = _fake_wheel(tmp_path)
  monkeypatch.setenv(dncnn.WEIGHTS_ENV, str(wheel))
  assert dncnn.read_weights("4T") == (tmp_path / "dncnn4T.mpk").read_bytes()
  assert dncnn.Denoiser("4T").net.depth == 4
  # The config key wins over the variable.
  other = tmp_path / "other"
  other.mkdir()
  _write_net(other, "4T", seed=1)
  assert dncnn.read_weights("4T", str(other)) == (
      other / "dncnn4T.mpk").read_bytes()
  assert dncnn.read_weights("4T") != dncnn.read_weights("4T", str(other))
  with pytest.raises(InputError, match=r"DIP_JAX_DNCNN_WEIGHTS: .* has no "
                                       r"scico/data/flax/dncnn17M"):
    dncnn.read_weights("17M")
  monkeypatch.setenv(dncnn.WEIGHTS_ENV, str(tmp_path / "none.whl"))
  with pytest.raises(InputError, match="DIP_JAX_DNCNN_WEIGHTS: no file"):
    dncnn.read_weights("4T")


def test_missing_or_wrong_weights_are_one_line(tmp_path, monkeypatch):
  _no_scico(monkeypatch)
  monkeypatch.delenv(dncnn.WEIGHTS_ENV, raising=False)
  with pytest.raises(InputError, match="pip install --no-deps scico"):
    dncnn.read_weights("17M")
  with pytest.raises(InputError, match="no file"):
    dncnn.read_weights("17M", str(tmp_path / "none.mpk"))
  (tmp_path / "dncnn17M.mpk").write_bytes(b"not a parameter file")
  with pytest.raises(InputError, match="not a DnCNN parameter file"):
    dncnn.load("17M", str(tmp_path))
  _write_net(tmp_path, "4N", channels=2)  # a noise-level-input model
  with pytest.raises(InputError, match="only the grey models"):
    dncnn.load("4N", str(tmp_path))


@pytest.mark.parametrize("channels", [1, 3])
def test_every_view_is_undone(tmp_path, channels):
  """A net that predicts no noise returns y through all 8 flipped / turned
  views and the colour transform (a view not undone would move pixels);
  a random net's 8-view average commutes with a flip and a turn."""
  y = np.random.default_rng(2).uniform(0, 1, (12, 10, channels)).astype(
      np.float32)
  identity = dncnn.Denoiser("4Z", str(_write_net(tmp_path, "4Z", True)))
  np.testing.assert_allclose(identity(y), y, atol=1e-5)
  d = dncnn.Denoiser("4T", str(_write_net(tmp_path)))
  np.testing.assert_allclose(d(y[::-1]), d(y)[::-1], atol=1e-5)
  np.testing.assert_allclose(d(np.rot90(y)), np.rot90(d(y)), atol=1e-5)


@needs_weights
def test_a_mistyped_variant_names_the_shipped_ones():
  # From an installed scico or from the wheel the variable names.
  with pytest.raises(InputError, match=r"17X.*ships .*17M"):
    dncnn.read_weights("17X")


def test_the_opponent_basis_is_orthonormal():
  # So i.i.d. noise stays i.i.d. with the same std in every channel.
  np.testing.assert_allclose(dncnn.OPPONENT @ dncnn.OPPONENT.T, np.eye(3),
                             atol=1e-6)


def test_the_model_follows_the_noise_level():
  clean, _ = _noisy(64, sigma=0.0)
  picks = [dncnn.pick_variant(_noisy(64, sigma=s)[1]) for s in (15, 25, 50)]
  assert picks == ["17L", "17M", "17H"], picks
  assert dncnn.pick_variant(clean) == "17L"


@pytest.mark.parametrize("make_op,message", [
    (lambda: operators.downsample(2, in_shape=(32, 32, 3)),
     "operator is 'downsample"),
    (lambda: operators.inpainting(np.ones((32, 32, 1), np.float32)),
     "with a mask"),
])
def test_dip_dncnn_refuses_what_is_not_denoising(make_op, message):
  op = make_op()
  y = op(np.zeros((32, 32, 3), np.float32))
  with pytest.raises(InputError, match=message):
    dip_jax.reconstruct(y, op, method="dip_dncnn",
                        config=tiny_config())


def test_a_cli_run_without_weights_stops_before_writing(tmp_path):
  cfg = tiny_config(method="dip_dncnn")
  cfg.dncnn.weights = str(tmp_path / "missing.whl")
  with pytest.raises(InputError, match="dncnn.weights: no file"):
    run.reconstruct(cfg, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
  cfg.dncnn.weights, cfg.dncnn.dip_weight = "", 1.5
  with pytest.raises(InputError, match="dncnn.dip_weight must be in"):
    run.reconstruct(cfg, str(tmp_path / "run"))


@needs_weights
def test_a_cli_run_writes_both_halves(tmp_path):
  cfg = tiny_config(method="dip_dncnn")
  summary = run.reconstruct(cfg, str(tmp_path))
  for name in ("dip", "dncnn", "reconstruction", "comparison"):
    assert (tmp_path / f"{name}.png").exists(), name
  assert summary["dncnn_variant"] == "17M"
  assert summary["reconstruction"].startswith("0.5 x DIP (")
  assert np.isfinite([summary["dip_psnr"], summary["dncnn_psnr"]]).all()


@needs_weights
def test_dncnn_denoises_the_photo():
  clean, noisy = _noisy(64)
  d = dncnn.Denoiser(dncnn.pick_variant(noisy))
  gain = (metrics.psnr(np.clip(d(noisy), 0, 1), clean)
          - metrics.psnr(noisy, clean))
  assert gain > 4.5, gain  # measured +5.54


@needs_weights
def test_dip_dncnn_beats_plain_dip():
  """On the successors' cartoon (plain DIP's final output, 3000 steps,
  overfits): the average with DnCNN wins by the successors' margin, and
  its parts are DIP's own answer and DnCNN's."""
  clean, noisy = _cartoon()
  config = tiny_config(num_steps=STEPS, log_every=500)
  config.tv.enabled = False
  r = dip_jax.reconstruct(noisy, method="dip_dncnn", clean=clean,
                          config=config, ema_decay=0.0)
  assert r.info["psnr"] >= r.info["dip_psnr"] + MARGIN_DB, r.info
  np.testing.assert_allclose(
      r.reconstruction, (r.images["dip"] + r.images["dncnn"]) / 2, atol=1e-6)
  assert r.info["dncnn_variant"] == "17M"


def test_a_workdir_from_before_the_dncnn_block_is_the_same_run(tmp_path):
  """Runs written before `config.dncnn` existed resume (and count as
  finished) under today's default block, and only under it."""
  block = config_lib.base_config().dncnn.to_dict()
  assert block == workdir.ADDED_KEYS["dncnn"]
  (tmp_path / "summary.json").write_text('{"psnr": 1.0}')
  (tmp_path / "config.json").write_text('{"seed": 0}')
  assert workdir.check(str(tmp_path), {"seed": 0, "dncnn": block}) == {
      "psnr": 1.0}
  with pytest.raises(InputError, match="different config"):
    workdir.check(str(tmp_path),
                  {"seed": 0, "dncnn": {**block, "dip_weight": 0.3}})
