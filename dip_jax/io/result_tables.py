"""The tables the results blocks of the pages are filled with: one
renderer per table name, from that table's records (oldest first) to
Markdown lines. results_pages.py finds the blocks and writes them.

A renderer reads the latest record (or all of them) and shows what its rows
hold and nothing typed: means and spreads (`_pm`), paired comparisons with
their interval in words (`against`, through claims.py), medians.
"""

import statistics

from dip_jax.io import claims


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
# The deblurring recipe's tuning on Kodak crops no other table reports
# (configs/sweeps/tune_recipes.py:task=deblur): the recipe before and the
# :quick one, each against TV and against each other.
tune_deblur = against(("tv", "TV"), ("last1500", "last output, 1500 steps"),
                      ("quick", ":quick"), also=(("quick", "last1500"),))


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
  over the official's seconds to its own best; then how many answers
  reach the official best, the median over images of the answer minus
  the official best, and the median of the whole call's seconds over the
  official's seconds to its best. Only the latest record (the
  benchmark writes one per task)."""
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
    official = recipe == "official"
    ratio = ("" if official else
             _seconds(_median_or_never([r["ratio"] for r in mine]), 2))
    # What a user gets: the answer itself (the recipe's own stop)
    # against the official best, and the whole call over the official's
    # seconds to its best.
    answered = ("" if official else
                f"{sum(bool(r['answer_reaches_target']) for r in mine)} / "
                f"{len(mine)}")
    answer_ratio = "" if official else _f(med("answer_ratio"), 2)
    # Paired per image: the median of the differences, not the
    # difference of the medians.
    margin = ("" if official else "{:+.2f}".format(statistics.median(
        r["answer_psnr"] - r["target_psnr"] for r in mine)))
    out.append([task, recipe, str(len(mine)), _f(med("best_psnr")),
                _f(med("final_psnr")), _f(med("answer_psnr")),
                _seconds(_median_or_never(reach)),
                f"{sum(v is not None for v in reach)} / {len(mine)}", ratio,
                answered, margin, answer_ratio, _f(med("seconds_total"), 0)])
  return _table(["task", "recipe", "images", "best PSNR (dB)",
                 "final PSNR (dB)", "answer PSNR (dB)",
                 "s to official best", "reached", "s / official s",
                 "answer ≥ official best", "answer − official best (dB)",
                 "answer s / official s", "s in all"], out,
                "lllrrrrrrrrrr")


# early_stopping_gap: the discrepancy stop's noise models (noise_level.py)
# as the record's columns name them, and their names in the page.
NOISE_MODELS = (("gaussian", "one level (Gaussian)"),
                ("signal_dependent", "a level per intensity"))


def _gap_cell(gaps: list) -> str:
  """'median / worst' of a list of gaps (dB)."""
  return (f"{_f(statistics.median(gaps))} / {_f(max(gaps))}" if gaps
          else "—")


def _stopped(row: dict, model: str) -> bool:
  """Whether the model's stop fired within the run: records since the band
  stop say where it stopped (0: it did not); before, detection was the
  stop."""
  return bool(row.get(f"stop_step_{model}", row[f"detected_step_{model}"]))


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
      fired = sum(1 for r in mine if _stopped(r, model))
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
      if r[f"detected_step_{model}"] and not _stopped(r, model):
        step += ", no stop"  # the band entered, the run ended inside it
      cells.append(f"{_f(r[f'gap_{model}'])} ({step}; "
                   f"{_f(r[f'noise_var_{model}'] / r['true_noise_var'])})")
    detail.append(cells)
  header = ["noise", "image", "oracle peak PSNR / step"]
  header += [name for _, name in NOISE_MODELS]
  lines += _table(header, detail, "lll" + "r" * len(NOISE_MODELS))
  return lines


# examples/<script>.py -> the scores its row shows, in order, as (key,
# label); the watcher shows its first and last frame instead.
EXAMPLE_SCORES = {
    "denoise": (("psnr_noisy", "noisy"), ("psnr_dip", "DIP")),
    "inpaint": (("psnr_masked", "masked"), ("psnr_tv", "TV"),
                ("psnr_dip", "DIP")),
    "super_resolution": (("psnr_bicubic", "bicubic"), ("psnr_dip", "DIP")),
    "custom_operator": (("psnr_naive", "naive"), ("psnr_tv", "TV"),
                        ("psnr_dip", "DIP")),
}
EXAMPLE_SIZES = (("default", "defaults"), ("tiny", "`--tiny`"))


def _example_cell(r: dict) -> str:
  size = f"{r['px']} px, {r['steps']} steps"
  if r["script"] not in EXAMPLE_SCORES:  # the watcher
    return (f"{_f(r['first_frame_psnr'])} dB at step {r['first_frame_step']}"
            f" to {_f(r['last_frame_psnr'])} dB at step "
            f"{r['last_frame_step']} ({size})")
  scores = ", ".join(f"{label} {_f(r[key])}"
                     for key, label in EXAMPLE_SCORES[r["script"]])
  y = "Y-PSNR; " if r["script"] == "super_resolution" else ""
  return f"{scores} dB ({y}{size})"


def examples(recs: list[dict]) -> list[str]:
  """What each script of examples/ printed, one column per size run."""
  rows = recs[-1]["rows"]
  sizes = [(s, name) for s, name in EXAMPLE_SIZES
           if any(r["size"] == s for r in rows)]
  scripts = list(dict.fromkeys(r["script"] for r in rows))
  got = {(r["script"], r["size"]): r for r in rows}
  out = [[f"`{sc}.py`"] + [_example_cell(got[sc, s]) if (sc, s) in got
                            else "not run" for s, _ in sizes]
         for sc in scripts]
  return _table(["script"] + [name for _, name in sizes], out,
                "l" * (1 + len(sizes)))


# Table name -> renderer (records, oldest first -> Markdown lines).
RENDERERS = {"quickstart": quickstart, "step_speed": step_speed,
             "early_stopping_gap": early_stopping_gap,
             "aseqdip_denoise": aseqdip_denoise, "dncnn_cbm3d": dncnn_cbm3d,
             "successors_restore": successors, "successors_sr": successors,
             "successors_denoise": successors,
             "dip_vs_tv_restore": dip_vs_tv, "dip_vs_tv_denoise": dip_vs_tv,
             "dip_vs_tv_sr": dip_vs_tv_sr, "dip_vs_tv_deblur": dip_vs_tv,
             "dip_vs_tv_jpeg": dip_vs_tv, "examples": examples,
             "tune_deblur": tune_deblur,
             "time_to_quality_denoise": time_to_quality,
             "time_to_quality_sr": time_to_quality}
