r"""aSeqDIP against the default DIP: denoising on images not used for tuning.

The task is configs/denoise.py:quick (sigma 25, 32-channel net, 2000 steps)
on the central 128 x 128 crop of each of the 9 images of the CBM3D colour
set, seeds 0, 1, 2, in two settings:

  dip      the task as it is: DIP with the output average and the task's
           early stop (the discrepancy principle)
  aseqdip  what configs/aseqdip.py:task=denoise,quick changes in that task
           (method=aseqdip, its `aseqdip` block every=2 lam=1, no input
           noise, no early stop), read from that file, so the two stay one

The TV baseline is off (tv.enabled=False): it is not compared here.

Run (from the repository root; 9 images x 2 settings x 3 seeds = 54 jobs of
about 1-3 min each on a 2-core CPU):
  python -m dip_jax.cli.sweep --config=configs/sweeps/aseqdip_vs_dip.py \
      --workdir=/tmp/aseq_sweep [--config.sweep.data_dir=DIR]
then the record and the page (experiments/record_sweep.py):
  python experiments/record_sweep.py \
      --config=configs/sweeps/aseqdip_vs_dip.py --workdir=/tmp/aseq_sweep \
      --name=aseqdip_denoise
  python -m dip_jax.io.results_pages     # the table in docs/methods.md
Resume after an interruption: run the sweep command again.
"""

from dip_jax import config_lib
from dip_jax.cli import hyper
from dip_jax.cli import sweep

# Keys the aseqdip setting takes from configs/aseqdip.py; the rest of that
# config is the task's own (checked in `_aseqdip_overrides`).
_ASEQDIP_KEYS = ("method", "aseqdip.every", "aseqdip.lam",
                 "input.reg_noise_std", "early_stopping.kind")
_ASEQDIP_ARG = "task=denoise,quick"


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def _aseqdip_overrides(task, aseq) -> dict:
  """The aseqdip setting: `_ASEQDIP_KEYS` of configs/aseqdip.py. Refuses
  (ValueError) when that file changes another key of the task, so the
  setting cannot silently drift from what `configs/aseqdip.py` runs."""
  a, t = _flatten(aseq.to_dict()), _flatten(task.to_dict())
  drift = sorted(k for k in set(a) | set(t)
                 if k not in _ASEQDIP_KEYS and k != "quick_hint"
                 and not k.startswith("aseqdip.") and a.get(k) != t.get(k))
  if drift:
    raise ValueError(f"configs/aseqdip.py changes {drift} of the task too; "
                     f"add them to _ASEQDIP_KEYS")
  return {k: a[k] for k in _ASEQDIP_KEYS}


def get_config(arg=None):
  del arg
  c = config_lib.task_config("denoise.py", "quick")
  aseq = config_lib.task_config("aseqdip.py", _ASEQDIP_ARG)
  overrides = _aseqdip_overrides(c, aseq)
  # The block must exist in the base config for the setting to set its
  # keys; DIP reads no `aseqdip` key, so it changes nothing there.
  c.aseqdip = aseq.aseqdip
  c.center_crop = 128
  c.tv.enabled = False
  c.sweep = sweep.sweep_block(
      images=("*.png",),
      data_dir="../shared/data/denoise9",
      settings=(hyper.named("dip"), hyper.named("aseqdip", overrides)),
      seeds=(0, 1, 2))
  return c
