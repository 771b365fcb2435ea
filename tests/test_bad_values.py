"""Settings that used to run to a meaningless "done" or a traceback are
refused in one line naming the key; summary.json stays strict JSON; a torn
metrics line does not break a resume. No fit runs here (fast)."""

import json
import math

import numpy as np
import pytest

from conftest import tiny_config
from dip_jax import problem as problem_lib
from dip_jax import report
from dip_jax.errors import InputError
from dip_jax.methods import dip as dip_method


@pytest.mark.parametrize("key, value", [
    ("optim.learning_rate", math.nan), ("optim.learning_rate", math.inf),
    ("optim.learning_rate", -0.01), ("optim.learning_rate", 0.0),
    ("ema_decay", 1.5), ("ema_decay", 1.0), ("ema_decay", -0.1),
    ("input.reg_noise_std", math.nan), ("input.reg_noise_std", -1.0),
    ("input.channels", 0), ("num_steps", 0), ("num_restarts", 0),
    ("log_every", 0), ("steps_per_dispatch", 0), ("optim.name", "adamm"),
])
def test_bad_setting_is_one_line_naming_the_key(key, value):
  cfg = tiny_config(**{key: value})
  with pytest.raises(InputError) as err:
    dip_method.build_fit(cfg, problem_lib.build_problem(cfg))
  message = str(err.value)
  assert key in message and "\n" not in message, message


def test_zero_sample_size_is_one_line():
  cfg = tiny_config(sample_size=0)
  with pytest.raises(InputError, match="sample_size"):
    problem_lib.build_problem(cfg)


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
