"""Helpers the experiment scripts share: arguments, configs, fits, output.

Every experiment writes PNG figures and a `summary.md` into `--out`
(default experiments/out/<name>), has a `--quick` mode sized for a 2-core
CPU, and prints its summary at the end; one that hands its numbers to
`write_record` also writes, with --record, a JSON record of them
(results/<name>/, dip_jax/io/records.py). The fits go through dip_jax's own
engine (`methods.dip.build_fit` + `driver.run_fit`), so what is measured here is
what `python -m dip_jax.main` runs.
"""

import argparse
import dataclasses
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import jax  # pylint: disable=wrong-import-position
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import matplotlib  # pylint: disable=wrong-import-position

matplotlib.use("Agg")  # figures go to files; no display is needed
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position,g-import-not-at-top
import numpy as np  # pylint: disable=wrong-import-position

from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax import problem as problem_lib  # pylint: disable=wrong-import-position
from dip_jax.fit import driver  # pylint: disable=wrong-import-position
from dip_jax.io import records  # pylint: disable=wrong-import-position
from dip_jax.io import report  # pylint: disable=wrong-import-position
from dip_jax.methods import dip as dip_method  # pylint: disable=wrong-import-position

DATA_DIR = os.path.join(ROOT, "..", "shared", "data")


def parser(name: str, doc: str) -> argparse.ArgumentParser:
  """An argument parser with the flags every experiment has."""
  p = argparse.ArgumentParser(description=doc.splitlines()[0],
                              formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("--out", default=os.path.join(ROOT, "experiments", "out",
                                               name),
                 help="folder for the figures and summary.md")
  p.add_argument("--quick", action="store_true",
                 help="small images and nets: minutes on a 2-core CPU")
  p.add_argument("--seed", type=int, default=0)
  records.add_flag(p)
  return p


def write_record(args, name: str, rows: list[dict], config=None,
                 seeds=None) -> str | None:
  """With --record, writes the run's numbers as results/<name>/<run-id>.json
  (dip_jax/io/records.py); without it, nothing.

  Args:
    args: the parsed arguments (`parser`'s flags among them).
    name: the results table the rows feed.
    rows: one flat dict per (image, seed, method, ...) with the numbers.
    config: the settings (a config_dict.ConfigDict or a dict); default: the
      arguments.
    seeds: default [args.seed].

  Returns:
    The path written, or None.
  """
  if config is not None and hasattr(config, "to_dict"):
    config = config.to_dict()
  settings = {k: v for k, v in vars(args).items() if k != "record"}
  return records.record(args.record, name, rows,
                        config=config if config is not None else settings,
                        seeds=[args.seed] if seeds is None else seeds)


def load_config(file: str, arg: str | None = None):
  """`get_config(arg)` of configs/<file>, as `--config=configs/file:arg`."""
  return config_lib.task_config(file, arg)


def array_problem(observed: np.ndarray, clean: np.ndarray | None = None,
                  mask: np.ndarray | None = None) -> problem_lib.Problem:
  """A Problem straight from arrays (identity operator), no files needed."""
  observed = np.asarray(observed, np.float32)
  return problem_lib.Problem(observed=observed, clean=clean, mask=mask,
                             out_shape=observed.shape)


def fit_targets(config, targets: dict, log=print) -> dict:
  """Fits one net setup to several same-shaped targets; per-step MSE.

  The FitSpec, the init keys and the input z are built once (from the first
  target) and shared, so every target starts from the same f_theta0(z), and
  the compiled chunk runs them all: only `observed` changes between fits.
  With config.num_restarts = R, each target is fitted R times at once (R
  seeds: different inits and inputs).

  Args:
    config: a dip_jax config (num_steps, log_every, net, input, optim...).
    targets: name -> H x W x C float array in [0, 1].
    log: where progress lines go.

  Returns:
    name -> {"loss": steps x R array of the MSE to the target before each
    step, "output": R x H x W x C final f(z), "seconds": fit time}.
  """
  names = list(targets)
  first = array_problem(targets[names[0]])
  fit = dip_method.build_fit(config, first)
  results = {}
  for name in names:
    observed = jnp.asarray(targets[name], jnp.float32)[None]
    target_fit = dataclasses.replace(
        fit, data={**fit.data, "observed": observed})
    state, history, timing = driver.run_fit(
        target_fit, int(config.num_steps), driver.Hooks(progress=False))
    seconds = timing["fit_seconds"]
    loss = history["loss"].reshape(config.num_steps, -1)
    out = driver.outputs(target_fit, state).reshape(-1, *first.out_shape)
    results[name] = {"loss": loss, "output": out, "seconds": seconds}
    log(f"  {name}: final MSE {np.mean(loss[-1]):.5f} "
        f"({seconds:.1f} s, {config.num_steps} steps x "
        f"{loss.shape[1]} seeds)")
  return results


def markdown_table(header: list[str], rows: list[list]) -> str:
  lines = ["| " + " | ".join(header) + " |",
           "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)


def image_grid(path: str, panels: list[tuple[str, np.ndarray]], cols: int,
               title: str = "", panel_inches: float = 2.6,
               dpi: int = 100) -> None:
  """Saves labelled images (H x W x {1,3} in [0, 1]) as a grid figure."""
  rows = -(-len(panels) // cols)
  # Panels keep the images' aspect (plus room for a two-line label), so
  # wide images leave no white bands.
  h, w = np.asarray(panels[0][1]).shape[:2]
  panel_h = panel_inches * h / w + 0.6
  fig, axes = plt.subplots(rows, cols, squeeze=False,
                           figsize=(panel_inches * cols,
                                    panel_h * rows + (0.4 if title else 0)))
  for ax in axes.flat:
    ax.axis("off")
  for ax, (label, img) in zip(axes.flat, panels):
    img = np.clip(np.asarray(img), 0, 1)
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img,
              cmap="gray" if img.shape[-1] == 1 else None,
              interpolation="nearest")
    ax.set_title(label, fontsize=9)
  if title:
    fig.suptitle(title, fontsize=11)
  fig.tight_layout()
  save_figure(fig, path, dpi)


def save_figure(fig, path: str, dpi: int = 100) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=dpi)
  plt.close(fig)


def write_summary(out: str, text: str) -> None:
  """Writes OUT/summary.md and prints it (the experiment's last output)."""
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(text)
  print(text)


def device_line() -> str:
  return f"Device: {report.jax_device()}, jax {jax.__version__}."
