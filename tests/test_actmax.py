"""Activation maximization and feature inversion through a classifier
(operators/classifier.py, objectives "maximize" / "normalized_mse" /
`regularized`, tasks/classifier.py, configs/actmax.py and invert.py).

No downloaded weights: the tiny CNN of dip_jax.nets.classifiers.tiny (two 3x3
conv + ReLU + 2x2 max-pool stages, global average, 4 logits) is trained
here, once per module, on 32 px synthetic classes: horizontal gratings,
vertical gratings, blobs, speckle. Two DIP fits in all (one per objective, sharing the net's init
program); the pixels-with-TV runs are the `tv_gradient` method on the same
problem.

Measured (seed 0, this file's settings; the bounds asserted below):
  actmax "vertical gratings"
                   p(class): DIP 1.000, TV pixels 1.000          (>= 0.9)
                   roughness = mean |neighbour difference| / std:
                   DIP 0.351, TV pixels 0.664       (DIP <= 0.65 x TV)
  invert pool1     PSNR to the reference (the built-in photo at 32 px):
                   DIP 20.6 dB, TV pixels 15.8 dB  (DIP >= 19, >= TV + 3)
"""

import io
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dip_jax
from conftest import tiny_config
from dip_jax import config_lib
from dip_jax import data as data_lib
from dip_jax import metrics
from dip_jax import objectives
from dip_jax.errors import InputError
from dip_jax.io import images
from dip_jax.methods import dip as dip_method
from dip_jax.nets import classifiers
from dip_jax.nets.classifiers import tiny
from dip_jax.nets.classifiers.base import Classifier
from dip_jax.operators import classifier as ops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S = tiny.SIZE
VERTICAL = 1  # the class maximized: vertical gratings


@pytest.fixture(scope="module")
def clf():
  net = tiny.train()
  assert tiny.accuracy(net) >= 0.95
  return net


def _probability(clf, x, unit):
  logits = jax.jit(tiny.apply)(clf.params, jnp.asarray(x)[None])["logits"]
  return float(jax.nn.softmax(logits)[0, unit])


# The DIP settings of both fits (tiny_config's net: one init program).
DIP = dict(ema_decay=0.0, **{"optim.learning_rate": 0.01})
TV = {"tv_gradient.num_steps": 300, "tv_gradient.lam": 0.01,
      "tv_gradient.learning_rate": 0.01}


@pytest.fixture(scope="module")
def actmax(clf):
  op = ops.classifier_unit(clf, "logits", unit=VERTICAL)
  stream = io.StringIO()
  dip = dip_jax.reconstruct(None, op, method="dip", objective="maximize",
                            in_shape=(S, S, 3), config=tiny_config(),
                            num_steps=300, progress=True, stream=stream,
                            **DIP, **{"input.reg_noise_std": 0.03})
  tv = dip_jax.reconstruct(None, op, method="tv_gradient",
                           objective="maximize", in_shape=(S, S, 3), **TV)
  return {"dip": dip, "tv": tv, "log": stream.getvalue()}


def test_actmax_makes_the_target_the_winner_under_both_priors(clf, actmax):
  for name in ("dip", "tv"):
    x = actmax[name].reconstruction
    assert x.shape == (S, S, 3) and 0 <= x.min() and x.max() <= 1
    assert _probability(clf, x, VERTICAL) >= 0.9, name


def test_dip_answer_is_smoother_than_tv_pixels(actmax):
  """Through the net the answer is the class's pattern (clean vertical
  bars); over the pixels, bars under texture-like colour noise."""
  dip, tv = (metrics.roughness(actmax[k].reconstruction) for k in ("dip", "tv"))
  assert dip <= 0.65 * tv, (dip, tv)


def test_no_observation_means_no_psnr_in_history_or_log(actmax):
  result = actmax["dip"]
  assert set(result.history) == {"loss", "restored"}
  assert result.history["loss"].shape == (300, 1)
  assert result.info["final_loss"] < 0      # minus the logit
  assert not {"psnr", "ssim", "oracle_peak_psnr"} & set(result.info)
  lines = actmax["log"].strip().splitlines()
  assert len(lines) == 30 and lines[-1].startswith("step 300/300  loss -")
  assert "psnr" not in actmax["log"] and "nan" not in actmax["log"]


def test_feature_inversion_of_an_early_layer(clf):
  """pool1 (16 x 16 x 8 after the first max-pool) keeps the photo's
  structure but not its pixels: the net's prior recovers them, Adam on the
  pixels leaves noise where the pool threw information away."""
  reference = images.sample_image(S)
  op = ops.classifier_features(clf, "pool1")
  y = op(jnp.asarray(reference))
  assert set(y) == {"pool1"} and y["pool1"].shape == (16, 16, 8)
  dip = dip_jax.reconstruct(y, op, objective="normalized_mse", clean=reference,
                            config=tiny_config(), num_steps=500, **DIP,
                            **{"input.reg_noise_std": 0.0})
  tv = dip_jax.reconstruct(y, op, method="tv_gradient",
                           objective="normalized_mse", clean=reference, **TV)
  assert dip.info["psnr"] >= 19.0, dip.info["psnr"]
  assert dip.info["psnr"] >= tv.info["psnr"] + 3.0, (dip.info["psnr"],
                                                     tv.info["psnr"])
  # The features are no image: no PSNR to the observation is made up.
  assert "psnr_observed" not in dip.history


# --- the operators and objectives on a classifier whose layers are known.

def _probe_apply(params, x):
  del params
  return {"map": x, "fc": jnp.mean(x, axis=(1, 2))}


PROBE = Classifier(name="probe", apply=_probe_apply, params=None,
                   input_size=(8, 8), layers=("map", "fc"))


def test_unit_selects_a_channel_in_the_central_window():
  x = jnp.arange(2 * 8 * 8 * 3, dtype=jnp.float32).reshape(2, 8, 8, 3)
  got = ops.classifier_unit(PROBE, "map", unit=1, window=2)(x)
  np.testing.assert_allclose(got, x[:, 3:5, 3:5, 1].sum(axis=(1, 2)))
  whole = ops.classifier_unit(PROBE, "map", unit=1)(x)
  np.testing.assert_allclose(whole, x[..., 1].sum(axis=(1, 2)))
  logit = ops.classifier_unit(PROBE, "fc", unit=2)(x[0])  # one image
  np.testing.assert_allclose(logit, x[0, ..., 2].mean())
  # Another size is resized to the classifier's; grey becomes RGB.
  small = ops.classifier_unit(PROBE, "fc", unit=0, in_shape=(4, 4, 1))
  assert small.input_shape() == (4, 4, 1)
  np.testing.assert_allclose(small(jnp.full((1, 4, 4, 1), 0.25)), [0.25],
                             rtol=1e-6)


def test_equal_settings_share_one_program():
  a = ops.classifier_unit(PROBE, "map", unit=1, window=2)
  b = ops.classifier_unit(PROBE, "map", unit=1, window=2)
  assert a.apply is b.apply and not a.linear
  assert (ops.classifier_features(PROBE, "map").apply
          is ops.classifier_features(PROBE, "map").apply)
  # Another unit is another params value, not another function: the fits
  # of every class of a layer share one compiled program.
  c = ops.classifier_unit(PROBE, "map", unit=2, window=2)
  assert c.apply is a.apply and int(c.params["unit"]) == 2
  x = jnp.arange(8 * 8 * 3, dtype=jnp.float32).reshape(1, 8, 8, 3)
  np.testing.assert_allclose(c(x), x[:, 3:5, 3:5, 2].sum(axis=(1, 2)))
  assert (objectives.regularized("maximize", l2=0.1, tv=0.2)
          is objectives.regularized(objectives.maximize, l2=0.1, tv=0.2))
  assert objectives.regularized("maximize") is objectives.maximize


@pytest.mark.parametrize("kwargs, words", [
    (dict(layer="conv9"), "unknown layer 'conv9' of probe; known: map, fc"),
    (dict(layer="fc", unit=3), r"unit 3 is out of range .* 0\.\.2"),
    (dict(layer="map", unit=-1), "out of range"),
    (dict(layer="map", unit=0, window=9), "window 9 is larger than layer map"),
    (dict(layer="fc", unit=0, window=2), "needs a conv layer"),
    (dict(layer="map", unit=1.5), "must be an integer"),
])
def test_bad_unit_settings_are_one_line(kwargs, words):
  with pytest.raises(InputError, match=words) as err:
    ops.classifier_unit(PROBE, **kwargs)
  assert "\n" not in str(err.value)


def test_objective_values():
  x = jnp.full((1, 4, 4, 3), 0.75)
  ax = jnp.array([2.0, 4.0])
  assert float(objectives.maximize(x, ax, None)) == -3.0
  y = {"a": jnp.ones((1, 3)), "b": 2 * jnp.ones((1, 5))}
  ax = {"a": jnp.zeros((1, 3)), "b": 2 * jnp.ones((1, 5))}
  # Per leaf ||ax - y||^2 / ||y||^2 = 1 and 0, averaged.
  assert float(objectives.normalized_mse(x, ax, y)) == pytest.approx(0.5)
  reg = objectives.regularized("maximize", l2=2.0)
  assert float(reg(x, jnp.array([1.0]), None)) == pytest.approx(
      -1.0 + 2.0 * 0.0625)
  with pytest.raises(InputError, match="needs an observation"):
    objectives.normalized_mse(x, ax, None)
  with pytest.raises(InputError, match="tv weight on x must be a number"):
    objectives.regularized("maximize", tv=-1.0)


# --- the tasks and configs (the tiny CNN stands in for AlexNet).

def _config(name, monkeypatch, clf, **overrides):
  monkeypatch.setattr(classifiers, "load_classifier",
                      lambda n, w: clf, raising=False)
  c = config_lib.task_config(name, "quick")
  c.update_from_flattened_dict({"weights": "given.npz", **overrides})
  return c


def test_actmax_task_builds_a_problem_without_observation(monkeypatch, clf):
  c = _config("actmax.py", monkeypatch, clf, **{
      "actmax.layer": "conv2", "actmax.unit": 3, "actmax.window": 4,
      "regularizer.tv": 0.5, "classifier.image_size": 0})
  p = data_lib.build_problem(c)
  assert p.observed is None and p.clean is None and p.out_shape == (S, S, 3)
  assert p.operator.name == "tiny cnn conv2[3] window 4"
  assert p.objective is objectives.maximize
  assert (dip_method.regularized_objective(p, c)
          is objectives.regularized("maximize", tv=0.5))
  assert not p.image_measurement and p.observed_for_display() is None
  with pytest.raises(InputError, match="unit 16 is out of range"):
    data_lib.build_problem(_config("actmax.py", monkeypatch, clf, **{
        "actmax.layer": "conv2", "actmax.unit": 16}))


def test_invert_task_scores_against_the_reference(monkeypatch, clf):
  c = _config("invert.py", monkeypatch, clf, **{
      "invert.layer": "pool1", "classifier.image_size": 0, "sample_size": 48})
  p = data_lib.build_problem(c)
  assert p.out_shape == (S, S, 3) and p.clean.shape == (S, S, 3)
  assert p.observed["pool1"].shape == (16, 16, 8)
  assert p.objective is objectives.normalized_mse
  assert any("resized to 32 x 32" in n for n in p.notes)


def _torch_skip_count(channels, skip, kd, ku, d=32):
  """Parameters of the original models/skip.py (conv weights + biases, BN
  scale + shift; 1x1 skip convs, the 1x1 after each up conv, 1x1 head)."""
  conv = lambda i, o, k: i * o * k * k + o
  total = conv(channels[0], 3, 1)
  for i, (ch, s) in enumerate(zip(channels, skip)):
    deeper = channels[i + 1] if i + 1 < len(channels) else ch
    total += (conv(d, s, 1) + 2 * s if s else 0) + 2 * (s + deeper)
    total += conv(d, ch, kd[i]) + conv(ch, ch, kd[i]) + 4 * ch
    total += conv(s + deeper, ch, ku[i]) + conv(ch, ch, 1) + 4 * ch
    d = ch
  return total


def test_configs_spell_out_the_notebook_nets():
  """Per-level kernels and a 0-skip level build, with the parameter count
  of the original skip() with the notebooks' settings."""
  from dip_jax import nets  # pylint: disable=g-import-not-at-top
  assert _torch_skip_count((128,) * 5, (4,) * 5, (3,) * 5,
                           (3,) * 5) == 2_217_831  # the paper's skip-5
  widths = (16, 32, 64, 128, 128, 128)
  for name, skip, kd, ku in (
      ("actmax.py", (0, 4, 4, 4, 4, 4), (5, 3, 5, 5, 3, 5), (5, 3, 5, 3, 5, 3)),
      ("invert.py", (4,) * 6, (7, 7, 5, 5, 3, 3), (7, 7, 5, 5, 3, 3))):
    net = nets.build_net(config_lib.task_config(name).net, out_channels=3)
    z = jax.ShapeDtypeStruct((1, 64, 64, 32), jnp.float32)
    params = jax.eval_shape(net.init, jax.random.key(0), z)["params"]
    assert nets.count_params(params) == _torch_skip_count(
        widths, skip, kd, ku), name


def test_without_weights_one_line_says_what_to_pass(tmp_path):
  how = "convert_torchvision alexnet-owt-7be5be79.pth alexnet.npz"
  with pytest.raises(InputError, match="--config.weights=alexnet.npz") as err:
    data_lib.build_problem(config_lib.task_config("invert.py", "quick"))
  assert how in str(err.value)
  proc = subprocess.run(
      [sys.executable, "-m", "dip_jax.main",
       f"--config={os.path.join(ROOT, 'configs', 'actmax.py')}:quick",
       f"--workdir={tmp_path}"], capture_output=True, text=True, cwd=ROOT,
      timeout=300)
  lines = proc.stderr.strip().splitlines()
  assert proc.returncode == 2 and len(lines) == 1, proc.stderr
  assert "--config.weights=alexnet.npz" in lines[0] and how in lines[0]
  assert not os.listdir(tmp_path)
