"""The Python API: a new operator and objective defined here, outside the
package, reconstruct through `dip_jax.reconstruct`; an objective with no
observation runs through the same call; the README's snippets run."""

import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dip_jax
from conftest import smooth_image
from dip_jax import metrics, operators
from dip_jax.errors import InputError
from tiny_config import tiny_base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 32


def fourier_pair(x):
  """Two complex measurements of a grey image: its spectrum and that of a
  copy shifted by 5 pixels (an operator dip_jax does not ship)."""
  img = x[..., 0]
  shifted = jnp.roll(img, 5, axis=2)
  return (jnp.fft.fft2(img, norm="ortho"), jnp.fft.fft2(shifted, norm="ortho"))


def spectral_mse(x, ax, y, weights=None):
  """A new objective: mean |A x - y|^2 over both complex measurements."""
  del x, weights
  return sum(jnp.mean(jnp.square(jnp.abs(a - b))) for a, b in zip(ax, y))


def _tiny(**overrides):
  c = tiny_base()
  c.update({"num_steps": 300, "log_every": 100, "ema_decay": 0.0})
  for key, value in overrides.items():
    c[key] = value
  return c


def test_new_complex_operator_and_objective_through_the_api():
  clean = smooth_image(SIZE, SIZE, 1)
  op = operators.Operator(apply=fourier_pair, in_shape=(SIZE, SIZE, 1),
                          linear=True, name="fourier pair")
  spectra = [np.asarray(a[0]) for a in op(jnp.asarray(clean)[None])]
  rng = np.random.default_rng(0)
  sigma = 0.08
  y = tuple(a + sigma * (rng.normal(size=a.shape) + 1j * rng.normal(size=a.shape))
            / np.sqrt(2) for a in spectra)
  # The naive inverse of the first measurement: the noisy image itself.
  naive = np.real(np.fft.ifft2(y[0], norm="ortho"))[..., None]
  result = dip_jax.reconstruct(y, op, objective=spectral_mse, clean=clean,
                               config=_tiny())
  assert result.reconstruction.shape == (SIZE, SIZE, 1)
  assert result.history["loss"][-1] < result.history["loss"][0] / 4
  gain = result.info["psnr"] - metrics.psnr(np.clip(naive, 0, 1), clean)
  assert gain > 2.0, (result.info["psnr"], gain)
  # TV needs one real image as the measurement: one clear line, no traceback.
  with pytest.raises(InputError) as err:
    dip_jax.reconstruct(y, op, method="tv", objective=spectral_mse,
                        config=_tiny())
  assert "\n" not in str(err.value) and "TV" in str(err.value)


def test_tv_refuses_a_nonlinear_operator_in_one_line():
  intensity = operators.Operator(
      apply=lambda x: jnp.square(jnp.abs(jnp.fft.fft2(x[..., 0]))),
      in_shape=(SIZE, SIZE, 1), linear=False, name="|F x|^2")
  y = np.ones((SIZE, SIZE), np.float32)
  with pytest.raises(InputError, match="nonlinear") as err:
    dip_jax.reconstruct(y, intensity, method="tv", objective="amplitude")
  assert "\n" not in str(err.value)
  with pytest.raises(InputError, match="no adjoint"):
    intensity.adjoint(y)


def test_objective_alone_maximizes_a_tiny_linear_classifier():
  # No observation at all: push the output of a fixed linear "classifier"
  # towards class 2 through the deep image prior.
  n = SIZE * SIZE * 3
  weights = jax.random.normal(jax.random.key(1), (n, 4)) / np.sqrt(n) * 8.0

  def class_two(x, ax, y, w):
    del x, y, w
    logits = ax.reshape(ax.shape[0], -1) @ weights
    return -jnp.mean(jax.nn.log_softmax(logits)[:, 2])

  op = operators.identity(in_shape=(SIZE, SIZE, 3))
  prob = lambda img: float(jax.nn.softmax(img.reshape(-1) @ weights)[2])
  short = dip_jax.reconstruct(None, op, objective=class_two,
                              config=_tiny(num_steps=1, log_every=1))
  result = dip_jax.reconstruct(None, op, objective=class_two,
                               config=_tiny(num_steps=150, log_every=50))
  assert prob(result.reconstruction) >= 0.9 > prob(short.reconstruction)
  assert "psnr_observed" not in result.history


def test_api_refuses_unknown_keys_and_non_operators():
  with pytest.raises(InputError, match="num_step"):
    dip_jax.reconstruct(np.zeros((8, 8, 3)), num_step=3)
  with pytest.raises(InputError, match="Operator"):
    dip_jax.reconstruct(np.zeros((8, 8, 3)), lambda x: x)
  with pytest.raises(InputError, match="non-finite"):
    dip_jax.reconstruct(np.full((8, 8, 3), np.nan))


def _doc_block(path: str, heading: str) -> str:
  """The first python block after `heading` in the page `path`."""
  with open(os.path.join(ROOT, path), encoding="utf-8") as f:
    text = f.read()
  section = text.split(heading, 1)[1]
  return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_snippet_runs():
  namespace = {}
  exec(_doc_block("README.md", "## Use it from Python"), namespace)  # pylint: disable=exec-used
  result, noisy, clean = (namespace[k] for k in ("result", "noisy", "clean"))
  assert result.reconstruction.shape == clean.shape
  # measured: 23.68 dB vs the noisy 20.80
  assert result.info["psnr"] > metrics.psnr(np.clip(noisy, 0, 1), clean) + 2


def test_readme_new_operator_snippet_runs():
  namespace = {}
  exec(_doc_block("docs/extending.md", "## Add an operator"), namespace)  # pylint: disable=exec-used
  result = namespace["result"]
  assert result.reconstruction.shape == namespace["clean"].shape
  assert result.info["psnr"] > 20


def test_readme_new_method_snippet_runs():
  namespace = {}
  exec(_doc_block("docs/extending.md", "## Add a method"), namespace)  # pylint: disable=exec-used
  clean = smooth_image(16, 16, 3)
  op = operators.blur("box", size=3)
  y = np.asarray(op(jnp.asarray(clean)[None])[0])
  result = dip_jax.reconstruct(y, op, method="backprojection", clean=clean)
  # A box kernel is symmetric: away from the reflected borders A^T y = A y.
  twice = np.clip(np.asarray(op(jnp.asarray(y)[None])[0]), 0, 1)
  assert result.reconstruction.shape == clean.shape
  np.testing.assert_allclose(result.reconstruction[2:-2, 2:-2],
                             twice[2:-2, 2:-2], atol=1e-5)
