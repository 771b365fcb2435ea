"""Forward operators: kernels against independent formulas, shapes, constants,
linearity and adjoints (the TV solver transposes them), and input checks."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from PIL import Image

from dip_jax import operators
from dip_jax.errors import InputError
from dip_jax.nets import resampling


def _op(name, **block):
  """The operator `name` built from its config block, as the CLI does."""
  return operators.from_config(
      ml_collections.ConfigDict({"name": name, name: block}))


def _dip_lanczos_taps(factor):
  """The DIP repo's get_kernel('lanczos', phase=0.5, support=2) in 1-D,
  written out with math.sin loops: kernel_width = 4f + 1, side 4f."""
  support, kernel_width = 2, 4 * factor + 1
  center = (kernel_width + 1) / 2
  vals = []
  for i in range(1, kernel_width):
    d = abs(i + 0.5 - center) / factor
    vals.append(support * math.sin(math.pi * d) * math.sin(math.pi * d / support)
                / (math.pi * math.pi * d * d))
  total = sum(vals)
  return np.array([v / total for v in vals])


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_lanczos_taps_match_the_paper_formula(factor):
  taps = resampling.lanczos_taps(factor)
  assert taps.shape == (4 * factor,)
  np.testing.assert_allclose(taps, _dip_lanczos_taps(factor), atol=1e-7)
  np.testing.assert_allclose(taps, taps[::-1], atol=1e-7)
  assert abs(taps.sum() - 1) < 1e-6
  k2 = resampling.lanczos_kernel_2d(factor)
  assert k2.shape == (4 * factor, 4 * factor) and abs(k2.sum() - 1) < 1e-5


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_bicubic_downsampling_is_pils_resize(factor):
  # Borders included: PIL renormalises its kernel there, and so does
  # jax.image.resize(antialias=True), which the operator uses.
  x = np.random.default_rng(0).random((12 * factor, 8 * factor)).astype(np.float32)
  ours = np.asarray(_op(name="downsample", factor=factor, kernel="bicubic")(
      jnp.asarray(x)[None, ..., None]))[0, ..., 0]
  pil = np.asarray(Image.fromarray(x).resize((8, 12), Image.BICUBIC))
  np.testing.assert_allclose(ours, pil, atol=2e-5)


@pytest.mark.parametrize("factor", [4, 8])
def test_downsample_shapes(factor):
  x = jnp.zeros((2, 64, 32, 3))
  for kernel in ("lanczos2", "bicubic", "box"):
    y = _op(name="downsample", factor=factor, kernel=kernel)(x)
    assert y.shape == (2, 64 // factor, 32 // factor, 3)
  assert _op(name="downsample", factor=factor)(x[0]).shape == (64 // factor, 32 // factor, 3)


@pytest.mark.parametrize("kernel", ["lanczos2", "bicubic", "box"])
@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_downsampling_a_constant_gives_the_constant(kernel, factor):
  x = jnp.full((1, 12, 24, 2), 0.37)
  y = _op(name="downsample", factor=factor, kernel=kernel)(x)
  assert y.shape == (1, 12 // factor, 24 // factor, 2)
  np.testing.assert_allclose(np.asarray(y), 0.37, atol=1e-6)


def test_factor_one_is_the_identity():
  x = jax.random.uniform(jax.random.PRNGKey(0), (1, 8, 8, 1))
  for kernel in ("lanczos2", "bicubic", "box"):
    np.testing.assert_allclose(_op(name="downsample", factor=1, kernel=kernel)(x), x,
                               atol=1e-6)


@pytest.mark.parametrize("kw", [dict(kind="gaussian", sigma=1.5),
                                dict(kind="gaussian", sigma=0.8, size=7),
                                dict(kind="box", size=5),
                                dict(kind="motion", length=6, angle=30)])
def test_blur_kernels_sum_to_one_and_keep_size(kw):
  kernel = operators.blur_kernel(**kw)
  assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1]
  assert kernel.shape[0] % 2 == 1 and abs(kernel.sum() - 1) < 1e-6
  assert (kernel >= 0).all()
  x = jnp.full((1, 20, 17, 3), 0.6)
  y = _op(name="blur", **kw)(x)
  assert y.shape == x.shape
  np.testing.assert_allclose(np.asarray(y), 0.6, atol=1e-6)


def test_gaussian_default_size_and_motion_geometry():
  assert operators.blur_kernel("gaussian", sigma=2.0).shape == (13, 13)  # ceil(12)|1
  assert operators.blur_kernel("gaussian", sigma=1.5).shape == (9, 9)
  # A horizontal motion of odd integer length is an exact 1-row box.
  k = operators.blur_kernel("motion", length=5, angle=0)
  expected = np.zeros((5, 5))
  expected[2] = 0.2
  np.testing.assert_allclose(k, expected, atol=1e-7)
  np.testing.assert_allclose(operators.blur_kernel("motion", length=5, angle=90), expected.T,
                             atol=1e-7)


LINEAR_OPS = [dict(name="downsample", factor=2),
              dict(name="downsample", factor=4, kernel="bicubic"),
              dict(name="downsample", factor=2, kernel="box"),
              dict(name="blur", kind="gaussian", sigma=1.0),
              dict(name="blur", kind="motion", length=4, angle=30)]


@pytest.mark.parametrize("cfg", LINEAR_OPS, ids=lambda c: "-".join(map(str, c.values())))
def test_operators_are_linear_with_a_true_adjoint(cfg):
  op = _op(**cfg)
  kx, ky, kz = jax.random.split(jax.random.PRNGKey(1), 3)
  x = jax.random.normal(kx, (2, 16, 16, 3))
  z = jax.random.normal(kz, x.shape)
  np.testing.assert_allclose(op(2.0 * x - 3.0 * z), 2.0 * op(x) - 3.0 * op(z), atol=1e-5)
  y = jax.random.normal(ky, op(x).shape)
  (aty,) = jax.linear_transpose(op, jax.ShapeDtypeStruct(x.shape, jnp.float32))(y)
  lhs, rhs = float(jnp.vdot(op(x), y)), float(jnp.vdot(x, aty))
  assert abs(lhs - rhs) <= 1e-4 * max(abs(lhs), 1.0), (lhs, rhs)


def test_equal_configs_give_the_same_function():
  # Compiled fits and the TV solver key their programs on `apply`.
  a = lambda **kw: _op(**kw).apply
  assert a(name="downsample", factor=4) is a(name="downsample", factor=4.0)
  assert a(name="blur", sigma=1.0) is a(name="blur", kind="gaussian", sigma=1.0)
  assert a(name="downsample", factor=4) is not a(name="downsample", factor=2)
  assert operators.downsample(4).apply is a(name="downsample", factor=4)


@pytest.mark.parametrize("factor", [0, 3.5, -2, "x", True, None])
def test_bad_factor_is_an_input_error(factor):
  with pytest.raises(InputError, match="factor"):
    _op(name="downsample", factor=factor)


@pytest.mark.parametrize("cfg, words", [
    (dict(name="no_such_op"), "unknown operator"),
    (dict(name="downsample", factor=2, kernel="lanczos3"),
     "operator.downsample.kernel"),
    (dict(name="blur", kind="gaussian", sigma=0.0), "sigma"),
    (dict(name="blur", kind="box", size=4), "odd"),
    (dict(name="blur", kind="box"), "size"),
    (dict(name="blur", kind="motion", length=9, size=5), "size"),
    (dict(name="blur", kind="disk"), "kind")])
def test_bad_operator_configs_are_input_errors(cfg, words):
  with pytest.raises(InputError, match=words):
    _op(**cfg)


def test_size_not_divisible_by_factor_is_an_input_error():
  with pytest.raises(InputError, match="divisible"):
    _op(name="downsample", factor=4)(jnp.zeros((1, 18, 16, 3)))


def test_upsample_bicubic():
  x = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
  up = resampling.upsample_bicubic(x, 4)
  assert up.shape == (24, 20, 3) and up.dtype == np.float32
  assert 0.0 <= up.min() and up.max() <= 1.0
  np.testing.assert_allclose(resampling.upsample_bicubic(np.full((4, 4), 0.3), 2), 0.3,
                             atol=1e-6)
  # Both cubic kernels reproduce linear ramps, so up then down returns a ramp
  # exactly in the interior, which checks that their pixel grids agree.
  ramp = np.add.outer(np.arange(12.0), 0.5 * np.arange(12.0)).astype(np.float32) / 20
  up = resampling.upsample_bicubic(ramp, 4, clip=False)
  down = _op(name="downsample", factor=4, kernel="bicubic")(jnp.asarray(up)[None, ..., None])
  np.testing.assert_allclose(np.asarray(down)[0, 3:-3, 3:-3, 0], ramp[3:-3, 3:-3], atol=1e-5)
