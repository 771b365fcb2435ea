r"""Blind Gaussian denoising (the DIP paper, Sec. 3, "denoising").

Paper settings (denoising notebook, F16): sigma = 25, skip-5 net (5 levels of
128 channels, 4 skip channels, 32-channel uniform input x 0.1, reflection
padding, bilinear upsampling), Adam lr 0.01, 3000 steps, reg_noise_std 1/30,
output averaged with weight 0.99.

Run (full settings; meant for a GPU):
  python -m dip_jax.main --config=configs/denoise.py --workdir=/tmp/denoise \
      --config.image=../shared/data/dip/denoising/F16_GT.png
Expected: the paper reports 29.22 dB single run / 30.43 dB with the output
average over its 9-image set. Seconds per step: docs/performance.md.

Quick variant for a CPU (built-in 128 px image, 32-channel net, 2000 steps):
  python -m dip_jax.main --config=configs/denoise.py:quick --workdir=/tmp/dq
Expected: >= 5 dB above the noisy input (about +6 dB measured), in < 3 min on
2 cores, compile included.

DIP's successors on the same task (add to the arg, e.g. `:quick,sgld`;
settings and their sources in configs/presets/successors.py):
  dip_tv   DIP-TV (Liu et al. 2019): + 0.03 x smoothed TV of f(z) per pixel
  sgld     Bayesian DIP (Cheng et al. 2019): Langevin noise on the kernels,
           the posterior mean after the burn-in as the answer, and
           posterior_std.png; full: their 20000 steps, burn-in 7000, a
           sample every 50, noise 2 x lr; quick: 2000 steps, burn-in 700,
           a sample every 10, noise 0.5 x lr (2 x lr lost 3 dB on the
           narrow test net)
  deepred  DeepRED (Mataev et al. 2019): ADMM with non-local means, their
           denoising settings mu = beta = 0.5, sigma_f = 3
  dip_dncnn  DIP's answer averaged half and half with a pretrained DnCNN's
           (Zhang et al. 2017; SCICO's weights: tools/dncnn_weights.sh)
Each against the default DIP (or CBM3D), paired over images and seeds:
docs/methods.md.

Early stopping is on (the only task here that overfits within its steps):
the discrepancy stop with a band -- the fit to y, MSE(Ax, y), comes down
through the noise variance estimated from y; from the steps where it is
within 5 % of it, answer with the output average centred on their middle
(99 steps after it). How far it lands from
the oracle peak, per noise model: docs/early_stopping.md.
--config.early_stopping.kind=none runs the paper's fixed step count.

Signal-dependent noise (dip_jax/data/corruptions.py, poisson_noise): shot noise
with a peak of N photons at white, y = Poisson(N x) / N, so Var[y] = x / N:
  --config.corruption.kind=poisson --config.corruption.peak=30
and that plus Gaussian read noise of std sigma on the 0-255 scale (the
Poisson-Gaussian model of raw camera data):
  --config.corruption.kind=poisson_gaussian --config.corruption.peak=30 \
      --config.corruption.sigma=5
Both are drawn from the seed and clipped to [0, 1] like the gaussian kind
(--config.corruption.clip=False keeps the overshoot). For them the
discrepancy stop needs the noise level of each intensity, not one sigma:
--config.early_stopping.noise_model (docs/early_stopping.md).
A noisy photo as a camera saves it -- any of these kinds, then JPEG at a
quality of 1-95 (the codec takes part of the fine-scale noise away and
leaves blocks):
  --config.corruption.save_jpeg=75

Any key can be overridden: --config.corruption.sigma=50 --config.seed=1 ...
"""

from dip_jax import config_lib
successors = config_lib.preset("successors")


def get_config(arg=None):
  args = config_lib.parse_arg(arg, quick=False, **successors.ARGS)
  c = config_lib.base_config()
  c.task = "denoise"
  c.corruption.kind = "gaussian"
  c.corruption.sigma = 25.0
  c.tv.lam = 0.08
  # The discrepancy principle: detect at the first step where MSE(Ax, y)
  # <= 1.0 x the noise variance estimated from y, answer = the output
  # average centred there (lag -1: the EMA's mean age). Chosen over ES-WMV
  # (gated or not) on Kodak crops outside the CBM3D set (stopping.py).
  c.early_stopping.kind = "discrepancy"
  c.early_stopping.fit_gate = 1.0
  c.early_stopping.lag = -1
  # The noise level per intensity (shot noise), not one sigma: on Gaussian
  # noise it is about the one-sigma estimate, on shot noise the one sigma
  # read 0.67-1.21 x the mean variance (Kodak tuning crops, noise_level.py)
  # and the stop then came late or never.
  c.early_stopping.noise_model = "signal_dependent"
  # Answer from the middle of the steps whose fit is within 5 % of that
  # level, not at its single crossing: on 45 fits of the Kodak tuning
  # crops (9 noise kinds x 5) the worst per-kind median gap to the peak
  # went from 0.28 to 0.14 dB (bands 0.04-0.06: 0.12-0.18; stopping.py).
  c.early_stopping.band = 0.05
  c.quick_hint = "configs/denoise.py:quick"
  if args.quick:
    config_lib.narrow_for_cpu(c)
    c.num_steps = 2000
  successors.from_args(c, args)
  return c
