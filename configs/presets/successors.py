"""DIP's successors as settings of a task's config.

One place says how DIP-TV, Bayesian DIP (SGLD) and DeepRED are set up on a
task, so the task configs' `:dip_tv` / `:sgld` / `:deepred` args and the
paper tables' method columns run the same thing:

  c = config_lib.task_config("sr.py", "quick")
  successors.apply(c, "deepred", quick=True)
  # or, as a sweep setting: hyper.named("quick_deepred",
  #                                     successors.overrides(c, "deepred", True))

What each method's settings are, and where they come from:
  dip_tv   Liu et al. 2019: lambda x smoothed TV of f(z) per pixel beside
           the data term. lambda = 0.375 x the task's TV-baseline lambda
           (`tv.lam`): 0.03 on denoising, where it was chosen; the ratio
           carries the task's own balance of data term and TV over to the
           others (SR 0.00075, 50 % inpainting 0.00375) -- a rule of thumb,
           not tuned per task.
  sgld     Cheng et al. 2019, their code: kernel noise 2 x lr, 20000 steps,
           burn-in 7000, a sample every 50. Quick (CPU): the task's own step
           count, burn-in 35 % of it (their 7000 / 20000), a sample every
           10, noise 0.5 x lr (2 x lr lost ~3 dB on the narrow test net).
  deepred  Mataev et al. 2019, their notebooks: denoising (and here every
           task without a downsampling operator) mu = beta = 0.5, sigma_f =
           3; super-resolution mu = 0.06, beta = 0.05, sigma_f = 5 and, at
           full settings, their lr 0.001 (quick keeps the task's lr: its
           short runs need the larger steps).
  dip_dncnn  denoising only (`applies`): DIP's answer averaged with a
           pretrained DnCNN's, half and half (methods/dip_dncnn.py; the
           weights come from SCICO's wheel, see dip_jax/solvers/dncnn.py).
Early stopping, where the task config has it on (denoising), stays on for
DIP-TV and DIP+DnCNN (DIP's answer is then the detected iterate) and is off
for SGLD and DeepRED, whose answers are their own.
"""

import ml_collections

from dip_jax.cli import hyper

METHODS = ("dip", "dip_tv", "sgld", "deepred", "dip_dncnn")
LABELS = {"dip": "DIP", "dip_tv": "DIP-TV", "sgld": "SGLD",
          "deepred": "DeepRED", "dip_dncnn": "DIP+DnCNN"}

DIP_TV_PER_TV_LAM = 0.375  # 0.03 / denoising's tv.lam 0.08
SGLD_FULL = {"num_steps": 20000, "sgld.burn_in": 7000,
             "sgld.sample_every": 50, "sgld.noise_scale": 2.0}
SGLD_BURN_IN_FRACTION = 0.35  # their 7000 of 20000
SGLD_QUICK = {"sgld.sample_every": 10, "sgld.noise_scale": 0.5}
DEEPRED_DENOISE = {"deepred.mu": 0.5, "deepred.beta": 0.5,
                   "deepred.sigma_f": 3.0}
DEEPRED_SR = {"deepred.mu": 0.06, "deepred.beta": 0.05,
              "deepred.sigma_f": 5.0}


def applies(config: ml_collections.ConfigDict, method: str) -> bool:
  """Whether `method` runs on the task of `config`: DIP+DnCNN on Gaussian
  denoising only (the identity operator; DnCNN was trained on Gaussian
  noise, not JPEG's artefacts); every other method on any task."""
  return method != "dip_dncnn" or (config.operator.name == "identity"
                                   and config.corruption.kind == "gaussian")


def overrides(config: ml_collections.ConfigDict, method: str,
              quick: bool) -> dict:
  """Dotted config keys -> values that turn `config` (a task's plain DIP
  config, quick or full) into `method` on the same task."""
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
  if not applies(config, method):
    raise ValueError(f"{method} runs on Gaussian denoising only, not on "
                     f"operator {config.operator.name!r} with "
                     f"{config.corruption.kind!r} corruption")
  if method == "dip":
    return {}
  if method == "dip_dncnn":
    return {"method": "dip_dncnn"}
  if method == "dip_tv":
    return {"regularizer.tv": round(DIP_TV_PER_TV_LAM * config.tv.lam, 8)}
  # SGLD's posterior mean and DeepRED's x are their own answers, run for
  # all the steps (their papers stop at a fixed count): early stopping,
  # where the task has it on (denoising), is off for them.
  no_stop = ({"early_stopping.kind": "none"}
             if config.early_stopping.kind != "none" else {})
  if method == "sgld":
    if not quick:
      return {"method": "sgld", **SGLD_FULL, **no_stop}
    burn_in = int(SGLD_BURN_IN_FRACTION * config.num_steps)
    return {"method": "sgld", "sgld.burn_in": burn_in, **SGLD_QUICK,
            **no_stop}
  sr = config.operator.name == "downsample"
  out = {"method": "deepred", **(DEEPRED_SR if sr else DEEPRED_DENOISE),
         **no_stop}
  if sr and not quick:
    out["optim.learning_rate"] = 0.001
  return out


def apply(config: ml_collections.ConfigDict, method: str,
          quick: bool) -> ml_collections.ConfigDict:
  """`config` turned into `method` in place (see `overrides`)."""
  for key, value in overrides(config, method, quick).items():
    hyper.set_key(config, key, value)
  return config


def from_args(config: ml_collections.ConfigDict, args) -> None:
  """Applies the one successor a task config's parsed arg names (bools
  `dip_tv`, `sgld`, `deepred`, `dip_dncnn`: see `ARGS`), refusing two at
  once."""
  chosen = [m for m in METHODS[1:] if args.get(m)]
  if len(chosen) > 1:
    raise ValueError(f"pick one of {', '.join(METHODS[1:])}; got {chosen}")
  if chosen:
    apply(config, chosen[0], bool(args.get("quick")))


# The task configs' arg defaults: config_lib.parse_arg(arg, quick=False,
# **successors.ARGS).
ARGS = {m: False for m in METHODS[1:]}
