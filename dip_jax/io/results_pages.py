"""The results tables of README.md and docs/**/*.md, generated from records.

A page asks for a table by name with a pair of markers:

  <!-- results:step_speed -->
  (whatever is here is replaced)
  <!-- /results:step_speed -->

and this module fills the block with RENDERERS[name](records), the records
being results/<name>/*.json (records.py), plus a closing line that names
the command reproducing them and the device and versions they were measured
with. Numbers in the pages are thus never typed: a stale page is one whose
block differs from what its records give, and --check says which.

  python -m dip_jax.io.results_pages           # rewrite every block
  python -m dip_jax.io.results_pages --check   # exit 1 naming stale blocks
"""

import argparse
import glob
import os
import re
import statistics
import sys

from dip_jax.errors import InputError
from dip_jax.io import claims
from dip_jax.io import records

BLOCK = re.compile(r"(<!-- results:([\w-]+) -->)(.*?)(<!-- /results:\2 -->)",
                   re.S)
OPENING = re.compile(r"<!-- results:([\w-]+) -->")
COMMAND = "python -m dip_jax.io.results_pages"


def _f(v, digits: int = 2) -> str:
  """A number for a table; a dash for a missing (None) one."""
  return "—" if v is None else f"{v:.{digits}f}"


def _table(header: list[str], rows: list[list[str]], align: str) -> list:
  """Markdown table lines; `align` has one letter per column (l or r)."""
  rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
  return (["| " + " | ".join(header) + " |", rule]
          + ["| " + " | ".join(row) + " |" for row in rows])


def quickstart(recs: list[dict]) -> list[str]:
  """The README's first command: what its run reached. Its seconds stay in
  the record: the README names no host's speed (docs/performance.md has
  the step benchmark, with the machine's load beside it)."""
  rows = [[str(r.get("image")), str(r.get("method")), str(r.get("steps")),
           _f(r.get("psnr")), _f(r.get("psnr_corrupted")), _f(r.get("ssim"), 3)]
          for r in recs[-1]["rows"]]
  return _table(["image", "method", "steps", "PSNR (dB)",
                 "noisy input PSNR (dB)", "SSIM"], rows, "lllrrr")


def step_speed(recs: list[dict]) -> list[str]:
  """Seconds per fit step, dip_jax beside the PyTorch reference, with the
  matmul ceiling each size was measured against."""
  rows_in = recs[-1]["rows"]
  steps = [r for r in rows_in if r["framework"] != "matmul"]
  ceilings = {r["ceiling_for"]: r for r in rows_in
              if r["framework"] == "matmul"}
  torch_s = {r["size"]: r["s_per_step"] for r in steps
             if r["framework"] == "torch"}
  order = lambda r: (r["size"], r["framework"] != "torch",
                     r.get("conv_impl", ""))
  rows = []
  for r in sorted(steps, key=order):
    name = r["framework"] + (f" ({r['conv_impl']} conv)"
                             if r.get("conv_impl") not in (None, "cpu")
                             else "")
    vs = (_f(r["s_per_step"] / torch_s[r["size"]])
          if r["framework"] != "torch" and r["size"] in torch_s else "")
    frac = r.get("ceiling_fraction")
    rows.append([str(r["size"]), name, _f(r["s_per_step"], 4), vs,
                 _f(r.get("gflop_per_s"), 1),
                 _f(None if frac is None else 100 * frac, 0),
                 _f(r.get("device_peak_mib", r.get("peak_mib")), 0),
                 _f(r.get("compile_s"), 1), _f(r.get("other_cores"))])
  lines = _table(["size (px)", "framework", "s/step", "vs torch", "GFLOP/s",
                  "% of ceiling", "peak MiB", "compile s",
                  "other processes (cores)"], rows, "llrrrrrrr")
  if ceilings:
    lines += ["", "Ceiling: a jitted float32 matmul (n = "
              + ", ".join(sorted({str(c.get("size")) for c in
                                  ceilings.values()}))
              + "), measured before each size: " + ", ".join(
                  f"{_f(c['gflop_per_s'], 0)} GFLOP/s before {s} px"
                  for s, c in sorted(ceilings.items())) + "."]
  return lines


def _mean_sd(values: list) -> tuple[float | None, float | None]:
  vals = [float(v) for v in values if v is not None]
  if not vals:
    return None, None
  return (statistics.fmean(vals),
          statistics.stdev(vals) if len(vals) > 1 else None)


def _pm(values: list, digits: int = 2) -> str:
  mean, sd = _mean_sd(values)
  return _f(mean, digits) + ("" if sd is None else f" ± {_f(sd, digits)}")


def paired_methods(a: tuple[str, str], b: tuple[str, str]):
  """A renderer for a record of two methods over the same (image, seed)
  pairs; `a` and `b` are (the rows' method, its name in the page). It
  gives each method's mean ± sd over the runs, per image the means over
  seeds, and the paired difference a - b with its 95 % interval, in
  words."""
  return against(b, a)


def against(base: tuple[str, str], *others: tuple[str, str],
            also: tuple[tuple[str, str], ...] = ()):
  """A renderer for a record of several methods over the same (image, seed)
  pairs, each of `others` compared with `base`, paired; each is (the rows'
  method, its name in the page). The tables: each method's mean ± sd over
  the runs; per image the means over seeds and each other's difference
  from `base`; then, per other method, the paired difference with its 95 %
  interval, in words, and the same for each (a, b) of `also` (rows'
  methods among `others`: a − b). Each interval is its own pair's: with
  several methods, one of them may clear 0 by chance more often than 1 in
  20."""
  kb, name_b = base
  names = dict((*others, base))

  def render(recs: list[dict]) -> list[str]:
    rows = recs[-1]["rows"]
    # No seconds column: a sweep's jobs share the machine with whatever
    # else runs, so their seconds are no timing (benchmarks/ measure those).
    lines = _table(
        ["method", "runs", "PSNR (dB), mean ± sd", "SSIM, mean ± sd",
         "steps, mean"],
        [[name, str(len(mine)), _pm([r.get("psnr") for r in mine]),
          _pm([r.get("ssim") for r in mine], 3),
          _f(_mean_sd([r.get("steps") for r in mine])[0], 0)]
         for method, name in (*others, base)
         for mine in [[r for r in rows if r.get("method") == method]]],
        "lrrrr")
    psnr = {}  # (method, image) -> the PSNRs over seeds
    for r in rows:
      psnr.setdefault((r.get("method"), r.get("image")), []).append(
          r.get("psnr"))
    per_image = []
    for image in sorted({r.get("image") for r in rows}, key=str):
      means = [_mean_sd(psnr.get((m, image), []))[0]
               for m, _ in (*others, base)]
      mb = means[-1]
      per_image.append([str(image)] + [_f(m) for m in means] + [
          "—" if m is None or mb is None else claims.signed(m - mb)
          for m in means[:-1]])
    lines += ["", "PSNR (dB) per image, the mean over seeds:", ""]
    lines += _table(["image"] + [n for _, n in (*others, base)]
                    + [f"{n} − {name_b}" for _, n in others], per_image,
                    "l" + "r" * (2 * len(others) + 1))
    for ka, kc in [(ka, kb) for ka, _ in others] + list(also):
      c = claims.compare(claims.pairs(rows, ka, kc, "psnr"))
      lo, hi = c.ci
      name_a, name_c = names[ka], names[kc]
      lines += ["", f"Paired over the {c.n} (image, seed) pairs, PSNR "
                f"{name_a} − {name_c}: {claims.signed(c.diff_mean)} dB (sd "
                f"{c.diff_sd:.2f}, 95 % CI [{claims.signed(lo)}, "
                f"{claims.signed(hi)}]). "
                "Verdict: " + claims.verdict(c, name_a, name_c) + "."]
    return lines

  return render


# aSeqDIP against the default DIP (configs/sweeps/aseqdip_vs_dip.py; the
# rows' methods are the sweep's setting names).
aseqdip_denoise = paired_methods(("aseqdip", "aSeqDIP"), ("dip", "DIP"))
# DIP+DnCNN against CBM3D solved on each job's own noisy image
# (configs/sweeps/dncnn_vs_cbm3d.py, record_sweep.py --classical=CBM3D).
dncnn_cbm3d = paired_methods(("dip_dncnn", "DIP+DnCNN"), ("cbm3d", "CBM3D"))
# DIP's successors against the default DIP; one record per task, each
# rendered by this (configs/sweeps/successors_vs_dip.py).
successors = against(("dip", "DIP"), ("dip_tv", "DIP-TV"), ("sgld", "SGLD"),
                     ("deepred", "DeepRED"))
# The default DIP (the task's `:quick`) against the task's TV baseline, TV
# solved on each job's own observation (record_sweep.py --classical=TV);
# one record per task, each rendered by this, but SR's, where both are also
# against bicubic.
dip_vs_tv = paired_methods(("dip", "DIP"), ("tv", "TV"))
dip_vs_tv_sr = against(("bicubic", "bicubic"), ("dip", "DIP"), ("tv", "TV"),
                       also=(("dip", "tv"),))


def _median_or_never(values: list) -> float:
  """The median, a None (never reached) counting as infinite: "never" is
  the answer when at least half the images never got there."""
  return statistics.median(float("inf") if v is None else float(v)
                           for v in values)


def _seconds(v: float, digits: int = 1) -> str:
  return "never" if v == float("inf") else _f(v, digits)


def time_to_quality(recs: list[dict]) -> list[str]:
  """benchmarks/time_to_quality.py: per task and recipe, medians over the
  evaluation images of the best, final and answer PSNR, the seconds to
  the official recipe's best (never = infinite), and dip_jax's seconds
  over the official's seconds to its own best. Written and tested, but
  registered in RENDERERS only once a real record is committed (the check
  fails on a block without records)."""
  rows = [r for r in recs[-1]["rows"] if r["split"] == "eval"]
  if not rows:
    raise KeyError("no evaluation rows (split 'eval')")
  groups = {}
  for r in rows:
    groups.setdefault((r["task"], r["recipe"]), []).append(r)
  out = []
  for (task, recipe), mine in groups.items():
    med = lambda k: statistics.median(r[k] for r in mine)
    reach = [r["seconds_to_target"] for r in mine]
    ratio = ("" if recipe == "official" else
             _seconds(_median_or_never([r["ratio"] for r in mine]), 2))
    out.append([task, recipe, str(len(mine)), _f(med("best_psnr")),
                _f(med("final_psnr")), _f(med("answer_psnr")),
                _seconds(_median_or_never(reach)),
                f"{sum(v is not None for v in reach)} / {len(mine)}", ratio,
                _f(med("seconds_total"), 0)])
  return _table(["task", "recipe", "images", "best PSNR (dB)",
                 "final PSNR (dB)", "answer PSNR (dB)",
                 "s to official best", "reached", "s / official s",
                 "s in all"], out, "lllrrrrrrr")


# early_stopping_gap: the discrepancy stop's noise models (noise_level.py)
# as the record's columns name them, and their names in the page.
NOISE_MODELS = (("gaussian", "one level (Gaussian)"),
                ("signal_dependent", "a level per intensity"))


def _gap_cell(gaps: list) -> str:
  """'median / worst' of a list of gaps (dB)."""
  return (f"{_f(statistics.median(gaps))} / {_f(max(gaps))}" if gaps
          else "—")


def early_stopping_gap(recs: list[dict]) -> list[str]:
  """The discrepancy stop's gap to the oracle peak (dB) per noise, for
  each noise model, replayed on the same fits; then every fit. Only the
  latest record's discrepancy rows that carry both models' gaps."""
  rows = [r for r in recs[-1]["rows"] if r.get("detector") == "discrepancy"
          and all(f"gap_{m}" in r for m, _ in NOISE_MODELS)]
  tasks = list(dict.fromkeys(r["task"] for r in rows))
  summary = []
  for task in tasks:
    mine = [r for r in rows if r["task"] == task]
    cells = []
    for model, _ in NOISE_MODELS:
      fired = sum(1 for r in mine if r[f"detected_step_{model}"])
      cells += [_gap_cell([r[f"gap_{model}"] for r in mine]),
                f"{fired}/{len(mine)}"]
    fixed = [r["oracle_psnr"] - r["fixed_psnr"] for r in mine]
    summary.append([task, str(len(mine)), *cells, _f(statistics.median(fixed))])
  header = ["noise", "images"]
  for _, name in NOISE_MODELS:
    header += [f"{name}: gap median / worst (dB)", "fired"]
  lines = _table(header + [f"all {rows[0]['fixed_steps']} steps: median gap"
                           if rows else "all steps: median gap"],
                 summary, "lr" + "rr" * len(NOISE_MODELS) + "r")
  lines += ["", "Every fit (gap in dB; answer step; estimate / true mean "
            "noise variance):", ""]
  detail = []
  for r in rows:
    cells = [r["task"], str(r["image"]), f"{_f(r['oracle_psnr'])} / "
             f"{r['oracle_step']}"]
    for model, _ in NOISE_MODELS:
      step = (str(r[f"answer_step_{model}"]) if r[f"detected_step_{model}"]
              else "not fired")
      cells.append(f"{_f(r[f'gap_{model}'])} ({step}; "
                   f"{_f(r[f'noise_var_{model}'] / r['true_noise_var'])})")
    detail.append(cells)
  header = ["noise", "image", "oracle peak PSNR / step"]
  header += [name for _, name in NOISE_MODELS]
  lines += _table(header, detail, "lll" + "r" * len(NOISE_MODELS))
  return lines


# Table name -> renderer (records, oldest first -> Markdown lines).
RENDERERS = {"quickstart": quickstart, "step_speed": step_speed,
             "early_stopping_gap": early_stopping_gap,
             "aseqdip_denoise": aseqdip_denoise, "dncnn_cbm3d": dncnn_cbm3d,
             "successors_restore": successors, "successors_sr": successors,
             "dip_vs_tv_restore": dip_vs_tv, "dip_vs_tv_denoise": dip_vs_tv,
             "dip_vs_tv_sr": dip_vs_tv_sr, "dip_vs_tv_deblur": dip_vs_tv,
             "dip_vs_tv_jpeg": dip_vs_tv}


def provenance(name: str, recs: list[dict]) -> str:
  """The closing line: what reproduces the table, and what measured it."""
  rec = recs[-1]
  dev = rec.get("device", {})
  where = (f"CPU ({dev.get('cpu') or 'unknown model'}, {dev.get('cores')} "
           f"cores)" if dev.get("platform") == "cpu" else
           f"{dev.get('count')} x {dev.get('kind')} ({dev.get('platform')}; "
           f"host CPU {dev.get('cpu') or 'unknown'})")
  versions = ", ".join(f"{k} {v}" for k, v in sorted(
      rec.get("versions", {}).items()) if v is not None)
  return (f"*Reproduce: `{rec['command']}`, then `{COMMAND}`. Measured on "
          f"{where}; {versions}. From results/{name}/ (the latest of "
          f"{len(recs)} record{'s' * (len(recs) != 1)}).*")


def render_block(name: str, results_dir: str | None = None) -> str:
  """The block's text for table `name` from its records."""
  if name not in RENDERERS:
    raise InputError(f"no renderer for results block {name!r} (known: "
                     f"{', '.join(sorted(RENDERERS))})")
  recs = records.load(name, results_dir)
  if not recs:
    raise InputError(f"results block {name!r} has no record: no "
                     f"results/{name}/*.json")
  try:
    lines = RENDERERS[name](recs)
  except (KeyError, TypeError, ZeroDivisionError) as e:
    raise InputError(f"results/{name}/{recs[-1].get('run_id')}.json: not "
                     f"what the {name} table reads ({e!r})") from e
  return "\n".join(lines + ["", provenance(name, recs)]) + "\n"


def render_text(text: str, results_dir: str | None = None,
                where: str = "") -> tuple[str, list[str]]:
  """`text` with every results block re-rendered, and the names of the
  blocks whose content changed."""
  opened = OPENING.findall(text)
  closed = [m.group(2) for m in BLOCK.finditer(text)]
  if sorted(opened) != sorted(closed):
    unclosed = sorted(set(opened) - set(closed)) or opened
    raise InputError(f"{where}: results block {unclosed[0]!r} has no "
                     f"closing <!-- /results:{unclosed[0]} --> marker")
  changed = []

  def fill(m):
    try:
      # A blank line after the opening marker and before the closing one,
      # so the table is a Markdown block of its own.
      body = "\n\n" + render_block(m.group(2), results_dir) + "\n"
    except InputError as e:
      raise InputError(f"{where}: {e}") from e
    if body != m.group(3):
      changed.append(m.group(2))
    return m.group(1) + body + m.group(4)
  return BLOCK.sub(fill, text), changed


def pages(root: str) -> list[str]:
  """README.md and docs/**/*.md under `root` (those that exist)."""
  found = [os.path.join(root, "README.md")]
  found += sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"),
                            recursive=True))
  return [p for p in found if os.path.isfile(p)]


def update(root: str = records.ROOT, results_dir: str | None = None,
           check: bool = False) -> list[str]:
  """Re-renders every page's blocks (writing them unless `check`).

  Returns:
    "<page>: <block>" for each block that differed from its records.
  """
  stale = []
  for path in pages(root):
    with open(path) as f:
      text = f.read()
    rel = os.path.relpath(path, root)
    new, changed = render_text(text, results_dir, rel)
    stale += [f"{rel}: {name}" for name in changed]
    if changed and not check:
      with open(path, "w") as f:
        f.write(new)
  return stale


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--check", action="store_true",
                 help="change nothing; exit 1 naming every stale block")
  p.add_argument("--root", default=records.ROOT,
                 help="the repository whose pages are rendered")
  p.add_argument("--results", default=None,
                 help="the records' folder (default: ROOT/results)")
  args = p.parse_args(argv)
  results_dir = args.results or os.path.join(args.root, "results")
  try:
    stale = update(args.root, results_dir, args.check)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  for s in stale:
    print(f"{s}: {'differs from its records' if args.check else 'rewritten'}",
          file=sys.stderr if args.check else sys.stdout)
  return 1 if stale and args.check else 0


if __name__ == "__main__":
  sys.exit(main())
