"""Settings that used to run to a meaningless "done" or a traceback are
refused in one line naming the key; summary.json stays strict JSON; a torn
metrics line does not break a resume; degenerate inputs (an all-zero mask,
one-pixel images) and a diverging fit end in one line or work."""

import json
import math
import types

import numpy as np
import pytest

import dip_jax
from conftest import tiny_config
from dip_jax import data as data_lib
from dip_jax import problem as problem_lib
from dip_jax.errors import InputError
from dip_jax.io import report
from dip_jax.methods import dip as dip_method
from dip_jax.methods import dip_summary


@pytest.mark.parametrize("key, value", [
    ("optim.learning_rate", math.nan), ("optim.learning_rate", math.inf),
    ("optim.learning_rate", -0.01), ("optim.learning_rate", 0.0),
    ("ema_decay", 1.5), ("ema_decay", 1.0), ("ema_decay", -0.1),
    ("input.reg_noise_std", math.nan), ("input.reg_noise_std", -1.0),
    ("input.channels", 0), ("num_steps", 0), ("num_restarts", 0),
    ("log_every", 0), ("steps_per_dispatch", 0), ("optim.name", "adamm"),
    ("guard.every", 0), ("guard.psnr_drop", -1.0), ("snapshot_every", -1),
    ("checkpoint_every", -5), ("regularizer.tv", -1.0),
    ("regularizer.l2", math.nan),
])
def test_bad_setting_is_one_line_naming_the_key(key, value):
  cfg = tiny_config(**{key: value})
  with pytest.raises(InputError) as err:
    dip_method.build_fit(cfg, data_lib.build_problem(cfg))
  message = str(err.value)
  assert key in message and "\n" not in message, message


def test_zero_sample_size_is_one_line():
  cfg = tiny_config(sample_size=0)
  with pytest.raises(InputError, match="sample_size"):
    data_lib.build_problem(cfg)


def test_summary_json_is_strict(tmp_path):
  path = str(tmp_path / "s.json")
  report.write_json(path, {"psnr": math.nan, "tv": {"x": [1.0, math.inf]},
                           "n": np.float32(2.5)})
  with open(path) as f:
    text = f.read()
  assert "NaN" not in text and "Infinity" not in text
  data = json.loads(text)
  assert data == {"psnr": None, "tv": {"x": [1.0, None]}, "n": 2.5}


def test_torn_metrics_line_is_dropped_on_resume(tmp_path):
  path = str(tmp_path / "metrics.jsonl")
  with open(path, "w") as f:
    f.write('{"step": 10, "loss": 1.0}\n{"step": 20, "loss": 0.5}\n{"step": 3')
  log = report.MetricsLog(path, keep_until_step=20)
  log.write({"step": 30, "loss": 0.25})
  with open(path) as f:
    steps = [json.loads(line)["step"] for line in f]
  assert steps == [10, 20, 30]


def test_an_all_zero_mask_is_refused():
  img = np.full((8, 8, 3), 0.5, np.float32)
  with pytest.raises(InputError, match="observes no pixel"):
    problem_lib.Problem(observed=img, clean=None,
                        mask=np.zeros((8, 8, 1), np.float32),
                        out_shape=img.shape)


def test_a_one_row_image_reconstructs_with_dip():
  """1 x N pads to the net's canvas (reflect padding of a 1-pixel axis
  repeats it); the TV side of tiny images is in test_tv."""
  y = np.linspace(0, 1, 300, dtype=np.float32)[None, :, None].repeat(3, -1)
  result = dip_jax.reconstruct(y, config=tiny_config(), num_steps=2)
  assert result.reconstruction.shape == (1, 300, 3)
  assert np.all(np.isfinite(result.reconstruction))


def test_a_diverging_fit_stops_in_one_line():
  """At a learning rate of 10 every restored state diverges again: the
  guard would undo every other step forever (measured: 150 of 300, PSNR
  14.3 dB against the noisy input's 20.1), so the driver stops instead."""
  rng = np.random.default_rng(0)
  y = rng.uniform(size=(32, 32, 3)).astype(np.float32)
  with pytest.raises(FloatingPointError) as err:
    dip_jax.reconstruct(y, config=tiny_config(), num_steps=300,
                        **{"optim.learning_rate": 10.0})
  message = str(err.value)
  assert "diverges" in message and "learning_rate=10" in message
  assert "\n" not in message


def test_a_fit_that_slid_from_its_best_says_so():
  spec = types.SimpleNamespace(num_restarts=1, ema_decay=0.0)
  state = types.SimpleNamespace(step=np.array([3]), restores=np.array([0]))
  config = tiny_config()
  history = {"loss": np.ones((3, 1)),
             "psnr_observed": np.array([[18.0], [22.0], [17.5]])}
  problem = types.SimpleNamespace(clean=None)
  timing = {"fit_seconds": 1.0, "compile_seconds": 1.0}
  info = dip_summary.summarize_fit(problem, spec, None, history, state,
                                   config, timing)
  assert "4.5 dB below its best (22.00 dB at step 2)" in info["warning"]
  history["psnr_observed"][-1] = 21.0
  info = dip_summary.summarize_fit(problem, spec, None, history, state,
                                   config, timing)
  assert "warning" not in info
