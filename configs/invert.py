r"""Feature inversion through the deep image prior (the DIP paper, Sec. 4
"Natural pre-image", notebook feature_inversion.ipynb).

Which image has the same AlexNet features as the reference? x* =
argmin_x ||Phi_l(x) - Phi_l(x_ref)||^2 / ||Phi_l(x_ref)||^2 for layer l
(+ --config.regularizer.l2 / .tv, weights on x).
Fitted through a net, x = f(z), the pre-image looks like a photo; over the
pixels with a TV prior (--config.method=tv_gradient) it is noisy. The
reference is the clean image: PSNR and SSIM are scored against it.

Weights: torchvision's AlexNet, converted once (see configs/actmax.py):
  python -m dip_jax.nets.classifiers.convert_torchvision \
      alexnet-owt-7be5be79.pth alexnet.npz

Paper settings (the notebook's): layer fc6; skip net of depth 6, channels
[16, 32, 64, 128, 128, 128], skip 4 at every level, kernels [7, 7, 5, 5, 3,
3] down and up, nearest up, avg down, zero padding, sigmoid; 32-channel
noise input on a 256 px canvas, no reg noise, Adam lr 0.001, 3100 steps;
the reference at the classifier's 224 px (the notebook's building.jpg;
here config.image, or the built-in photo).
  python -m dip_jax.main --config=configs/invert.py --workdir=/tmp/inv \
      --config.weights=alexnet.npz --config.image=building.jpg \
      [--config.invert.layer=conv3]
Pixels with TV instead: --config.method=tv_gradient (tv_gradient.* below).

Quick (the built-in photo at 112 px, resized to 224 inside the operator,
600 steps at lr 0.01; method=tv_gradient 300 steps), meant for a CPU:
  python -m dip_jax.main --config=configs/invert.py:quick --workdir=/tmp/invq \
      --config.weights=alexnet.npz
Expected: reconstruction.png beside the reference in comparison.png, with
its PSNR (low from fc6: it keeps what AlexNet needs, not the pixels; early
layers such as conv2 give far higher PSNRs). Runtime, 2-core CPU (random
AlexNet weights, so the PSNR, 9.9 dB, means nothing): 3.8 min in all,
0.29 s per step, compile 23 s. The full config is meant for a GPU.
"""

import ml_collections

from dip_jax import config_lib

NOTEBOOK_NET = dict(
    channels_down=(16, 32, 64, 128, 128, 128),
    channels_up=(16, 32, 64, 128, 128, 128),
    channels_skip=(4,) * 6,
    kernel_down=(7, 7, 5, 5, 3, 3), kernel_up=(7, 7, 5, 5, 3, 3),
    upsample="nearest", downsample="avg", pad="zero", sigmoid=True,
    need_1x1_up=True)


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False)
  c = config_lib.base_config()
  c.task = "invert"
  c.weights = ""                  # the classifier's weights (.npz, see above)
  c.classifier = ml_collections.ConfigDict()
  c.classifier.name = "alexnet"
  c.classifier.image_size = 0     # side of x and of the reference in px (0 =
                                  # the classifier's input, 224); x is
                                  # resized to its input
  c.loss = "normalized_mse"       # ||Phi(x) - Phi(ref)||^2 / ||Phi(ref)||^2
  c.invert = ml_collections.ConfigDict()
  c.invert.layer = "fc6"          # conv1..conv5, pool5, fc6, fc7, fc8
  c.sample_size = 224             # the built-in photo at the input size
  c.corruption.kind = "none"
  c.tv.enabled = False            # the image TV solver needs a linear
                                  # operator; method=tv_gradient is the
                                  # pixels-with-TV comparison
  c.ema_decay = 0.0
  with c.net.ignore_type():       # per-level kernels where the base has ints
    c.net.update(NOTEBOOK_NET)
  c.input.channels = 32
  c.input.reg_noise_std = 0.0
  c.optim.learning_rate = 0.001
  c.num_steps = 3100
  c.tv_gradient.num_steps = 3100
  c.tv_gradient.learning_rate = 0.01
  c.tv_gradient.lam = 0.01
  c.snapshot_every = 500
  c.quick_hint = "configs/invert.py:quick"
  if args.quick:
    c.classifier.image_size = 112
    c.optim.learning_rate = 0.01
    c.num_steps = 600
    c.tv_gradient.num_steps = 300
    c.snapshot_every = 200
  return c
