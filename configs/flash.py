r"""Flash / no-flash reconstruction (the DIP paper, "Flash/No Flash" figure).

The net input z is the flash photo (detail, wrong light) and the target the
no-flash photo (right light, noisy): the fit keeps the no-flash colours and
takes detail from the flash image's structure. Paper settings: skip-5 (128
ch, 4 skip ch), nearest upsampling at the two finest levels and bilinear at
the other three, Adam lr 0.1, 600 steps, no reg_noise. The original notes
that a run can get stuck reddish; rerun with another seed if so.

  python -m dip_jax.main --config=configs/flash.py --workdir=/tmp/cave \
      --config.image=../shared/data/dip/flash_no_flash/cave01_01_noflash.jpg \
      --config.corrupted=True \
      --config.input.image=../shared/data/dip/flash_no_flash/cave01_00_flash.jpg
Built-in: the sample with sigma-25 noise as the no-flash image and a
re-lit, noise-free copy as the flash image (scored against the clean sample).
Quick (128 px, 32-ch net, 600 steps, < 1 min on 2 cores):
  python -m dip_jax.main --config=configs/flash.py:quick --workdir=/tmp/fq
"""

from dip_jax import config_lib


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False)
  c = config_lib.base_config()
  c.task = "flash"
  c.input.kind = "image"
  c.input.channels = 3
  c.input.reg_noise_std = 0.0
  c.net.upsample_per_level = ("nearest", "nearest", "bilinear", "bilinear",
                              "bilinear")
  c.optim.learning_rate = 0.1
  c.corruption.kind = "gaussian"
  c.corruption.sigma = 25.0
  c.ema_decay = 0.0
  c.num_steps = 600
  c.tv.lam = 0.08
  c.quick_hint = "configs/flash.py:quick"
  if args.quick:
    config_lib.narrow_for_cpu(c)
  return c
