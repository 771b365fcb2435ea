r"""Blind Gaussian denoising (the DIP paper, Sec. 3, "denoising").

Paper settings (denoising notebook, F16): sigma = 25, skip-5 net (5 levels of
128 channels, 4 skip channels, 32-channel uniform input x 0.1, reflection
padding, bilinear upsampling), Adam lr 0.01, 3000 steps, reg_noise_std 1/30,
output averaged with weight 0.99.

Run (full settings; meant for a GPU):
  python -m dip_jax.main --config=configs/denoise.py --workdir=/tmp/denoise \
      --config.image=../shared/data/dip/denoising/F16_GT.png
Expected: the paper reports 29.22 dB single run / 30.43 dB with the output
average over its 9-image set; README "Results" has what we measured on F16.
Runtime: a 256 px step costs ~0.5-2 s on a 2-core CPU (README "Speed").

Quick variant for a CPU (built-in 128 px image, 32-channel net, 2000 steps):
  python -m dip_jax.main --config=configs/denoise.py:quick --workdir=/tmp/dq
Expected: >= 5 dB above the noisy input (about +6 dB measured), in < 3 min on
2 cores, compile included.

Any key can be overridden: --config.corruption.sigma=50 --config.seed=1 ...
"""

from dip_jax import config_lib


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False)
  c = config_lib.base_config()
  c.task = "denoise"
  c.corruption.kind = "gaussian"
  c.corruption.sigma = 25.0
  c.tv.lam = 0.08
  c.quick_hint = "configs/denoise.py:quick"
  if args.quick:
    config_lib.narrow_for_cpu(c)
    c.num_steps = 2000
  return c
