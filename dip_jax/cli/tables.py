"""A sweep's results tables: one row per job from the files the jobs left,
written as results.csv (every job) and results.md (per setting: per-image
means over seeds, the mean over images, and the failed jobs with why).

A job's folder says how it ended: `summary.json` (read through
`results.Summary`) when it finished, `error.txt` (one line: the error's type
and message) when its last try failed, neither when it never ran.
"""

import csv
import io
import math
import os

from dip_jax.io import results

ERROR_FILE = "error.txt"  # in a job's directory while its last try failed
COLUMNS = ("setting", "image", "seed", "psnr", "ssim", "corrupted_psnr",
           "bicubic_psnr", "tv_psnr", "steps", "seconds", "device", "status",
           "path", "error")


def row_of(summary: results.Summary) -> dict:
  """The numeric columns of a finished job ("" where not measured)."""
  base = lambda name: summary.baselines.get(name, results.Scores()).psnr
  values = {"psnr": summary.psnr, "ssim": summary.ssim,
            "corrupted_psnr": base("corrupted"),
            "bicubic_psnr": base("bicubic"),
            "tv_psnr": summary.tv.psnr if summary.tv else None,
            "steps": summary.steps, "seconds": summary.seconds,
            "device": summary.device}
  return {k: "" if v is None or _nonfinite(v) else v
          for k, v in values.items()}


def collect(workdir: str, jobs) -> list[dict]:
  """One results row per job, from the files the jobs left."""
  rows = []
  for job in jobs:
    job_dir = job.dir(workdir)
    error_path = os.path.join(job_dir, ERROR_FILE)
    row = dict.fromkeys(COLUMNS, "") | dict(
        setting=job.setting, image=job.stem, seed=job.seed, path=job.image,
        status="missing")  # no trace: its process never got to it
    try:
      if os.path.exists(error_path):  # checked first: a summary.json beside
        with open(error_path, encoding="utf-8") as f:  # it is another
          row.update(status="failed", error=f.read().strip())  # config's run
      elif os.path.exists(os.path.join(job_dir, "summary.json")):
        row.update(row_of(results.read_dir(job_dir)), status="done")
    except (OSError, ValueError) as e:
      row.update(status="unreadable", error=f"{type(e).__name__}: {e}")
    rows.append(row)
  return rows


def results_markdown(rows) -> str:
  """Per setting: per-image means over seeds, then the mean over images."""
  done = sum(r["status"] == "done" for r in rows)
  out = [f"# Sweep results\n\n{done} of {len(rows)} jobs done.\n"]
  for setting in dict.fromkeys(r["setting"] for r in rows):
    mine = [r for r in rows if r["setting"] == setting]
    base = "bicubic" if any(r["bicubic_psnr"] != "" for r in mine) \
        else "corrupted"
    cols = ("psnr", "ssim", "tv_psnr", f"{base}_psnr", "seconds")
    digits = (2, 3, 2, 2, 1)
    out += [f"## {setting}\n",
            f"| image | PSNR | SSIM | TV PSNR | {base} PSNR | seconds | "
            f"seeds done |", "|---" * 7 + "|"]
    means = []
    for image in dict.fromkeys(r["image"] for r in mine):
      ok = [r for r in mine if r["image"] == image and r["status"] == "done"]
      m = [_mean(r[c] for r in ok) for c in cols]
      means.append(m)  # NaN where nothing finished: _mean skips it
      total = sum(r["image"] == image for r in mine)
      out.append(f"| {image} | " + " | ".join(map(fmt, m, digits))
                 + f" | {len(ok)}/{total} |")
    mean = [_mean(m[i] for m in means) for i in range(len(cols))]
    done = sum(r["status"] == "done" for r in mine)
    out.append("| **mean** | " + " | ".join(map(fmt, mean, digits))
               + f" | {done}/{len(mine)} jobs |")
    failed = [f"- {r['status']}: {r['image']} seed {r['seed']}: {r['error']}"
              for r in mine if r["status"] in ("failed", "unreadable")]
    missing = [r for r in mine if r["status"] == "missing"]
    if missing:
      failed.append(f"- not run: {len(missing)} job(s) (rerun the sweep)")
    out += ([""] + failed if failed else []) + [""]
  return "\n".join(out)


def write_results(workdir: str, rows) -> None:
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  write_atomic(os.path.join(workdir, "results.csv"), text.getvalue())
  write_atomic(os.path.join(workdir, "results.md"), results_markdown(rows))


def write_atomic(path: str, text: str) -> None:
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)


def _nonfinite(v) -> bool:
  return isinstance(v, float) and not math.isfinite(v)


def _mean(values) -> float:
  vals = [float(v) for v in values if v != "" and v is not None]
  vals = [v for v in vals if math.isfinite(v)]
  return sum(vals) / len(vals) if vals else math.nan


def fmt(v, digits: int = 2) -> str:
  if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
    return "n/a"
  return f"{v:.{digits}f}"

