r"""A finished sweep's numbers as one record (results/<name>/, records.py).

Reads the jobs' summary.json files of a sweep run with `dip_jax.cli.sweep` (the
jobs are enumerated from the same sweep config, so a job that never ran or
failed is found, not skipped) and writes one record whose rows are

  {image, seed, method, psnr, ssim, steps, seconds, device}

one per job, `method` being the job's setting name. The record's command is
the sweep's command followed by this one, so it reproduces the numbers; its
config is the sweep config. A sweep with jobs not done is refused (their
count and the first few are named): rerun the sweep, then this.

  python experiments/record_sweep.py \
      --config=configs/sweeps/aseqdip_vs_dip.py --workdir=/tmp/aseq_sweep \
      --name=aseqdip_denoise [--data_dir=DIR] [--results=DIR]

--classical=CBM3D (or biharmonic, TV, bicubic; several joined by commas)
adds, per (image, seed), that classical baseline solved on the job's own
observation (experiments/classical.py), as rows of method "cbm3d" (the
kind in lower case): a DIP method against CBM3D, paired.

Run it from the folder the sweep ran in (a relative sweep.data_dir is
resolved there) and on the machine that ran it (the record names this
machine's device; each row also has the device its job reported).
"""

import argparse
import os
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax.cli import sweep  # pylint: disable=wrong-import-position
from dip_jax.cli import tables  # pylint: disable=wrong-import-position
from dip_jax.errors import InputError  # pylint: disable=wrong-import-position
from dip_jax.io import records  # pylint: disable=wrong-import-position
import classical  # pylint: disable=wrong-import-position

# The row keys taken from the sweep's table (tables.COLUMNS).
KEYS = ("psnr", "ssim", "steps", "seconds", "device")
_SHOWN = 5  # jobs named when some are not done


def load_sweep_config(spec: str, data_dir: str = ""):
  """The sweep config of `path[:arg]`, with `data_dir` when given."""
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise InputError(f"no sweep config file {path!r}")
  config = config_lib.load_config_file(path, arg or None)
  if "sweep" not in config:
    raise InputError(f"{path} has no `sweep` block: not a sweep config")
  if data_dir:
    config.sweep.data_dir = data_dir
  return config


def sweep_rows(config, workdir: str) -> list[dict]:
  """One record row per job of the sweep, from its summary.json.

  Args:
    config: the sweep config (its `sweep` block enumerates the jobs).
    workdir: the sweep's --workdir.

  Returns:
    Rows {image, seed, method, psnr, ssim, steps, seconds, device}; the
    numbers are None where a summary lacks them.

  Raises:
    InputError: when a job is not done (missing, failed or unreadable).
  """
  if not os.path.isdir(workdir):
    raise InputError(f"no sweep workdir {workdir!r}")
  table = tables.collect(workdir, sweep.enumerate_jobs(config))
  not_done = [r for r in table if r["status"] != "done"]
  if not_done:
    named = "; ".join(f"{r['setting']}/{r['image']}/seed{r['seed']} "
                      f"{r['status']}" + (f" ({r['error']})" if r["error"]
                                          else "")
                      for r in not_done[:_SHOWN])
    more = f" and {len(not_done) - _SHOWN} more" if len(not_done) > _SHOWN \
        else ""
    raise InputError(f"{len(table) - len(not_done)} of {len(table)} jobs "
                     f"done in {workdir}; not done: {named}{more} (rerun "
                     f"the sweep)")
  return [{"image": r["image"], "seed": r["seed"], "method": r["setting"],
           **{k: None if r[k] == "" else r[k] for k in KEYS}}
          for r in table]


def classical_rows(config, workdir: str,
                   kind: str) -> tuple[list[dict], dict]:
  """One row per (image, seed) of the sweep: `kind` (classical.py) solved
  on that job's observation (the first setting's job; every setting draws
  the same observation from the seed), method = kind in lower case; and
  the versions of the package that solved them ({package: version}; a
  score cached before classical.py kept versions adds none, and scores
  solved by two versions name both).

  Raises:
    InputError: when the baseline's package is not installed.
  """
  rows, seen, solved_by = [], set(), {}
  for job in sweep.enumerate_jobs(config):
    if (job.stem, job.seed) in seen:
      continue
    seen.add((job.stem, job.seed))
    c = classical.score(kind, sweep.job_config(config, job),
                        job.dir(workdir))
    if "error" in c:
      raise InputError(f"{kind}: {c['error']}")
    rows.append({"image": job.stem, "seed": job.seed,
                 "method": kind.lower(), "psnr": c["psnr"],
                 "ssim": c.get("ssim"), "steps": None,
                 "seconds": c["seconds"], "device": "cpu"})
    for package, version in c.get("versions", {}).items():
      solved_by.setdefault(package, set()).add(version)
  return rows, {p: " + ".join(sorted(v)) for p, v in solved_by.items()}


def commands(args) -> str:
  """The sweep's command, then this script's: together they redo the
  record."""
  extra = [f"--data_dir={args.data_dir}"] if args.data_dir else []
  run = ["python", "-m", "dip_jax.cli.sweep", f"--config={args.config}",
         f"--workdir={args.workdir}"]
  if args.data_dir:
    run.append(f"--config.sweep.data_dir={args.data_dir}")
  rec = ["python", "experiments/record_sweep.py", f"--config={args.config}",
         f"--workdir={args.workdir}", f"--name={args.name}"] + extra
  if args.classical:
    rec.append(f"--classical={args.classical}")
  return shlex.join(run) + " && " + shlex.join(rec)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--config", required=True,
                 help="the sweep config, path[:arg], as given to the sweep")
  p.add_argument("--workdir", required=True, help="the sweep's --workdir")
  p.add_argument("--name", required=True,
                 help="the record's name: the results table it feeds")
  p.add_argument("--data_dir", default="",
                 help="the sweep's --config.sweep.data_dir, if it set one")
  p.add_argument("--results", default=records.RESULTS_DIR,
                 help="where the record goes: RESULTS/<name>/<run-id>.json")
  p.add_argument("--classical", default="",
                 help="also solve these classical baselines (comma-"
                      f"separated, of {', '.join(classical.KINDS)}) on each "
                      "(image, seed)'s observation and add their rows")
  args = p.parse_args(argv)
  kinds = [k for k in args.classical.split(",") if k]
  unknown = [k for k in kinds if k not in classical.KINDS]
  if unknown:
    p.error(f"--classical: no baseline {unknown[0]!r} (known: "
            f"{', '.join(classical.KINDS)})")
  try:
    config = load_sweep_config(args.config, args.data_dir)
    rows, solved_by = sweep_rows(config, args.workdir), {}
    for kind in kinds:
      base, versions = classical_rows(config, args.workdir, kind)
      rows += base
      solved_by.update(versions)
    record = records.make(args.name, rows, config=config.to_dict(),
                          seeds=list(config.sweep.seeds),
                          command=commands(args), extra_versions=solved_by)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  path = records.write(record, args.results)
  print(f"record: {path} ({len(rows)} rows)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
