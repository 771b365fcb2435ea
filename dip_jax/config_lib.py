"""The config schema every task config starts from, and `:arg` parsing.

Task configs in configs/ call `base_config()` and override fields; every key
a run reads exists here, with a comment saying what it does, so a typo on the
command line (`--config.num_step=5`) is refused by ml_collections instead of
silently ignored.
"""

import importlib.util
import os
import sys

import ml_collections

from dip_jax.errors import InputError

# config.precision: the compute dtypes a net may run in (fit/step.py maps
# them to dtypes; the paper-table configs and experiments offer the same).
PRECISIONS = ("float32", "bfloat16")

# configs/ beside the package in a source checkout.
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "configs")


def _exec_file(path: str, module_name: str):
  """The Python file at `path` run as module `module_name` (configs/ is not
  a package, so configs and presets are loaded by path)."""
  spec = importlib.util.spec_from_file_location(module_name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_config_file(path: str, arg: str | None = None):
  """`get_config(arg)` of a config file loaded by path, as
  `--config=path:arg` loads it."""
  name = "_config_" + os.path.splitext(os.path.basename(path))[0]
  return _exec_file(path, name).get_config(arg)


def task_config(name: str, arg: str | None = None):
  """configs/<name> of this checkout, e.g. task_config("sr.py", "x8,quick"),
  or the arg after a colon as --config writes it: task_config("sr.py:x8")."""
  if arg is None:
    name, _, arg = name.partition(":")
    arg = arg or None
  return load_config_file(os.path.join(CONFIGS_DIR, name), arg)


def preset(name: str):
  """configs/presets/<name>.py of this checkout as a module, loaded once.

  Presets are settings that configs and experiments share (the successors'
  per-task settings, the paper tables' sweeps). They live beside the configs
  that use them, not in the library, and configs/ is not a package, so they
  are loaded by path like the configs themselves."""
  key = "dip_jax_presets." + name
  if key not in sys.modules:
    path = os.path.join(CONFIGS_DIR, "presets", name + ".py")
    if not os.path.exists(path):
      raise InputError(f"no preset {name!r}: {path} does not exist")
    # Registered once, so every config that reads a preset shares its values.
    sys.modules[key] = _exec_file(path, key)
  return sys.modules[key]


# Keys that were renamed: an old name gets a line that gives the new one.
RENAMED_KEYS = {"prior": "method"}


def unknown_key_line(key: str) -> str:
  """The one-line error for a config key the config does not have."""
  if key in RENAMED_KEYS:
    return f"config.{key} is now config.{RENAMED_KEYS[key]}"
  return f"unknown config key {key!r}"


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.task = "denoise"          # a name for the outputs and summaries
  c.image = ""                # path to the image; "" = the built-in sample
  c.sample_size = 256         # side of the built-in sample (only if image="")
  c.clean_image = ""          # optional ground truth when `image` is already
                              # corrupted (real-world input: leave empty)
  c.center_crop = 0           # >0: use the central N x N crop of `image`
  c.max_pixels = 100_000_000  # refuse image files with more pixels (read
                              # from the header, before decoding: bombs)
  c.memory_limit_gb = 0.0     # refuse a fit estimated to need more (0 = the
                              # memory this machine or device has free)
  c.corrupted = False         # True: `image` is the observation as is
  c.seed = 0
  c.method = "dip"             # dip (fit a net) | tv (hand-crafted prior
                              # only) | tv_gradient | sgld | deepred
                              # | dip_dncnn

  c.corruption = ml_collections.ConfigDict()
  # none | gaussian | poisson | poisson_gaussian | jpeg | pil_lanczos (SR)
  c.corruption.kind = "gaussian"
  c.corruption.sigma = 25.0       # noise std on the 0-255 scale (gaussian;
                                  # poisson_gaussian: the read noise)
  c.corruption.peak = 30.0        # poisson kinds: photons at white, > 0;
                                  # y = Poisson(peak x) / peak
  c.corruption.clip = True        # clip the noisy image to [0, 1]
  c.corruption.quality = 10       # JPEG quality for kind jpeg
  c.corruption.save_jpeg = 0      # noise kinds: then saved as a JPEG of
                                  # this quality, 1-95 (0: not saved)

  # The forward operator A: `name` picks it, its own block below holds its
  # builder's arguments (operators.downsample(**c.operator.downsample), ...).
  c.operator = ml_collections.ConfigDict()
  c.operator.name = "identity"    # identity | downsample | blur
  c.operator.downsample = ml_collections.ConfigDict()
  c.operator.downsample.factor = 4           # SR factor
  c.operator.downsample.kernel = "lanczos2"  # lanczos2 | bicubic | box
  c.operator.blur = ml_collections.ConfigDict()
  c.operator.blur.kind = "gaussian"  # gaussian | box | motion
  c.operator.blur.sigma = 2.0        # gaussian std in pixels
  c.operator.blur.size = 0           # kernel side (0 = from the kind)
  c.operator.blur.length = 9.0       # motion length in pixels
  c.operator.blur.angle = 0.0        # motion angle in degrees

  c.mask = ml_collections.ConfigDict()
  c.mask.kind = "none"            # none | random | text | holes | file
  c.mask.kept_fraction = 0.5      # random: fraction of pixels kept
  c.mask.font_size = 20           # text: font size in pixels
  c.mask.text = ""                # text: the words ("" = a default sentence)
  c.mask.opacity = 1.0            # text: <1 is a watermark
  c.mask.num_holes = 8            # holes: how many rectangles
  c.mask.hole_size = 16           # holes: their side in pixels
  c.mask.path = ""                # file: mask image, white = known pixel
  c.loss = "mse"                  # data term d (dip_jax.operators)

  c.net = ml_collections.ConfigDict()
  c.net.preset = ""               # a named net (dip_jax/nets/presets.py:
                                  # skip-5, unet, resnet-8, deep-decoder...);
                                  # it sets every key it names
  c.net.width = 0                 # >0: cap every channel count (after preset)
  c.net.arch = "skip"             # skip | unet | resnet | deep_decoder
  c.net.channels = 64             # resnet / deep_decoder: channels per layer
  c.net.num_blocks = 8            # resnet: residual blocks
  c.net.num_layers = 5            # deep_decoder: x2 upsampling layers
  c.net.channels_down = (128,) * 5
  c.net.channels_up = (128,) * 5
  c.net.channels_skip = (4,) * 5
  c.net.kernel_down = 3
  c.net.kernel_up = 3
  c.net.kernel_skip = 1
  c.net.downsample = "stride"     # stride | avg | max | lanczos2
  c.net.upsample = "bilinear"     # nearest | bilinear
  c.net.upsample_per_level = ()   # one mode per level, overrides `upsample`
  c.net.pad = "reflection"        # reflection | zero
  c.net.need_1x1_up = True
  c.net.sigmoid = True
  c.net.conv_impl = "auto"        # auto | cpu (fast CPU backward) | xla

  c.input = ml_collections.ConfigDict()
  c.input.kind = "uniform"        # uniform | gaussian | meshgrid | image
  c.input.image = ""              # kind image: the fixed input (flash photo)
  c.input.channels = 32
  c.input.scale = 0.1             # z = scale * U(0, 1) (or N(0, 1))
  c.input.reg_noise_std = 1.0 / 30  # fresh N(0, s^2) added to z every step

  # The optimizer, an optax GradientTransformation (dip_jax/fit/optim.py):
  # clip_by_global_norm -> optimizer(schedule) -> what a method chains on.
  c.optim = ml_collections.ConfigDict()
  c.optim.name = "adam"           # adam | adamw | sgd | rmsprop | lion
  c.optim.learning_rate = 0.01    # the (peak) rate
  c.optim.schedule = "constant"   # constant | cosine | warmup_cosine
  c.optim.warmup_steps = 0        # warmup_cosine: linear ramp from 0
  c.optim.decay_steps = 0         # cosine: steps to the end rate (0 = all)
  c.optim.end_factor = 0.0        # cosine: end rate / peak rate
  c.optim.clip_norm = 0.0         # > 0: clip the gradient's global norm

  # Weights on x itself added to the objective of a fit (dip, tv_gradient):
  # tv > 0 with method=dip is DIP-TV (Liu et al., 2019): data term +
  # tv * TV_eps(f(z)) per pixel (objectives.regularized).
  c.regularizer = ml_collections.ConfigDict()
  c.regularizer.tv = 0.0
  c.regularizer.l2 = 0.0          # l2 * mean((x - 0.5)^2)

  # method=tv_gradient: x itself by projected Adam with a smoothed TV
  # (methods/tv_gradient.py; any operator and objective, no adjoint).
  c.tv_gradient = ml_collections.ConfigDict()
  c.tv_gradient.lam = 0.01
  c.tv_gradient.learning_rate = 0.01
  c.tv_gradient.num_steps = 500
  c.tv_gradient.eps = 1e-3
  # method=sgld: Bayesian DIP by stochastic gradient Langevin dynamics
  # (Cheng et al., CVPR 2019; methods/sgld.py): Gaussian noise of std
  # noise_scale x learning_rate on every conv kernel after each step; the
  # answer is the mean of the outputs sampled every `sample_every` steps
  # after `burn_in`, their per-pixel std the uncertainty map.
  c.sgld = ml_collections.ConfigDict()
  c.sgld.noise_scale = 2.0        # their code: 2 x lr
  c.sgld.burn_in = 7000           # their 20000-step runs: 7000
  c.sgld.sample_every = 50
  # method=deepred: DIP + RED by ADMM (Mataev et al., 2019; dip_jax/fit/watchers/admm.py):
  # net loss data + mu * |f - x + u|^2, x from a non-local-means step.
  c.deepred = ml_collections.ConfigDict()
  c.deepred.mu = 0.5
  c.deepred.beta = 0.5
  c.deepred.sigma_f = 3.0         # the denoiser's noise level (0-255 scale)
  c.deepred.every = 10            # steps between denoiser calls
  # method=dip_dncnn (denoising; methods/dip_dncnn.py): the answer is
  # dip_weight x DIP's + (1 - dip_weight) x a pretrained DnCNN's D(y).
  # Weights: pip install --no-deps scico==0.0.7, or `weights` = that wheel,
  # its scico/data/flax folder or a .mpk file (dip_jax/solvers/dncnn.py).
  c.dncnn = ml_collections.ConfigDict()
  c.dncnn.dip_weight = 0.5
  c.dncnn.variant = "auto"        # 17L/17M/17H (trained at std 0.06/0.1/
                                  # 0.2); auto: nearest to y's noise estimate
  c.dncnn.self_ensemble = True    # average over the 8 flips and turns
  c.dncnn.weights = ""
  c.tv = ml_collections.ConfigDict()
  c.tv.enabled = True             # also solve the TV-regularised problem
                                  # (the hand-crafted baseline; seconds)
  c.tv.lam = 0.1                  # lambda in 0.5||M(Ax - x0)||^2 + lambda TV(x)
  c.tv.max_iters = 2000

  c.num_steps = 3000
  c.num_restarts = 1              # R fits from different inits/inputs, vmapped;
                                  # the reconstruction is their average
  c.restart_group = 0             # restarts vmapped together, the groups in
                                  # turn (0 = auto: all on GPU/TPU, by image
                                  # size on CPU; see dip.auto_restart_group)
  c.num_devices = 0               # devices the restarts are split over (0=all)
  c.ema_decay = 0.99              # average of outputs; 0 = off
  c.precision = "float32"         # the net's compute dtype: float32 |
                                  # bfloat16 (params, Adam, BN statistics and
                                  # the output stay float32; docs/performance.md)
  c.guard = ml_collections.ConfigDict()
  c.guard.enabled = True          # restore the last good state on divergence
  c.guard.psnr_drop = 5.0         # dB drop in PSNR to x0 counted as divergence
  c.guard.every = 100             # steps between good-state snapshots
  # Early stopping without the clean image (dip_jax/fit/watchers/stopping.py): stop where
  # the data fit reaches the noise level estimated from y (discrepancy), or
  # watch the variance of the recent outputs and stop when its minimum is
  # `patience` steps old (wmv/emv; Wang et al., arXiv 2112.06074).
  c.early_stopping = ml_collections.ConfigDict()
  c.early_stopping.kind = "none"    # none | wmv (variance over a window of
                                    # outputs) | emv (exponential moving var.)
                                    # | discrepancy (the fit reaches the
                                    # noise level: fit_gate below)
  c.early_stopping.window = 100     # wmv: outputs in the window (it keeps
                                    # them: window*H*W*C*4 bytes per restart)
  c.early_stopping.patience = 1000  # steps without a new minimum to stop
  c.early_stopping.alpha = 0.1      # emv: weight of the newest output
  c.early_stopping.start = 100      # no step up to this one is a candidate
  c.early_stopping.halt = True      # False: detect but run all num_steps
                                    # (to measure the gap to a fixed count)
  c.early_stopping.fit_gate = 0.0   # kappa > 0: no candidate before the
                                    # data fit's MSE <= kappa x the noise
                                    # variance estimated from y (stopping.py)
  c.early_stopping.noise_model = "gaussian"  # how that variance is
                                    # estimated (noise_level.py): gaussian
                                    # (one level) | signal_dependent (a
                                    # level per intensity: shot noise)
  c.early_stopping.lag = 0          # answer = the one this many steps after
                                    # the detected step; -1: the output
                                    # average's mean age (99 at 0.99)
  c.early_stopping.band = 0.0       # discrepancy (other kinds ignore it):
                                    # b > 0 answers from the middle of the
                                    # steps whose fit is within (1 +- b) x
                                    # the noise level
  c.early_stopping.slots = 16       # band: past answers kept for that
                                    # (slots x H*W*C*4 bytes per restart)

  c.log_every = 100               # steps between metrics lines and progress
  c.steps_per_dispatch = 100      # steps per compiled dispatch (the scan
                                  # length): log_every and num_steps change
                                  # no compiled program
  c.snapshot_every = 1000         # save an intermediate PNG (0 = never)
  c.checkpoint_every = 500        # save the fit state to resume (0 = never)
  c.keep_checkpoints = 2          # how many of the latest to keep
  c.eta_warning_minutes = 10.0    # warn early when a run will take longer
  c.quick_hint = ""               # the variant to suggest when it will
  return c


def narrow_for_cpu(c: ml_collections.ConfigDict, width: int = 32,
                   sample_size: int = 128) -> ml_collections.ConfigDict:
  """The `:quick` recipe: the built-in image at `sample_size` px and every
  level at most `width` channels (~16x fewer FLOPs than 128). A user's own
  image keeps its size: quick variants never resize what they are given."""
  c.sample_size = sample_size
  for key in ("channels_down", "channels_up", "channels_skip"):
    c.net[key] = tuple(min(ch, width) for ch in c.net[key])
  c.log_every = 100
  c.snapshot_every = 500
  return c


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses `name` or `key=value,flag` strings from `--config=f.py:ARG`.

  Known keys and their types come from `defaults`; a bare word sets a bool
  default to True (`quick`), or, when the config has a `variant` default,
  selects that variant. Unknown words are refused with one clear line.
  """
  out = ml_collections.ConfigDict(defaults)
  if not arg:
    return out
  for part in arg.split(","):
    part = part.strip()
    if not part:
      continue
    key, eq, value = part.partition("=")
    if not eq:
      if isinstance(defaults.get(key), bool):
        out[key] = True
        continue
      if "variant" in defaults:
        if out.variant != defaults["variant"]:
          raise InputError(f"config arg {arg!r} names two variants")
        out.variant = key
        continue
      raise InputError(f"unknown config arg {key!r}; known: {sorted(defaults)}")
    if key not in defaults:
      raise InputError(f"unknown config arg {key!r}; known: {sorted(defaults)}")
    kind = type(defaults[key])
    if kind is bool:
      out[key] = value.lower() in ("1", "true", "yes")
    else:
      out[key] = kind(value)
  return out
