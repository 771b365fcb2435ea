r"""Super-resolution x4 / x8 (the DIP paper, Sec. 3, Figs. 1 and 5).

Paper settings (super-resolution notebook): skip-5 (128 ch, 4 skip ch),
bilinear upsampling, 32-ch input, Adam lr 0.01; x4: 2000 steps, reg_noise
0.03; x8 (`:x8`): 4000 steps, reg_noise 0.05. The forward operator is the
paper's Lanczos-2 downsampler; the LR image is synthesised as in the paper's
code (PIL's antialiased Lanczos resize of the mod-cropped HR image). Scored
by PSNR on RGB and, as the paper, on Y with the factor's border cropped,
beside bicubic upscaling.

  python -m dip_jax.main --config=configs/sr.py --workdir=/tmp/zebra \
      --config.image=../shared/data/dip/sr/zebra_GT.png
A real LR photo (output = 4x its size):
  python -m dip_jax.main --config=configs/sr.py --workdir=/tmp/lr \
      --config.image=small.png --config.corrupted=True
Expected (paper, x4): 29.90 dB on Set5, 27.00 on Set14 (Y, cropped).
Quick (built-in 128 px HR image, 32-ch net, output average (EMA 0.99),
x4 2000 steps / x8 1000; ~1 min on 2 cores):
  python -m dip_jax.main --config=configs/sr.py:quick --workdir=/tmp/sq
DIP's successors on this task: add `dip_tv`, `sgld` or `deepred` to the arg
(e.g. `:quick,sgld`); their settings: configs/presets/successors.py.
"""

from dip_jax import config_lib
successors = config_lib.preset("successors")


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False, variant="x4",
                              **successors.ARGS)
  if args.variant not in ("x4", "x8"):
    raise ValueError(f"unknown sr variant {args.variant!r}; known: x4, x8")
  c = config_lib.base_config()
  c.task = f"sr_{args.variant}"
  c.operator.name = "downsample"
  c.operator.downsample.kernel = "lanczos2"
  c.corruption.kind = "pil_lanczos"
  c.ema_decay = 0.0
  c.tv.lam = 0.002
  c.quick_hint = f"configs/sr.py:{args.variant},quick"
  if args.variant == "x4":
    c.operator.downsample.factor = 4
    c.input.reg_noise_std = 0.03
    c.num_steps = 2000
  else:
    c.operator.downsample.factor = 8
    c.input.reg_noise_std = 0.05
    c.num_steps = 4000
  if args.quick:
    config_lib.narrow_for_cpu(c)
    # Chosen on 128 px Kodak crops that no table reports (kodim06, 11, 14,
    # 16, 21; experiments/sr_quick_check.py, x4): the net's last output at
    # 1000 steps lost to bicubic on kodim06 (-0.08 dB, mean +0.36); the
    # output average (EMA 0.99) at 2000 steps won on all five (worst
    # +0.12, mean +0.67). x8 keeps 1000 steps (it beat bicubic by 1.8 dB).
    c.ema_decay = 0.99
    c.num_steps = 2000 if args.variant == "x4" else 1000
  successors.from_args(c, args)
  return c
