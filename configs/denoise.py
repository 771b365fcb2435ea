r"""Blind Gaussian denoising (the DIP paper, Sec. 3, "denoising").

Paper settings (denoising notebook, F16): sigma = 25, skip-5 net (5 levels of
128 channels, 4 skip channels, 32-channel uniform input x 0.1, reflection
padding, bilinear upsampling), Adam lr 0.01, 3000 steps, reg_noise_std 1/30,
output averaged with weight 0.99.

Run (full settings; meant for a GPU):
  python -m dip_jax.main --config=configs/denoise.py --workdir=/tmp/denoise \
      --config.image=../shared/data/dip/denoising/F16_GT.png
Expected: the paper reports 29.22 dB single run / 30.43 dB with the output
average, over its 9-image set. Runtime: see README "Results" for measured
numbers; on a 2-core CPU a 256 px step costs ~2 s, so 3000 steps take ~1.5 h.

Quick variant for a CPU (built-in 128 px image, narrow net):
  python -m dip_jax.main --config=configs/denoise.py:quick --workdir=/tmp/dq
Expected: >= 5 dB above the noisy input (measured in README), in < 3 minutes
on 2 cores, compile included.

Any key can be overridden: --config.corruption.sigma=50 --config.seed=1 ...
"""

from dip_jax import config_lib


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False)
  c = config_lib.base_config()
  c.task = "denoise"
  c.corruption.kind = "gaussian"
  c.corruption.sigma = 25.0
  c.quick_hint = "configs/denoise.py:quick"
  if args.quick:
    # A narrow skip net on the 128 px built-in image: ~16x fewer FLOPs per
    # step than skip-5. A user's own image keeps its size.
    c.sample_size = 128
    c.net.channels_down = (32,) * 5
    c.net.channels_up = (32,) * 5
    c.net.channels_skip = (4,) * 5
    c.num_steps = 2000
    c.log_every = 100
    c.snapshot_every = 500
  return c
