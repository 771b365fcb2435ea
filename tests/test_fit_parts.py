"""The fit core's extension points: a watcher written outside the package
runs through the CLI's path and the API's; the optimizer block's schedule
reaches the compiled fit; aSeqDIP, added as one module, runs both ways."""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dip_jax
from conftest import smooth_image, tiny_config
from dip_jax import config_lib, methods, operators
from dip_jax.cli import run
from dip_jax.errors import InputError
from dip_jax.fit import optim
from dip_jax.fit import step as fit_core
from dip_jax.fit.watchers import StepView, Watcher
from dip_jax.methods import dip as dip_method
from test_fit import _problem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class BestFit(Watcher):
  """Keeps the output whose fit to y was the best so far, and counts the
  steps it saw: a watcher the package does not ship."""
  name = "best_fit"

  def init(self, first: StepView):
    return {"image": first.out, "db": jnp.float32(-jnp.inf),
            "seen": jnp.zeros((), jnp.int32)}

  def update(self, w, view: StepView):
    better = view.fit_db > w["db"]
    return {"image": jnp.where(better, view.out, w["image"]),
            "db": jnp.maximum(view.fit_db, w["db"]), "seen": w["seen"] + 1}

  def metrics(self, w, clean):
    del clean
    return {"best_fit_db": w["db"], "watched": w["seen"]}


@pytest.fixture
def best_fit_method():
  """A method = DIP + the watcher above, registered for the test only."""
  def solve(problem, config, hooks=None):
    fit = dip_method.build_fit(config, problem, watchers=(BestFit(),))
    return dip_method.solve(problem, config, hooks, fit=fit)
  methods.register("dip_best_fit")(solve)
  yield "dip_best_fit"
  methods.METHODS.pop("dip_best_fit")


def _check_watched(history, state, steps):
  np.testing.assert_array_equal(history["watched"][:, 0],
                                np.arange(1, steps + 1))
  best = np.maximum.accumulate(history["psnr_observed"][:, 0])
  np.testing.assert_allclose(history["best_fit_db"][:, 0], best, rtol=1e-6)
  assert int(np.asarray(state.watch["best_fit"]["seen"])[0]) == steps


def test_a_watcher_from_outside_runs_through_the_api(best_fit_method):
  problem = _problem()
  cfg = tiny_config(num_steps=12, log_every=4)
  result = dip_jax.reconstruct(problem.observed, operators.identity(),
                               method=best_fit_method, config=cfg)
  _check_watched(result.history, result.state, 12)


def test_a_watcher_from_outside_runs_through_the_cli_path(best_fit_method,
                                                          tmp_path):
  cfg = tiny_config(num_steps=12, log_every=4)
  cfg.method = best_fit_method
  summary = run.reconstruct(cfg, str(tmp_path), stream=open(os.devnull, "w"))
  assert summary["steps"] == 12
  history = np.load(tmp_path / "history.npz")
  np.testing.assert_array_equal(history["watched"][:, 0], np.arange(1, 13))


def _params_after(cfg, steps):
  fit = dip_method.build_fit(cfg, _problem(), compile_chunk=False)
  spec, data = fit.spec, {**fit.data, "z": fit.data["z"][0]}
  state = fit_core.init_state(spec, fit.init_key[0], data["z"])
  step = jax.jit(lambda s: fit_core.fit_step(spec, s, data, fit.loop_key[0]))
  kept = [state.params]
  for _ in range(steps):
    state, _ = step(state)
    kept.append(state.params)
  return kept


def test_a_cosine_schedule_reaches_the_fit():
  """Cosine decay to 0 over 2 steps: the rate is 0 from step 3 on, so the
  parameters stop moving there; a constant rate keeps them moving."""
  base = {"guard.enabled": False, "optim.name": "sgd",
          "optim.learning_rate": 0.05}
  cosine = _params_after(tiny_config(**base, **{
      "optim.schedule": "cosine", "optim.decay_steps": 2}), 5)
  constant = _params_after(tiny_config(**base), 5)
  same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(
      jax.tree.leaves(a), jax.tree.leaves(b)))
  # kept[k]: the parameters after k steps.
  assert same(cosine[1], constant[1])      # step 1 runs at the peak rate
  assert not same(cosine[2], constant[2])  # step 2 at half of it
  assert same(cosine[3], cosine[5])        # then at rate 0
  assert not same(constant[3], constant[5])
  s = optim.OptimSettings.from_config(
      tiny_config(**{"optim.schedule": "warmup_cosine",
                     "optim.warmup_steps": 10}).optim, 100)
  assert float(optim.learning_rate_at(s, 0)) == 0.0
  assert float(optim.learning_rate_at(s, 10)) == pytest.approx(0.01)


def test_clipping_bounds_the_first_step():
  """With sgd, the first update is lr x the gradient clipped to clip_norm."""
  base = {"guard.enabled": False, "optim.name": "sgd",
          "optim.learning_rate": 1.0, "input.reg_noise_std": 0.0}
  start, moved = _params_after(
      tiny_config(**base, **{"optim.clip_norm": 1e-3}), 1)
  step = np.sqrt(sum(
      float(np.sum(np.square(np.asarray(a) - np.asarray(b))))
      for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(start))))
  assert step == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("key,value,words", [
    ("optim.schedule", "linear", "optim.schedule must be one of"),
    ("optim.clip_norm", -1.0, "optim.clip_norm must be"),
    ("optim.end_factor", 2.0, "optim.end_factor must be"),
])
def test_bad_optimizer_settings_are_one_line(key, value, words):
  with pytest.raises(InputError, match=words) as err:
    dip_method.build_fit(tiny_config(**{key: value}), _problem(),
                         compile_chunk=False)
  assert "\n" not in str(err.value)


def test_aseqdip_runs_from_the_api_and_its_answer_is_the_last_input():
  clean = smooth_image(32, 32, 3)
  noisy = np.clip(clean + np.random.default_rng(0).normal(
      0, 0.1, clean.shape), 0, 1).astype(np.float32)
  cfg = tiny_config(num_steps=20, log_every=10, **{
      "input.reg_noise_std": 0.0, "early_stopping.kind": "none"})
  result = dip_jax.reconstruct(noisy, operators.identity(), method="aseqdip",
                               clean=clean, config=cfg)
  watched = result.state.watch["aseqdip"]
  # The answer is z's image part, refreshed at every 2nd step from f(z).
  np.testing.assert_array_equal(result.reconstruction,
                                np.asarray(watched.x)[0, 0])
  assert not np.allclose(result.reconstruction, noisy, atol=1e-3)
  with pytest.raises(InputError, match="aseqdip.every"):
    cfg.aseqdip = {"every": 0}
    dip_jax.reconstruct(noisy, operators.identity(), method="aseqdip",
                        config=cfg)


def test_aseqdip_runs_from_its_config_on_the_cli_path(tmp_path):
  cfg = config_lib.load_config_file(os.path.join(ROOT, "configs",
                                                 "aseqdip.py"),
                                    "task=sr,quick")
  cfg.sample_size, cfg.num_steps, cfg.log_every = 32, 6, 3
  cfg.snapshot_every, cfg.tv.enabled = 0, False
  summary = run.reconstruct(cfg, str(tmp_path), stream=open(os.devnull, "w"))
  assert summary["method"] == "aseqdip" and summary["steps"] == 6
  assert summary["reconstruction"].startswith("aSeqDIP")


def test_the_step_names_no_method():
  """The compiled step runs whatever watchers a spec lists: its module
  names no method (a method's name there would mean a branch for it) but
  DIP, the fit it is."""
  import inspect  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  source = inspect.getsource(fit_core).lower()
  methods.get("dip")  # loads the built-in methods into the registry
  names = sorted((set(methods.METHODS) - {"dip"})
                 | {"sgld", "deepred", "red", "posterior", "aseqdip"})
  assert len(names) >= 8, names  # the registry was read
  found = [n for n in names if re.search(rf"\b{n}\b", source)]
  assert found == [], found
