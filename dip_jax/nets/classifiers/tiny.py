"""A tiny CNN trained in seconds on synthetic classes: the classifier that
stands in for AlexNet where no ImageNet weights are at hand (the offline
tests, `experiments/actmax_grid.py` without --weights).

  clf = tiny.train()          # ~5 s on 2 CPU cores, test accuracy >= 0.95
  tiny.CLASSES                # ("horizontal gratings", "vertical gratings",
                              #  "blobs", "speckle")

The net: two 3x3 conv + ReLU + 2x2 max-pool stages (8 and 16 channels),
a global average and 4 logits, on 32 px RGB images. Its layers, input to
output: conv1, pool1, conv2, pool2, logits. The classes are drawn here
(`images`), so nothing is downloaded and the same seed gives the same net.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dip_jax.nets.classifiers.base import Classifier

__all__ = ["CLASSES", "SIZE", "LAYERS", "images", "apply", "train"]

SIZE = 32
CLASSES = ("horizontal gratings", "vertical gratings", "blobs", "speckle")
LAYERS = ("conv1", "pool1", "conv2", "pool2", "logits")


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """n images (n x 32 x 32 x 3 in [0, 1]) of the 4 classes in turn, with
  random colour, contrast, phase and noise; and their labels."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
  xs = []
  for i in range(n):
    if i % 4 < 2:
      angle = (i % 4) * np.pi / 2 + rng.uniform(-0.3, 0.3)
      wave = (np.cos(angle) * yy + np.sin(angle) * xx) * rng.uniform(3, 6)
      g = 0.5 + 0.5 * np.sin(2 * np.pi * wave + rng.uniform(0, 2 * np.pi))
    elif i % 4 == 3:
      # Speckle: sparse bright or dark pixels, so that isolated dots (what
      # pixel ascent on a max-pooling net makes first) are no blobs.
      g = 0.5 + 0.5 * np.sign(rng.normal(size=(SIZE, SIZE))) * (
          rng.uniform(size=(SIZE, SIZE)) < rng.uniform(0.05, 0.5))
    else:
      g = np.zeros((SIZE, SIZE))
      for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        r = rng.uniform(0.08, 0.2)
        g = np.maximum(g, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2)
                                 / (2 * r * r)))
    colour = rng.uniform(0.2, 1.0, 3) * rng.uniform(0.3, 1.0)
    img = (0.5 + (g[..., None] - 0.5) * colour
           + rng.normal(0, 0.05, (SIZE, SIZE, 3)))
    xs.append(np.clip(img, 0, 1))
  return np.asarray(xs, np.float32), np.arange(n) % 4


def _conv(x, w, b):
  return jax.lax.conv_general_dilated(
      x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b


def _max_pool(x):
  # A reshape, not reduce_window: its gradient is ~3x cheaper on XLA:CPU.
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def apply(params, x) -> dict:
  """{layer: activation} of x (N x 32 x 32 x 3 in [0, 1])."""
  out = {}
  h = 4.0 * (x - 0.5)
  h = out["conv1"] = jax.nn.relu(_conv(h, *params["conv1"]))
  h = out["pool1"] = _max_pool(h)
  h = out["conv2"] = jax.nn.relu(_conv(h, *params["conv2"]))
  h = out["pool2"] = _max_pool(h)
  out["logits"] = jnp.mean(h, axis=(1, 2)) @ params["fc"][0] + params["fc"][1]
  return out


def accuracy(clf: Classifier, n: int = 100, seed: int = 1) -> float:
  """Top-1 accuracy on n fresh images (a seed the training did not use)."""
  x, y = images(n, seed)
  logits = jax.jit(apply)(clf.params, jnp.asarray(x))["logits"]
  return float(np.mean(np.argmax(np.asarray(logits), 1) == y))


def train(seed: int = 0, steps: int = 150, num_images: int = 600,
          batch: int = 32) -> Classifier:
  """The tiny CNN, Adam (lr 0.01) on `num_images` images of seed `seed`."""
  keys = jax.random.split(jax.random.key(seed), 3)
  he = lambda k, s: (jax.random.normal(k, s) * np.sqrt(2 / np.prod(s[:-1])),
                     jnp.zeros(s[-1]))
  params = {"conv1": he(keys[0], (3, 3, 3, 8)),
            "conv2": he(keys[1], (3, 3, 8, 16)), "fc": he(keys[2], (16, 4))}
  x, y = (jnp.asarray(a) for a in images(num_images, seed))
  opt = optax.adam(1e-2)

  @jax.jit
  def step(params, state, idx):
    loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(
        apply(p, x[idx])["logits"], y[idx]).mean()
    updates, state = opt.update(jax.grad(loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  # A Python loop of one jitted step: the same steps inside a lax.scan ran
  # ~9x slower on XLA:CPU.
  state, rng = opt.init(params), np.random.default_rng(seed)
  for _ in range(steps):
    params, state = step(params, state, rng.integers(0, num_images, batch))
  return Classifier(name="tiny cnn", apply=apply, params=params,
                    input_size=(SIZE, SIZE), layers=LAYERS)
