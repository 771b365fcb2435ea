r"""The DIP paper's tables, rerun with dip_jax, beside the paper and classics.

Each table is one sweep (configs/paper/<table>.py) run through the sweep
runner, so a rerun after a crash resumes: finished images are skipped and
an unfinished one continues from its checkpoint. Then one markdown table per
paper table: per image and mean, the paper's number, dip_jax's single run
(the net's final output), its output average (EMA 0.99), the restarts
averaged (where the table has restarts), where the task stops early
(denoising) the detector's pick as the run's answer, the TV solution on the
same operator, the classical baseline and the DIP seconds per image and
device.
With --methods, DIP's successors (DIP-TV, SGLD, DeepRED, and on denoising
DIP+DnCNN; settings in configs/presets/successors.py) run as more settings of the
same sweep and add one column each (the method's own answer) and a row of
seconds per image. DIP+DnCNN needs DnCNN's weights: pip install --no-deps
scico==0.0.7 (dip_jax/solvers/dncnn.py).

Tables (metric):
  denoise_cset9    sigma 25, the CBM3D 9-image set (PSNR; classical CBM3D)
  sr_x4_set5       x4 on Set5   (Y PSNR, border cropped; classical bicubic)
  sr_x4_set14      x4 on Set14
  sr_x8_set5       x8 on Set5
  sr_x8_set14      x8 on Set14
  restore_barbara  50 % of the pixels kept (PSNR; classical scikit-image's
                   biharmonic inpainting)
Classical baselines need the optional extra: pip install -e '.[paper]'
(bm3d, scikit-image); without it that column says so.

  python experiments/paper_tables.py --quick          # CPU, < 30 min
  python experiments/paper_tables.py --quick --methods=all \
      --tables=sr_x4_set5,restore_barbara                 # + successors
  python experiments/paper_tables.py --quick --precision=bfloat16  # bf16
  python experiments/paper_tables.py --data_dir=../shared/data \
      --out=workdirs/paper_tables [--tables=sr_x4_set5,denoise_cset9]  # GPU
--quick: 128 x 128 centre crops (SR: of the HR image), the :quick nets and
step counts; the same layout, marked quick -- not comparable to the paper.
--precision=bfloat16 runs the nets in bfloat16 (config.precision) in job
folders of their own beside float32's, and writes OUT/<table>_bf16.md.
Outputs: OUT/<table>.md, OUT/tables.md (all), the sweeps in OUT/<table>/;
with --record [DIR], the tables' numbers as DIR/paper_tables/<run-id>.json
(default DIR: results/; dip_jax/io/records.py).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax.io import records  # pylint: disable=wrong-import-position
from dip_jax.io import results  # pylint: disable=wrong-import-position
from dip_jax.solvers import dncnn  # pylint: disable=wrong-import-position
successors = config_lib.preset("successors")
from dip_jax.cli import sweep  # pylint: disable=wrong-import-position
import classical as classical_lib  # pylint: disable=wrong-import-position

# The paper's numbers (means over the set unless per image), from its text
# and Table 1 (see ../shared/paper-notes.md); None = not reported there.
PAPER = {
    "denoise_cset9": {"single": 29.22, "ema": 30.43, "restarts": 31.00,
                      "classical": 31.42,
                      "note": "paper: means over its 9-image set; NLM 30.26"},
    "sr_x4_set5": {"single": 29.90, "classical": 28.43,
                   "note": "paper: SRResNet 32.10"},
    "sr_x4_set14": {"single": 27.00, "classical": 26.05,
                    "note": "paper: SRResNet 28.53"},
    "sr_x8_set5": {"note": "paper: x8 numbers only in its supplement "
                           "(not retrieved)"},
    "sr_x8_set14": {"note": "paper: x8 numbers only in its supplement "
                            "(not retrieved)"},
    "restore_barbara": {"per_image": {"barbara": 32.22},
                        "note": "paper Table 1; Papyan et al. (CSC) 28.14 -- "
                                "our classical column is biharmonic"},
}
# table: (title, data folder under --data_dir, metric key, classical name)
TABLES = {
    "denoise_cset9": ("Denoising, sigma = 25, CBM3D colour set (PSNR)",
                      "denoise9", "psnr", "CBM3D"),
    "sr_x4_set5": ("Super-resolution x4, Set5 (Y PSNR, border 4 cropped)",
                   "set5", "psnr_y", "bicubic"),
    "sr_x4_set14": ("Super-resolution x4, Set14 (Y PSNR, border 4 cropped)",
                    "set14", "psnr_y", "bicubic"),
    "sr_x8_set5": ("Super-resolution x8, Set5 (Y PSNR, border 8 cropped)",
                   "set5", "psnr_y", "bicubic"),
    "sr_x8_set14": ("Super-resolution x8, Set14 (Y PSNR, border 8 cropped)",
                    "set14", "psnr_y", "bicubic"),
    "restore_barbara": ("Restoration from 50 % of the pixels, Barbara (PSNR)",
                        os.path.join("dip", "restoration"), "psnr",
                        "biharmonic"),
}


def load_table_config(table: str, arg: str | None, data_dir: str):
  path = os.path.join(ROOT, "configs", "paper", f"{table}.py")
  config = config_lib.load_config_file(path, arg)
  config.sweep.data_dir = os.path.join(data_dir, TABLES[table][1])
  return config, path


def run_sweep(table, path, arg, config, workdir) -> int:
  """The table's sweep, in a subprocess (the same command a user runs)."""
  cmd = [sys.executable, "-m", "dip_jax.cli.sweep",
         f"--config={path}" + (f":{arg}" if arg else ""),
         f"--workdir={workdir}",
         f"--config.sweep.data_dir={config.sweep.data_dir}"]
  print(f"== {table}: {' '.join(cmd[1:])}", flush=True)
  # JAX's persistent compilation cache: tables of the same shapes (Set5 and
  # Set14 at one factor, quick crops) and reruns reuse compiled programs.
  env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": os.environ.get(
      "JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(workdir),
                                                ".jax_cache"))}
  proc = subprocess.Popen(cmd, cwd=ROOT, env=env)

  def stop(signum, frame):
    # A timeout's SIGTERM reaches this process only: pass it on, so the
    # sweep stops at its next chunk (a resumable checkpoint) rather than
    # running on as an orphan.
    del frame
    proc.send_signal(signum)
    try:
      proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
      proc.kill()
    sys.exit(128 + signum)

  previous = signal.signal(signal.SIGTERM, stop)
  try:
    return proc.wait()
  finally:
    signal.signal(signal.SIGTERM, previous)


CLASSICAL_FILE = classical_lib.CACHE_FILE


def classical(table: str, job_config, job_dir: str) -> dict:
  """The classical baseline's score for one job (classical.py), cached in
  its folder."""
  return classical_lib.score(TABLES[table][3], job_config, job_dir)


def row_of(table, config, job, workdir) -> dict:
  """One image's plain-DIP numbers from its job folder (None where
  missing)."""
  metric = TABLES[table][2]
  job_dir = job.dir(workdir)
  status, s = read_job(job_dir)
  row = {"image": job.stem, "status": status}
  if s is None:
    return row
  v = s.variants or results.Variants()
  first = lambda scores: _finite(scores[0].get(metric)) if scores else None
  row.update(single=first(v.final_output), ema=first(v.output_average),
             restarts=_pick(v.restarts_average, metric),
             # The detector's pick (averaged over the restarts): the run's
             # answer where the task stops early (denoising).
             stopped=(_finite(getattr(s, metric)) if s.early_stopping
                      not in (None, "none") else None),
             tv=_pick(s.tv, metric),
             seconds=s.seconds, device=s.device or "", steps=s.steps)
  if TABLES[table][3] == "bicubic":
    row["classical"] = _pick(s.baselines.get("bicubic"), metric)
  else:
    c = classical(table, sweep.job_config(config, job), job_dir)
    row["classical"] = c.get("psnr")
    row["classical_error"] = c.get("error")
  return row


def table_rows(table, config, workdir, methods) -> list[dict]:
  """Per image: plain DIP's row, with `methods`: {successor: (score or
  status, seconds)}. The sweep's first setting is plain DIP; a successor's
  setting is named after it (`<dip's name>_<method>`)."""
  jobs = sweep.enumerate_jobs(config)
  base = jobs[0].setting
  rows = {}
  for job in jobs:
    if job.setting == base:
      rows[job.stem] = {**row_of(table, config, job, workdir), "methods": {}}
  for job in jobs:
    if job.setting != base:
      method = job.setting[len(base) + 1:]
      rows[job.stem]["methods"][method] = method_answer(table, job, workdir)
  return list(rows.values())


def read_job(job_dir: str) -> tuple:
  """(status, summary): ("done", the Summary), or failed (checked first,
  as the sweep's own tables do), missing or unreadable with None."""
  if os.path.exists(os.path.join(job_dir, sweep.ERROR_FILE)):
    return "failed", None
  try:
    return "done", results.read_dir(job_dir)
  except FileNotFoundError:
    return "missing", None
  except (OSError, ValueError):
    return "unreadable", None


def method_answer(table, job, workdir) -> tuple:
  """A successor's (score, seconds) for one image: its own answer, the
  reconstruction its summary scores (DIP-TV's output average or, where the
  task stops early, its detected iterate; SGLD's posterior mean; DeepRED's
  x), averaged over the restarts where the table has restarts; (status,
  None) when not done."""
  status, s = read_job(job.dir(workdir))
  if s is None:
    return status, None
  return _finite(getattr(s, TABLES[table][2])), s.seconds


def _pick(scores, metric):
  return _finite(scores.get(metric)) if scores else None


def _finite(v):
  """A score for the table: None (shown as a dash) unless finite."""
  return v if v is not None and np.isfinite(v) else None


def _f(v, digits=2):
  return "—" if v is None else f"{v:.{digits}f}"


def markdown(table, rows, quick, restarts, command,
             methods=()) -> str:
  """The table: per image and mean, plain DIP's columns, one column per
  successor in `methods` (each row's `methods` dict: name -> (score,
  seconds)), TV, the classical baseline, seconds and device; with
  successors, a last row of seconds per image for each method."""
  title, _, _, classical_name = TABLES[table]
  paper = PAPER[table]
  done = [r for r in rows if r["status"] == "done"]
  # The detector's column only where the runs stopped early.
  has_stop = any(r.get("stopped") is not None for r in done)
  dip_cols = ("single", "ema", "restarts") + (("stopped",) if has_stop
                                                else ())
  cols = dip_cols + ("tv", "classical")
  has_restarts = restarts > 1
  labels = [successors.LABELS[m] for m in methods]
  head = (["image", "paper DIP", "dip_jax single run", "+ output average",
           f"+ {restarts} restarts averaged" if restarts > 1
           else "restarts averaged"]
          + (["+ early stopping (no oracle)"] if has_stop else []) + labels
          + ["TV", classical_name, "DIP s/image", "device"])
  width = len(head) - 2  # value columns after image
  out = [f"## {title}{' — QUICK (128 px crops, :quick nets)' if quick else ''}",
         "", f"`{command}`", "",
         "| " + " | ".join(head) + " |", "|---" + "|---:" * width + "|---|"]
  dip_cells = lambda get: [get(c) if c != "restarts" or has_restarts else "—"
                           for c in cols]
  # DIP's columns, then the successors', then TV and the classical one.
  n = len(dip_cols)
  cells = lambda dip, succ: dip[:n] + succ + dip[n:]
  for r in rows:
    succ = [_f(_score(r["methods"][m])) for m in methods]
    if r["status"] != "done":
      out.append(f"| {r['image']} | — | "
                 + " | ".join(cells(["—"] * len(cols), succ))
                 + f" | — | {r['status']} |")
      continue
    p = paper.get("per_image", {}).get(r["image"])
    out.append(f"| {r['image']} | {_f(p)} | "
               + " | ".join(cells(dip_cells(lambda c: _f(r[c])), succ))
               + f" | {_f(r['seconds'], 1)} | {r['device']} |")
  mean = lambda c: (float(np.mean([r[c] for r in done]))
                    if done and all(r.get(c) is not None for r in done)
                    else None)
  # A successor's mean only over all images, each of them done.
  method_mean = lambda m, i: (
      float(np.mean([r["methods"][m][i] for r in rows]))
      if rows and all(_score(r["methods"][m]) is not None for r in rows)
      else None)
  paper_mean = paper.get("single")
  if paper_mean is None and paper.get("per_image"):
    paper_mean = float(np.mean(list(paper["per_image"].values())))
  out.append(f"| **mean ({len(done)}/{len(rows)})** | {_f(paper_mean)} | "
             + " | ".join(cells(dip_cells(lambda c: _f(mean(c))),
                                [_f(method_mean(m, 0)) for m in methods]))
             + f" | {_f(mean('seconds'), 1)} | |")
  if methods:
    out.append("| *s/image* | | " + " | ".join(cells(
        [""] * len(cols), [_f(method_mean(m, 1), 1) for m in methods]))
        + f" | {_f(mean('seconds'), 1)} | |")
  if any(k in paper for k in ("single", "ema", "restarts", "classical")):
    out.append("| *paper* | | " + " | ".join(cells(
        [_f(paper.get(c)) for c in ("single", "ema", "restarts")]
        + [""] * (n - 3) + ["", _f(paper.get("classical"))],
        [""] * len(methods)))
        + " | | |")
  notes = [paper["note"]]
  if has_stop:
    notes.append("early stopping: the answer the task config's detector "
                 "(denoising: the discrepancy stop) picks while the run "
                 "goes the table's fixed steps, averaged over the restarts")
  if methods:
    what = {"dip_tv": ("DIP-TV's detected iterate" if has_stop
                       else "DIP-TV's output average"),
            "sgld": "SGLD's posterior mean", "deepred": "DeepRED's x",
            "dip_dncnn": "half DIP's " + ("detected iterate" if has_stop
                                          else "output average")
                         + ", half DnCNN(y)"}
    notes.append(
        f"{', '.join(labels)}: each method's own answer ("
        + ", ".join(what[m] for m in methods)
        + (", averaged over the restarts" if has_restarts else "")
        + "), settings in configs/presets/successors.py")
  errors = {r.get("classical_error") for r in done} - {None}
  notes += sorted(errors)
  if quick:
    notes.append("quick settings: centre crops and narrow nets, so these "
                 "numbers are not comparable to the paper's")
  out += ["", "; ".join(notes) + ".", ""]
  return "\n".join(out)


def _score(answer):
  """The score of a successor's (score or status, seconds), or None."""
  return answer[0] if isinstance(answer[0], float) else None


def rows_for_record(table, config, rows) -> list[dict]:
  """A table's rows as record rows (dip_jax/io/records.py): per image, plain
  DIP's numbers (method "dip"), then one row per successor (its score)."""
  base = {"table": table, "metric": TABLES[table][2],
          "seed": int(getattr(config, "seed", 0))}
  out = []
  for r in rows:
    dip = {k: v for k, v in r.items() if k != "methods"}
    out.append({**base, **dip, "method": "dip"})
    for method, (score, seconds) in r["methods"].items():
      done = isinstance(score, float)
      out.append({**base, "image": r["image"], "method": method,
                  "status": "done" if done else score,
                  "score": score if done else None, "seconds": seconds})
  return out


def host() -> str:
  """The machine in words: CPU model and cores (the tables' device column
  says which JAX backend ran the fits)."""
  model = ""
  try:
    with open("/proc/cpuinfo") as f:
      model = next((l.split(":", 1)[1].strip() for l in f
                    if l.startswith("model name")), "")
  except OSError:
    pass
  return f"{model or 'a CPU'} with {os.cpu_count()} cores"


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                              formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("--data_dir", default=os.path.join(ROOT, "..", "shared",
                                                    "data"))
  p.add_argument("--out", default=os.path.join(ROOT, "experiments", "out",
                                               "paper_tables"))
  p.add_argument("--quick", action="store_true",
                 help="128 px crops, :quick nets and steps (CPU)")
  p.add_argument("--tables", default=",".join(TABLES),
                 help="comma-separated subset of: " + ", ".join(TABLES))
  p.add_argument("--restarts", type=int, default=0,
                 help="override every table's restart count (0 = paper's)")
  p.add_argument("--methods", default="",
                 help="DIP's successors to run beside plain DIP, comma-"
                      "separated: " + ", ".join(successors.METHODS[1:])
                      + ", or all")
  p.add_argument("--precision", default="float32",
                 choices=config_lib.PRECISIONS,
                 help="the nets' compute dtype (config.precision); bfloat16 "
                      "runs keep their own job folders and write "
                      "<table>_bf16.md")
  p.add_argument("--no_run", action="store_true",
                 help="only (re)write the tables from the sweeps' files")
  records.add_flag(p)
  args = p.parse_args()
  tables = [t.strip() for t in args.tables.split(",") if t.strip()]
  unknown = sorted(set(tables) - set(TABLES))
  if unknown:
    p.error(f"unknown tables {unknown}; known: {', '.join(TABLES)}")
  if not os.path.isdir(args.data_dir):
    p.error(f"--data_dir {args.data_dir} is not a directory")
  methods = (list(successors.METHODS[1:]) if args.methods.strip() == "all"
             else [m.strip() for m in args.methods.split(",") if m.strip()])
  wrong = sorted(set(methods) - set(successors.METHODS[1:]))
  if wrong:
    p.error(f"unknown --methods {wrong}; known: "
            f"{', '.join(successors.METHODS[1:])}, all")
  methods = list(dict.fromkeys(methods))
  if "dip_dncnn" in methods and not dncnn.available():
    # Its weights are an optional install: --methods=all goes on without
    # that column, asking for it by name is an error before anything runs.
    if args.methods.strip() != "all":
      p.error(f"--methods=dip_dncnn: {dncnn.INSTALL_HINT}")
    print(f"DIP+DnCNN: no DnCNN weights ({dncnn.INSTALL_HINT}); no column",
          flush=True)
    methods.remove("dip_dncnn")
  arg = ",".join(filter(None, [
      "quick" if args.quick else "",
      f"restarts={args.restarts}" if args.restarts else "",
      "methods=" + "+".join(["dip"] + methods) if methods else "",
      f"precision={args.precision}" if args.precision != "float32" else ""
  ])) or None
  suffix = "" if args.precision == "float32" else "_bf16"
  os.makedirs(args.out, exist_ok=True)
  texts, t0, failures, record_rows = [], time.perf_counter(), 0, []
  for table in tables:
    config, path = load_table_config(table, arg, args.data_dir)
    skipped = [m for m in methods if not successors.applies(config, m)]
    if skipped:
      print(f"{table}: {', '.join(skipped)} does not apply to this task "
            f"(Gaussian denoising only); no column", flush=True)
    table_methods = [m for m in methods if m not in skipped]
    workdir = os.path.join(args.out, table)
    if not args.no_run:
      failures += run_sweep(table, path, arg, config, workdir) != 0
    rows = table_rows(table, config, workdir, table_methods)
    record_rows += rows_for_record(table, config, rows)
    command = (f"python experiments/paper_tables.py --tables={table}"
               + (" --quick" if args.quick else "")
               + (f" --restarts={args.restarts}" if args.restarts else "")
               + (f" --methods={','.join(table_methods)}"
                  if table_methods else "")
               + (f" --precision={args.precision}" if suffix else ""))
    text = markdown(table, rows, args.quick, config.num_restarts, command,
                    table_methods)
    with open(os.path.join(args.out, f"{table}{suffix}.md"), "w") as f:
      f.write(text)
    texts.append(text)
    print(text, flush=True)
  total = time.perf_counter() - t0
  timing = ("rebuilt from the sweeps' files (--no_run: no fits this call)"
            if args.no_run else
            f"{total / 60:.1f} min for this call (resumed work is not "
            f"recounted)")
  header = (f"# DIP paper tables{' (quick)' if args.quick else ''}"
            f"{', bfloat16 compute' if suffix else ''}\n\n"
            f"{len(tables)} tables, {timing}, on {host()}.\n\n")
  with open(os.path.join(args.out, f"tables{suffix}.md"), "w") as f:
    f.write(header + "\n".join(texts))
  print(f"wrote {os.path.join(args.out, f'tables{suffix}.md')} in "
        f"{total:.0f} s",
        flush=True)
  records.record(args.record, "paper_tables", record_rows,
                 config={k: v for k, v in vars(args).items()
                         if k != "record"},
                 seeds=sorted({r["seed"] for r in record_rows}))
  sys.exit(1 if failures else 0)


if __name__ == "__main__":
  main()
