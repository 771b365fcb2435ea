r"""Restoration from a fraction of the pixels (the DIP paper, Table 1, Fig. 7).

Default: barbara with 50 % of the pixels kept at random: skip-5 (128 ch,
4 skip ch), bilinear, 32-ch input, Adam lr 0.001, 11000 steps, reg_noise
0.03; the output has the image's channels (1 for barbara). The paper's table
gives 32.22 dB on Barbara.
`:sparse`: kate with 2 % kept (supmat Fig. 14): [16, 32, 64, 128, 128] no
skips, avg-pool downsampling, lr 0.01, 1000 steps, no reg_noise.

  python -m dip_jax.main --config=configs/restore.py --workdir=/tmp/barbara \
      --config.image=../shared/data/dip/restoration/barbara.png
Quick (built-in 128 px image, 32-ch net, lr 0.01, 1500 steps, ~1 min):
  python -m dip_jax.main --config=configs/restore.py:quick --workdir=/tmp/rq
Expected (quick): well above the masked input on the missing pixels
(tests/test_tasks.py asserts margins).
DIP's successors on this task: add `dip_tv`, `sgld` or `deepred` to the arg
(e.g. `:quick,sgld`); their settings: configs/presets/successors.py.
"""

from dip_jax import config_lib
successors = config_lib.preset("successors")


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False, variant="half",
                              **successors.ARGS)
  if args.variant not in ("half", "sparse"):
    raise ValueError(f"unknown restore variant {args.variant!r}; known: sparse")
  c = config_lib.base_config()
  c.task = f"restore_{args.variant}"
  c.corruption.kind = "none"
  c.mask.kind = "random"
  c.ema_decay = 0.0
  c.tv.lam = 0.01
  c.quick_hint = f"configs/restore.py:{args.variant},quick"
  if args.variant == "half":
    c.mask.kept_fraction = 0.5
    c.optim.learning_rate = 0.001
    c.input.reg_noise_std = 0.03
    c.num_steps = 11000
  else:
    c.mask.kept_fraction = 0.02
    c.net.channels_down = (16, 32, 64, 128, 128)
    c.net.channels_up = (16, 32, 64, 128, 128)
    c.net.channels_skip = (0,) * 5
    c.net.downsample = "avg"
    c.input.reg_noise_std = 0.0
    c.num_steps = 1000
  if args.quick:
    config_lib.narrow_for_cpu(c)
    c.optim.learning_rate = 0.01  # 0.001 needs the paper's 11000 steps
    c.num_steps = 1500 if args.variant == "half" else 1000
  successors.from_args(c, args)
  return c
