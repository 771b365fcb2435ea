"""Named architectures: the nets the paper compares, as net-config overrides.

A preset is a dict of `net` block keys. It names every key that shapes its
architecture, so whatever the block held before (the task's own net) cannot
leak into it; keys it does not name (pad, sigmoid, conv_impl, width) keep
the config's values. Two ways to use one:

  --config.net.preset=unet             `resolve` applies it when the net is
                                       built (build_net, net_depth), so it
                                       wins over the block's own keys;
  presets.apply(config.net, "unet")    writes it into the block, so later
                                       edits (narrower channels) still stand.

`net.width > 0` then caps every channel count, so a preset can be narrowed
from the command line: --config.net.preset=unet --config.net.width=16.

The presets (128 channels unless stated; paper = Ulyanov et al. 2018):
  hourglass-1/3/5   encoder-decoder of depth 1/3/5 without skips (the
                    untrained-output figure), bilinear upsampling
  skip-5            the paper's default net: 5 levels, 4 skip channels,
                    bilinear upsampling (2,217,831 parameters)
  skip-5-nearest    the same with nearest upsampling
  encoder-decoder-6 the library-inpainting net (Fig. 8): depth 6 of
                    [16, 32, 64, 128, 128, 128], no skips, 5x5 down
                    kernels, no 1x1 after the up conv, nearest upsampling
  unet              a U-Net with concatenated skips (nets/unet.py), widths
                    [16, 32, 64, 128, 128, 128]: a full-resolution level and
                    5 downsampled ones, max-pool down, nearest up
  resnet-8          8 residual blocks of 32 channels at full resolution
                    (the width of the paper code's ResNet for Fig. 8)
  deep-decoder      Heckel & Hand (2019): 5 x2 layers of 64 channels of
                    1x1 convs, bilinear upsampling, ReLU and BN
"""

import ml_collections

from dip_jax.errors import InputError


def _encoder_decoder(channels, skip, upsample="bilinear", kernel_down=3,
                     need_1x1_up=True) -> dict:
  """Every key of a 'skip'-family net, so nothing of the task's net leaks."""
  return {"arch": "skip", "channels_down": tuple(channels),
          "channels_up": tuple(channels), "channels_skip": tuple(skip),
          "kernel_down": kernel_down, "kernel_up": 3, "kernel_skip": 1,
          "downsample": "stride", "upsample": upsample,
          "upsample_per_level": (), "need_1x1_up": need_1x1_up}


PRESETS = {
    "hourglass-1": _encoder_decoder((128,), (0,)),
    "hourglass-3": _encoder_decoder((128,) * 3, (0,) * 3),
    "hourglass-5": _encoder_decoder((128,) * 5, (0,) * 5),
    "skip-5": _encoder_decoder((128,) * 5, (4,) * 5),
    "skip-5-nearest": _encoder_decoder((128,) * 5, (4,) * 5, "nearest"),
    "encoder-decoder-6": _encoder_decoder(
        (16, 32, 64, 128, 128, 128), (0,) * 6, "nearest", kernel_down=5,
        need_1x1_up=False),
    "unet": {"arch": "unet", "channels_down": (16, 32, 64, 128, 128, 128),
             "downsample": "max", "upsample": "nearest",
             "upsample_per_level": ()},
    "resnet-8": {"arch": "resnet", "channels": 32, "num_blocks": 8},
    "deep-decoder": {"arch": "deep_decoder", "channels": 64, "num_layers": 5,
                     "upsample": "bilinear", "upsample_per_level": ()},
}

# Keys whose values are channel counts, capped by `net.width`.
_CHANNEL_KEYS = ("channels_down", "channels_up", "channels_skip")


def names() -> tuple[str, ...]:
  return tuple(PRESETS)


def preset(name: str) -> dict:
  """The net-config overrides of preset `name` (a fresh dict).

  Raises:
    InputError: for an unknown name (the message lists the known ones).
  """
  if name not in PRESETS:
    raise InputError(f"unknown net.preset {name!r}; known: {list(PRESETS)}")
  return dict(PRESETS[name])


def apply(net_cfg: ml_collections.ConfigDict, name: str
          ) -> ml_collections.ConfigDict:
  """Writes preset `name` into `net_cfg` in place (and returns it).

  `net.preset` is left empty: the block now spells the net out, so a caller
  may edit it further without the preset overriding the edits at build time.
  """
  with net_cfg.unlocked():
    net_cfg.update(preset(name))
  net_cfg.preset = ""
  return net_cfg


def resolve(net_cfg) -> ml_collections.ConfigDict:
  """The net block as the builder sees it: preset applied, width capped.

  Returns a copy; `net_cfg` is not modified. A block without a preset and
  with width 0 comes back unchanged (as a copy).
  """
  cfg = ml_collections.ConfigDict(net_cfg.to_dict())
  name = cfg.get("preset", "")
  if name:
    apply(cfg, name)
  width = int(cfg.get("width", 0) or 0)
  if width < 0:
    raise InputError(f"net.width must be >= 0, got {width}")
  if width:
    # min() keeps 0 skip channels at 0: capping never adds a skip branch.
    for key in _CHANNEL_KEYS:
      if key in cfg:
        cfg[key] = tuple(min(int(ch), width) for ch in cfg[key])
    if "channels" in cfg:
      cfg.channels = min(int(cfg.channels), width)
  return cfg
