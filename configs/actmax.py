r"""Activation maximization through the deep image prior (the DIP paper,
Sec. 4 "Activation maximization", notebook activation_maximization.ipynb).

Which image makes AlexNet's unit fire most? x* = argmin_x -A(x) (+ small
weights on x), with A(x) one logit of fc8 or one channel of a conv layer
summed over a central window; --config.regularizer.l2 / .tv add weights on
x (objectives.regularized). Fitted through a net, x = f(z), the answer
looks like an object; over the pixels with a TV prior
(--config.method=tv_gradient) it is texture-like noise.

Weights: torchvision's AlexNet (alexnet-owt-7be5be79.pth, in
~/.cache/torch/hub/checkpoints/ once torchvision has fetched it), converted
once: python -m dip_jax.nets.classifiers.convert_torchvision \
    alexnet-owt-7be5be79.pth alexnet.npz

Paper settings (the notebook's): skip net of depth 6, down/up channels
[16, 32, 64, 128, 128, 128], skip [0, 4, 4, 4, 4, 4], kernels down
[5, 3, 5, 5, 3, 5] / up [5, 3, 5, 3, 5, 3], bilinear up, avg down,
reflection padding, sigmoid; 32-channel noise input on a 256 px canvas,
reg noise 0.03, Adam, 3100 steps, lr 0.01 for fc8 (0.001 for conv units),
no output averaging; the image is the classifier's 224 px input.
  python -m dip_jax.main --config=configs/actmax.py --workdir=/tmp/am \
      --config.weights=alexnet.npz [--config.actmax.unit=100]   # black swan
Default: fc8 unit 933 (cheeseburger). Variant `conv4`: channel 2 of conv4,
lr 0.001. The notebook's window_size = 20 is a half-width on the 13 x 13
conv4 map, i.e. the whole map: actmax.window = 0 here (a positive window
is a square in the layer's own pixels). The notebook maximizes conv4
before its ReLU and matches fc8 to 300 (|300 - logit|); here conv4 is
after the ReLU (as dip_jax's AlexNet returns it) and fc8 is maximized.
Pixels with TV instead: --config.method=tv_gradient (tv_gradient.* below).

Quick (x at 112 px resized to 224 for AlexNet, 600 steps; method=tv_gradient
300 steps), meant for a CPU:
  python -m dip_jax.main --config=configs/actmax.py:quick --workdir=/tmp/amq \
      --config.weights=alexnet.npz
Expected: reconstruction.png, the image the unit prefers; summary.json's
final_loss is minus the unit's value (no clean image, so no PSNR).
Runtime, 2-core CPU (measured with random AlexNet weights: none real were
at hand, so the picture itself is unchecked): 3.6 min in all, 0.28 s per
step (the 128 px canvas and AlexNet at 224 px), compile 29 s; with
--config.method=tv_gradient 42 s. The full config (224 px, 256 px canvas,
3100 steps) is meant for a GPU.
"""

import ml_collections

from dip_jax import config_lib

NOTEBOOK_NET = dict(
    channels_down=(16, 32, 64, 128, 128, 128),
    channels_up=(16, 32, 64, 128, 128, 128),
    channels_skip=(0, 4, 4, 4, 4, 4),
    kernel_down=(5, 3, 5, 5, 3, 5), kernel_up=(5, 3, 5, 3, 5, 3),
    upsample="bilinear", downsample="avg", pad="reflection", sigmoid=True,
    need_1x1_up=True)


def classifier_blocks(c: ml_collections.ConfigDict) -> None:
  """The keys both classifier tasks share."""
  c.weights = ""                  # the classifier's weights (.npz, see above)
  c.classifier = ml_collections.ConfigDict()
  c.classifier.name = "alexnet"
  c.classifier.image_size = 0     # side of x in px (0 = the classifier's
                                  # input, 224); x is resized to its input
  c.tv.enabled = False            # the image TV solver needs a linear
                                  # operator; method=tv_gradient is the
                                  # pixels-with-TV comparison
  c.corruption.kind = "none"
  c.ema_decay = 0.0


def set_net(c: ml_collections.ConfigDict, net: dict) -> None:
  # Per-level kernels are tuples where the base config holds ints.
  with c.net.ignore_type():
    c.net.update(net)


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False, variant="fc8")
  if args.variant not in ("fc8", "conv4"):
    raise ValueError(f"unknown actmax variant {args.variant!r}; known: "
                     f"fc8, conv4")
  c = config_lib.base_config()
  c.task = "actmax"
  classifier_blocks(c)
  c.loss = "maximize"             # minus the unit's value
  c.actmax = ml_collections.ConfigDict()
  c.actmax.layer = "fc8"          # conv1..conv5, pool5, fc6, fc7, fc8
  c.actmax.unit = 933             # the logit / channel (-1 = every unit)
  c.actmax.window = 0             # conv layers: central square in the
                                  # layer's own px (0 = the whole map)
  set_net(c, NOTEBOOK_NET)
  c.input.channels = 32
  c.input.reg_noise_std = 0.03
  c.optim.learning_rate = 0.01
  c.num_steps = 3100
  c.tv_gradient.num_steps = 3100  # the notebook's TV run: lr 0.01
  c.tv_gradient.learning_rate = 0.01
  c.tv_gradient.lam = 0.01
  c.snapshot_every = 500
  c.quick_hint = f"configs/actmax.py:{args.variant},quick"
  if args.variant == "conv4":
    c.actmax.layer = "conv4"
    c.actmax.unit = 2
    c.optim.learning_rate = 0.001
  if args.quick:
    c.classifier.image_size = 112
    c.num_steps = 600
    c.tv_gradient.num_steps = 300
    c.snapshot_every = 200
    c.log_every = 100
  return c
