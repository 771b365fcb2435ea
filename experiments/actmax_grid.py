r"""What a classifier "sees": activation maximization and feature inversion
through the deep image prior vs over the pixels with a TV prior (the DIP
paper, Sec. 4, Figs. 10-11; notebooks activation_maximization.ipynb and
feature_inversion.ipynb).

Two figures:
  actmax.png   one image per class that makes its logit largest: through a
               net x = f(z) (row "DIP") and over the pixels with a TV prior
               (row "TV pixels"), with the classifier's p(class) and the
               image's roughness (mean |neighbour difference| / std);
  invert.png   the reference, and its pre-images from each layer's features
               (DIP row, TV row), with the PSNR to the reference.

With --weights (torchvision's AlexNet converted to .npz, see configs/
actmax.py): the seed's classes black swan (100), goose (99), tree frog
(31), cheeseburger (933), and the notebook's reference building.jpg
(<data>/dip/feature_inversion/) inverted from conv1 ... fc8; the settings
are configs/actmax.py and configs/invert.py (`:quick` with --quick).
Without --weights, the same grid for dip_jax.nets.classifiers.tiny (a 4-class CNN
trained here in seconds on synthetic gratings, blobs and speckle, 32 px),
with the built-in photo as the reference: no ImageNet weights can be
downloaded here, so this is what the grid shows out of the box.

  python experiments/actmax_grid.py --quick                    # tiny CNN
  python experiments/actmax_grid.py --weights alexnet.npz [--quick]

Runtime, 2-core CPU: tiny CNN ~2 min (the same with or without --quick);
AlexNet with --quick ~0.28 s per DIP step at 112 px and ~45 s of compiling
per inverted layer (the classes share one program), i.e. an estimated ~30
min for the 12 DIP fits of 300 steps; the full settings (3100 steps, 224
px) are meant for a GPU. Smoke run: --steps 3.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # pylint: disable=wrong-import-position

import jax  # pylint: disable=wrong-import-position,g-bad-import-order
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import ml_collections  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

import dip_jax  # pylint: disable=wrong-import-position
from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax import metrics  # pylint: disable=wrong-import-position
from dip_jax.data.tasks import classifier as classifier_task  # pylint: disable=wrong-import-position
from dip_jax.io import images  # pylint: disable=wrong-import-position
from dip_jax.nets import classifiers  # pylint: disable=wrong-import-position
from dip_jax.nets.classifiers import tiny  # pylint: disable=wrong-import-position
from dip_jax.operators import classifier as ops  # pylint: disable=wrong-import-position

IMAGENET_CLASSES = {"black swan": 100, "goose": 99, "tree frog": 31,
                    "cheeseburger": 933}
PRIORS = (("DIP", "dip"), ("TV pixels", "tv_gradient"))


def tiny_configs(steps: int):
  """(actmax config, invert config) for the tiny CNN: a 3-level net of 8
  channels on the 32 px canvas, Adam lr 0.01, no output averaging (the
  offline tests' settings)."""
  c = config_lib.base_config()
  c.net.channels_down = c.net.channels_up = (8, 8, 8)
  c.net.channels_skip = (2, 2, 2)
  c.input.channels = 8
  c.classifier = ml_collections.ConfigDict({"name": "tiny", "image_size": 0})
  c.optim.learning_rate = 0.01
  c.ema_decay = 0.0
  c.snapshot_every = 0
  c.tv_gradient.num_steps = 300
  c.tv_gradient.lam = 0.01
  c.tv_gradient.learning_rate = 0.01
  am, inv = c.copy_and_resolve_references(), c
  am.num_steps, am.input.reg_noise_std = steps or 300, 0.03
  inv.num_steps, inv.input.reg_noise_std = steps or 500, 0.0
  if steps:
    am.tv_gradient.num_steps = inv.tv_gradient.num_steps = steps
  return am, inv


def alexnet_configs(quick: bool, steps: int):
  arg = "quick" if quick else None
  am = config_lib.task_config("actmax.py", arg)
  inv = config_lib.task_config("invert.py", arg)
  for c in (am, inv):
    if quick:  # 300 of the quick configs' 600 steps: 12 fits in ~35 min
      c.num_steps = 300
    if steps:
      c.num_steps = c.tv_gradient.num_steps = steps
  return am, inv


def setup(args):
  """(classifier, {class name: logit}, layers to invert, reference image,
  actmax config, invert config)."""
  if args.weights:
    clf = classifiers.load_classifier("alexnet", args.weights)
    am, inv = alexnet_configs(args.quick, args.steps)
    path = os.path.join(args.data, "dip", "feature_inversion", "building.jpg")
    shape = classifier_task.image_shape(inv, clf)
    reference = classifier_task.fit_to(images.load_image(path).pixels,
                                       shape[:2])
    layers = tuple(l for l in clf.layers if l != "pool5")
    return clf, IMAGENET_CLASSES, layers, reference, am, inv
  t = time.perf_counter()
  clf = tiny.train(seed=args.seed)
  print(f"tiny CNN trained in {time.perf_counter() - t:.1f} s, test "
        f"accuracy {tiny.accuracy(clf):.2f}")
  am, inv = tiny_configs(args.steps)
  return (clf, {n: i for i, n in enumerate(tiny.CLASSES)}, tiny.LAYERS,
          images.sample_image(tiny.SIZE), am, inv)


def probability(clf, x, unit) -> float:
  x = jnp.asarray(ops.classifier_input(clf, jnp.asarray(x)[None]))
  logits = jax.jit(clf.apply)(clf.params, x)[clf.layers[-1]]
  return float(jax.nn.softmax(logits)[0, unit])


def run_actmax(clf, classes, config, seed):
  """{(class, prior): (image, p(class), roughness, seconds)}."""
  shape = classifier_task.image_shape(config, clf)
  out = {}
  for name, unit in classes.items():
    op = ops.classifier_unit(clf, clf.layers[-1], unit=unit, in_shape=shape)
    for label, method in PRIORS:
      t = time.perf_counter()
      r = dip_jax.reconstruct(None, op, method=method, objective="maximize",
                              in_shape=shape, config=config, seed=seed)
      x = r.reconstruction
      out[name, label] = (x, probability(clf, x, unit), metrics.roughness(x),
                          time.perf_counter() - t)
      print(f"  {name:>22s} {label:9s}: p {out[name, label][1]:.3f}, "
            f"roughness {out[name, label][2]:.3f} "
            f"({out[name, label][3]:.0f} s)")
  return out


def run_invert(clf, layers, reference, config, seed):
  """{(layer, prior): (image, PSNR to the reference, seconds)}."""
  out = {}
  for layer in layers:
    op = ops.classifier_features(clf, layer, in_shape=reference.shape)
    y = jax.tree.map(np.asarray, op(jnp.asarray(reference)))
    for label, method in PRIORS:
      t = time.perf_counter()
      r = dip_jax.reconstruct(y, op, method=method, objective="normalized_mse",
                              clean=reference, config=config, seed=seed)
      out[layer, label] = (r.reconstruction, r.info["psnr"],
                           time.perf_counter() - t)
      print(f"  {layer:>7s} {label:9s}: {r.info['psnr']:.2f} dB "
            f"({out[layer, label][2]:.0f} s)")
  return out


def main():
  p = common.parser("actmax_grid", __doc__)
  p.add_argument("--weights", default="",
                 help="AlexNet weights (.npz from convert_torchvision); "
                      "none: the tiny CNN trained here")
  p.add_argument("--data", default=common.DATA_DIR,
                 help="the shared data folder (holds dip/feature_inversion/)")
  p.add_argument("--steps", type=int, default=0,
                 help="steps of every fit (0: the settings'; for a smoke run)")
  args = p.parse_args()
  clf, classes, layers, reference, am, inv = setup(args)
  print(f"activation maximization of {clf.name}'s {clf.layers[-1]}:")
  act = run_actmax(clf, classes, am, args.seed)
  print(f"feature inversion of {reference.shape[1]} px reference:")
  invert = run_invert(clf, layers, reference, inv, args.seed)

  common.image_grid(
      os.path.join(args.out, "actmax.png"),
      [(f"{label}: {name}\np {act[name, label][1]:.2f}, rough "
        f"{act[name, label][2]:.2f}", act[name, label][0])
       for label, _ in PRIORS for name in classes],
      cols=len(classes), title=f"Activation maximization of {clf.name}")
  panels = []
  for label, _ in PRIORS:
    panels.append((f"reference\n{label} row", reference))
    panels += [(f"{label}: {layer}\n{invert[layer, label][1]:.1f} dB",
                invert[layer, label][0]) for layer in layers]
  common.image_grid(os.path.join(args.out, "invert.png"), panels,
                    cols=len(layers) + 1,
                    title=f"Feature inversion of {clf.name}")

  rows = [[name] + [f"{act[name, l][1]:.3f}" for l, _ in PRIORS]
          + [f"{act[name, l][2]:.3f}" for l, _ in PRIORS]
          + [f"{act[name, l][3]:.0f}" for l, _ in PRIORS] for name in classes]
  inv_rows = [[layer] + [f"{invert[layer, l][1]:.2f}" for l, _ in PRIORS]
              + [f"{invert[layer, l][2]:.0f}" for l, _ in PRIORS]
              for layer in layers]
  weights = (f"weights {args.weights}" if args.weights else
             "no ImageNet weights: the tiny CNN of dip_jax.nets.classifiers.tiny")
  common.write_summary(args.out, "\n".join([
      f"# Activation maximization and feature inversion ({clf.name})", "",
      f"{weights}; seed {args.seed}; DIP {am.num_steps} / "
      f"{inv.num_steps} steps, TV pixels {am.tv_gradient.num_steps} / "
      f"{inv.tv_gradient.num_steps} steps. {common.device_line()}", "",
      "Roughness: mean |neighbour difference| / std (lower = smoother).", "",
      common.markdown_table(
          ["class", "p DIP", "p TV", "rough DIP", "rough TV", "s DIP",
           "s TV"], rows), "",
      "Feature inversion, PSNR to the reference (dB):", "",
      common.markdown_table(["layer", "DIP", "TV pixels", "s DIP", "s TV"],
                            inv_rows), "",
      "Figures: actmax.png, invert.png.", ""]))


if __name__ == "__main__":
  main()
