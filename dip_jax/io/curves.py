"""curves.png: a fit's loss and PSNR curves, with the oracle peak and the
early-stopping detector's step (and its answer's, with a lag) marked,
written beside every CLI run.

history.npz holds per-step arrays, T or T x R (restarts): `loss`,
`psnr_observed` (PSNR of A f(z) to y, when y is an image), `psnr` /
`psnr_ema` / `psnr_ensemble` / `psnr_answer` (SGLD's posterior mean,
DeepRED's x) (to the clean image, when known). One line per
restart for the per-restart curves, thin; the answer's curve (EMA or the
restarts' average) thick.
"""

import os

import numpy as np

# label, history key, drawn thick (the answer the run stands for)
_PSNR_CURVES = (("output", "psnr", False), ("EMA of outputs", "psnr_ema", True),
                ("restarts' average", "psnr_ensemble", True),
                ("method's answer", "psnr_answer", True))


def _steps(a):
  return np.arange(1, len(a) + 1)


def _per_restart(a):
  a = np.asarray(a, np.float64)
  return a.reshape(len(a), -1)


def write_curves(path: str, history: dict, summary: dict) -> bool:
  """Draws the curves of `history` to `path` atomically; False (nothing
  written) when there is no per-step history or no matplotlib."""
  if not history or "loss" not in history:
    return False
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  except ImportError:
    return False
  has_psnr = any(k in history for _, k, _ in _PSNR_CURVES) or (
      "psnr_observed" in history)
  fig, axes = plt.subplots(1, 2 if has_psnr else 1, squeeze=False,
                           figsize=(11 if has_psnr else 5.5, 3.6))
  loss_ax = axes[0, 0]
  for r, curve in enumerate(_per_restart(history["loss"]).T):
    loss_ax.plot(_steps(curve), curve, lw=0.8,
                 label="loss" if r == 0 else None, color="tab:blue")
  if np.all(np.asarray(history["loss"]) > 0):  # maximizing gives < 0
    loss_ax.set_yscale("log")
  loss_ax.set_xlabel("step")
  loss_ax.set_title("objective")
  marks = marks_of(summary)
  if has_psnr:
    ax = axes[0, 1]
    if "psnr_observed" in history:
      for r, curve in enumerate(_per_restart(history["psnr_observed"]).T):
        ax.plot(_steps(curve), curve, lw=0.8, color="tab:gray",
                label="A f(z) to y" if r == 0 else None)
    for (label, key, thick), color in zip(_PSNR_CURVES,
                                          ("tab:orange", "tab:red",
                                           "tab:purple", "tab:green")):
      if key in history:
        for r, curve in enumerate(_per_restart(history[key]).T):
          ax.plot(_steps(curve), curve, lw=1.6 if thick else 0.7,
                  color=color, label=f"{label} to clean" if r == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("PSNR")
    draw_marks(ax, marks)
    ax.legend(fontsize=7, loc="lower right")
  draw_marks(loss_ax, marks)
  loss_ax.legend(fontsize=7, loc="upper right")
  fig.suptitle(f"{summary.get('task', '')} {summary.get('method', '')}: "
               f"{summary.get('steps', len(history['loss']))} steps",
               fontsize=9)
  _save(fig, path)
  return True


def _save(fig, path):
  """Writes the figure to `path` atomically (a cut write leaves no half
  PNG) and frees it."""
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig.tight_layout()
  tmp = f"{path}.tmp-{os.getpid()}.png"
  fig.savefig(tmp, dpi=90)
  plt.close(fig)
  os.replace(tmp, path)


def marks_of(summary: dict) -> list:
  """(step, label, style) of the oracle peak, the detected stop(s) and,
  with a lag, the step(s) whose answer was kept."""
  out = []
  if summary.get("oracle_peak_step"):
    out.append((summary["oracle_peak_step"],
                f"oracle peak {summary.get('oracle_peak_psnr', 0):.2f} dB",
                "--"))
  # With a lag the answer is a later step's (the output average centred on
  # the detected one).
  for key, label, style in (("detected_step", "detected stop", ":"),
                            ("answer_step", "answer's step", "-.")):
    steps = summary.get(key)
    for i, step in enumerate(np.atleast_1d(steps) if steps is not None
                             else ()):
      if step and step > 0:
        out.append((int(step), label if i == 0 else None, style))
  return out


def draw_marks(ax, marks):
  for step, label, style in marks:
    ax.axvline(step, color="black", ls=style, lw=0.9, label=label)


def write_time_to_quality(path: str, record: dict) -> bool:
  """A time_to_quality record's curves (benchmarks/time_to_quality.py):
  one panel per task, the answer's PSNR against wall-clock seconds, one
  line per image and recipe (a colour per recipe), the official best as a
  dotted line per image. False (nothing written) without matplotlib or
  curves."""
  rows = [r for r in record.get("rows", []) if r.get("curve_seconds")]
  if not rows:
    return False
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.ticker  # pylint: disable=import-outside-toplevel
    from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  except ImportError:
    return False
  tasks = list(dict.fromkeys(r["task"] for r in rows))
  recipes = list(dict.fromkeys(r["recipe"] for r in rows))
  colors = dict(zip(recipes, ("tab:gray", "tab:red", "tab:blue",
                              "tab:green", "tab:purple")))
  fig, axes = plt.subplots(1, len(tasks), squeeze=False,
                           figsize=(4.2 * len(tasks), 3.4))
  for ax, task in zip(axes[0], tasks):
    labelled = set()
    for r in (r for r in rows if r["task"] == task):
      ax.plot(r["curve_seconds"], r["curve_psnr"], lw=1.0,
              color=colors[r["recipe"]],
              label=None if r["recipe"] in labelled else r["recipe"])
      labelled.add(r["recipe"])
      if r["recipe"] == "official" and r.get("target_psnr") is not None:
        ax.axhline(r["target_psnr"], color="black", ls=":", lw=0.7)
    # Seconds span minutes to hours: a log axis keeps dip_jax's early
    # part readable beside the official recipe's long tail.
    ax.set_xscale("log")
    # Labels on the decades only: minor ones overlap on a short span.
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("wall-clock seconds (compilation included)")
    ax.set_ylabel("PSNR of the answer (dB)")
    ax.set_title(task, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
  _save(fig, path)
  return True
