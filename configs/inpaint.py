r"""Inpainting: text removal, large holes, regions (the DIP paper, Figs. 6-8).

Variants (combine with `quick`, e.g. --config=configs/inpaint.py:vase,quick):
  text (default)  kate + text mask (Fig. 7 top): skip-5 with 128 skip
                  channels, nearest upsampling, 32-ch input, lr 0.01, 6000
                  steps, reg_noise 0.03.
  vase            large hole (Fig. 6): 2-channel meshgrid input, 5 levels of
                  128 channels, no skips, nearest, 5000 steps, reg_noise 0.03.
  library         region (Fig. 8): depth 6 [16, 32, 64, 128, 128, 128], no
                  skips, 5x5 down kernels, no 1x1 after the up conv, 1-ch
                  input, 3000 steps, no reg_noise.

Paper images (mask: white = known pixel):
  python -m dip_jax.main --config=configs/inpaint.py --workdir=/tmp/kate \
      --config.image=../shared/data/dip/inpainting/kate.png --config.corrupted=True \
      --config.mask.kind=file --config.mask.path=../shared/data/dip/inpainting/kate_mask.png
  (with --config.corrupted=False the clean kate.png is masked by the file mask
  and the result is scored against it.)
Built-in image: text drawn over it (text), 8 rectangular holes (vase),
one large hole (library).
Quick (128 px, 32-channel nets, ~1 min on 2 cores):
  python -m dip_jax.main --config=configs/inpaint.py:quick --workdir=/tmp/iq
Expected (quick): DIP above the input and the TV result on the missing pixels
(tests/test_tasks.py).
DIP's successors on this task: add `dip_tv`, `sgld` or `deepred` to the arg
(e.g. `:quick,sgld`); their settings: configs/presets/successors.py.
"""

from dip_jax import config_lib
successors = config_lib.preset("successors")


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False, variant="text",
                              **successors.ARGS)
  if args.variant not in ("text", "vase", "library"):
    raise ValueError(f"unknown inpaint variant {args.variant!r}; "
                     "known: text, vase, library")
  c = config_lib.base_config()
  c.task = f"inpaint_{args.variant}"
  c.corruption.kind = "none"
  c.ema_decay = 0.0
  c.input.reg_noise_std = 0.03
  c.net.upsample = "nearest"
  c.tv.lam = 0.01
  c.quick_hint = f"configs/inpaint.py:{args.variant},quick"
  if args.variant == "text":
    c.mask.kind = "text"
    c.net.channels_skip = (128,) * 5
    c.num_steps = 6000
  elif args.variant == "vase":
    c.mask.kind = "holes"
    c.mask.num_holes = 8
    c.mask.hole_size = 32
    c.input.kind = "meshgrid"
    c.input.channels = 2
    c.net.channels_skip = (0,) * 5
    c.num_steps = 5000
  else:
    c.mask.kind = "holes"
    c.mask.num_holes = 1
    c.mask.hole_size = 64
    c.net.channels_down = (16, 32, 64, 128, 128, 128)
    c.net.channels_up = (16, 32, 64, 128, 128, 128)
    c.net.channels_skip = (0,) * 6
    c.net.kernel_down = 5
    c.net.need_1x1_up = False
    c.input.channels = 1
    c.input.reg_noise_std = 0.0
    c.num_steps = 3000
  if args.quick:
    if args.variant == "library":
      # Without skips the whole image must pass the depth-6 bottleneck:
      # 32 channels were too few to fit it in a CPU-sized run.
      config_lib.narrow_for_cpu(c, width=64)
      c.num_steps = 2000
    else:
      config_lib.narrow_for_cpu(c)
      c.num_steps = 1500
    if args.variant != "text":
      c.mask.hole_size //= 2
  successors.from_args(c, args)
  return c
