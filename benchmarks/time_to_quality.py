"""Time to quality: dip_jax's recipes against the official DIP recipe.

For denoising (sigma 25), super-resolution x4 and restoration from 50 % of
the pixels, on 128 px center crops, one process fits each image with

  official  the PyTorch reference net (benchmarks/torch_skip.py, the paper's
            skip-5 with 128 channels) and the official notebooks' settings
            (OFFICIAL below, from ../shared/paper-notes.md): Adam, their lr,
            input noise, fixed step count, backtracking where the notebook
            has it; its answer is the output average (EMA 0.99, the code's
            exp_weight) for denoising, the last output for SR and
            restoration (those notebooks average nothing; the other curve's
            best is kept in the record as `official_other_best_psnr`);
  quick     dip_jax.reconstruct with the task's `:quick` config (its own
            early stop, no oracle); `--dip_recipes quick,default` adds the
            task's default config,

logging the PSNR of each recipe's answer every --log_every steps against
wall-clock seconds since its call began (dip_jax's compilation included).
Both fit the same observation (dip_jax's own synthesis: seeded noise, PIL's
Lanczos LR image, the seeded mask); SR fits through dip_jax's Lanczos-2
downsampler, in torch as a fixed conv with the same taps.

Per task and image it reports each recipe's best, final and answer PSNR,
the seconds it first reaches the official best ("never" when it does not)
and dip_jax's seconds over the official's seconds to its own best; and
what a user gets: whether the recipe's answer (its own stop)
reaches the official best and the recipe's whole call (compile included)
over the official's seconds to its best (`answer_ratio`).

  python benchmarks/time_to_quality.py --data_dir=/work/shared/data \
      [--split eval|tune] [--images 3] [--record]   # hours on a CPU
  python benchmarks/time_to_quality.py --tiny        # a minute (tests)
  python benchmarks/time_to_quality.py --plot RECORD.json --png out.png

--record writes results/time_to_quality_<task>/<run-id>.json for each task
(one row per image and recipe, curves included); docs/performance.md tells
how its tables and plots are made.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]  # torch_skip; dip_jax uninstalled
import dip_jax  # pylint: disable=g-import-not-at-top,wrong-import-position
from dip_jax import config_lib  # pylint: disable=wrong-import-position
from dip_jax import data as data_lib  # pylint: disable=wrong-import-position
from dip_jax import metrics  # pylint: disable=wrong-import-position
from dip_jax.io import curves  # pylint: disable=wrong-import-position
from dip_jax.io import records  # pylint: disable=wrong-import-position
from dip_jax.nets import resampling  # pylint: disable=wrong-import-position

# The official notebooks' settings (paper-notes.md section 2): lr, steps,
# input-noise std, which curve is the answer, backtracking period (0: none).
OFFICIAL = {
    "denoise": {"lr": 0.01, "steps": 3000, "reg_noise_std": 1 / 30,
                "answer": "ema", "backtrack_every": 100},
    "sr": {"lr": 0.01, "steps": 2000, "reg_noise_std": 0.03,
           "answer": "output", "backtrack_every": 0},
    "restore": {"lr": 0.001, "steps": 11000, "reg_noise_std": 0.03,
                "answer": "output", "backtrack_every": 50},
}
OFFICIAL_NET = {"in_ch": 32, "down": (128,) * 5, "up": (128,) * 5,
                "skip": (4,) * 5}
# --tiny: a 3-level, 8-channel net on both sides (the tests' tiny net,
# tests/tiny_config.py): a run is mostly dip_jax's compilations.
TINY_NET = {"in_ch": 8, "down": (8,) * 3, "up": (8,) * 3, "skip": (2,) * 3}
TINY_DIP = {"net.channels_down": (8,) * 3, "net.channels_up": (8,) * 3,
            "net.channels_skip": (2,) * 3, "input.channels": 8}
CONFIGS = {"denoise": "denoise.py", "sr": "sr.py", "restore": "restore.py"}
# The CBM3D set (data/denoise9) holds these Kodak files; tuning images are
# the other Kodak files, so nothing tuned on is evaluated.
CBM3D_KODAK = ("kodim01", "kodim02", "kodim03", "kodim12")
EMA = 0.99  # the official code's exp_weight


def image_paths(task: str, split: str, data_dir: str) -> list[str]:
  """The split's image files for `task`, sorted by name: evaluation = the
  CBM3D set (Set14 for SR, as the paper's SR table), tuning = the Kodak
  files outside the CBM3D set."""
  if split == "eval":
    folder = os.path.join(data_dir, "set14" if task == "sr" else "denoise9")
    names = sorted(os.listdir(folder))
  else:
    folder = os.path.join(data_dir, "kodak24")
    names = sorted(n for n in os.listdir(folder)
                   if os.path.splitext(n)[0] not in CBM3D_KODAK)
  return [os.path.join(folder, n) for n in names if n.endswith(".png")]


def task_config(task: str, recipe: str, args, path: str):
  """dip_jax's config of `recipe` (quick | default) for `task` on `path`
  (the built-in sample when None), cropped to --size."""
  arg = "quick" if recipe == "quick" else None
  c = config_lib.task_config(CONFIGS[task], arg)
  if path:
    c.image, c.center_crop = path, args.size
  c.sample_size = args.size
  c.log_every = args.log_every
  if args.tiny:
    c.update_from_flattened_dict(TINY_DIP)
    c.num_steps = args.steps
  return c


def official_fit(task: str, problem, args) -> dict:
  """The official recipe in torch on `problem`: its curves (step, seconds,
  the output's and the EMA's PSNR) at every --log_every steps."""
  import torch  # pylint: disable=g-import-not-at-top
  import torch_skip  # pylint: disable=g-import-not-at-top
  t0 = time.perf_counter()
  s = OFFICIAL[task]
  steps = args.steps or s["steps"]
  net_kw = dict(TINY_NET if args.tiny else OFFICIAL_NET)
  in_ch = net_kw.pop("in_ch")
  device = "cuda" if args.device == "gpu" else "cpu"
  torch.manual_seed(args.seed)
  nchw = lambda a: torch.as_tensor(
      np.asarray(a, np.float32)).permute(2, 0, 1)[None].to(device)
  y, clean = nchw(problem.observed), np.asarray(problem.clean)
  c = clean.shape[-1]
  mask = (None if problem.mask is None else
          nchw(np.broadcast_to(problem.mask, problem.observed.shape[:2] + (1,))
               if np.ndim(problem.mask) == 2 else problem.mask))
  op = (torch_skip.SeparableDownsample(
      resampling.lanczos_taps(problem.operator.factor),
      problem.operator.factor, c).to(device)
        if task == "sr" else torch.nn.Identity())
  net = torch_skip.SkipNetTorch(in_ch=in_ch, out_ch=c, **net_kw).to(device)
  opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
  # The official get_noise('u'): U(0, 1) x 0.1, the image's size.
  z = 0.1 * torch.rand(1, in_ch, *clean.shape[:2], device=device)
  masked = (lambda a: a) if mask is None else (lambda a: a * mask)
  ema, snapshot = None, None
  curve = {"step": [], "seconds": [], "psnr_output": [], "psnr_ema": []}
  for step in range(1, steps + 1):
    out = net(z + s["reg_noise_std"] * torch.randn_like(z))
    fit = masked(op(out))
    loss = torch.nn.functional.mse_loss(fit, masked(y))
    with torch.no_grad():
      ema = out.detach() if ema is None else EMA * ema + (1 - EMA) * out
    fell_back = False
    if s["backtrack_every"] and (step - 1) % s["backtrack_every"] == 0:
      # The notebooks: when the fit to y drops by over 5 dB since the last
      # check, the weights saved then come back and this step is skipped.
      db = -10 * float(torch.log10(loss.detach()))
      fell_back = bool(snapshot) and db < snapshot[0] - 5
      if fell_back:
        with torch.no_grad():
          for p, saved in zip(net.parameters(), snapshot[1]):
            p.copy_(saved)
      else:
        snapshot = (db, [p.detach().clone() for p in net.parameters()])
    if not fell_back:
      opt.zero_grad(set_to_none=True)
      loss.backward()
      opt.step()
    if step % args.log_every == 0 or step == steps:
      img = lambda t: t[0].permute(1, 2, 0).detach().cpu().numpy()
      curve["psnr_output"].append(metrics.psnr(img(out), clean))
      curve["psnr_ema"].append(metrics.psnr(img(ema), clean))
      curve["step"].append(step)
      curve["seconds"].append(time.perf_counter() - t0)
  answer, other = (("psnr_ema", "psnr_output") if s["answer"] == "ema"
                   else ("psnr_output", "psnr_ema"))
  return {"step": curve["step"], "seconds": curve["seconds"],
          "psnr": curve[answer], "answer_psnr": curve[answer][-1],
          "seconds_total": time.perf_counter() - t0,
          "other_best_psnr": max(curve[other])}


def dip_fit(problem, cfg) -> dict:
  """dip_jax.reconstruct on `problem` with `cfg`: the answer's PSNR every
  log_every steps (its metrics lines) against seconds since the call."""
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "metrics.jsonl")
    t0 = time.perf_counter()
    result = dip_jax.reconstruct(
        problem.observed, problem.operator, method="dip",
        objective=problem.objective, weights=problem.mask,
        clean=problem.clean, config=cfg, metrics_path=path)
    total = time.perf_counter() - t0
    with open(path) as f:
      lines = [json.loads(l) for l in f]
  # The lines' seconds count from the fit loop's start; what came before
  # (building, compiling) is the call's time minus the loop's. That also
  # counts the scoring after the loop as before it: dip_jax's times are, if
  # anything, late.
  info = result.info
  before = total - (info["seconds"] - info["compile_seconds"])
  key = next(k for k in ("psnr_answer", "psnr_ema", "psnr")
             if k in lines[0] and (k != "psnr_ema" or cfg.ema_decay > 0))
  return {"step": [l["step"] for l in lines],
          # A line's seconds and the fit's own are read at slightly
          # different moments: no point may pass the call's end.
          "seconds": [min(before + l["seconds"], total) for l in lines],
          "psnr": [l[key] for l in lines],
          "answer_psnr": metrics.psnr(result.reconstruction, problem.clean),
          "seconds_total": total}


def seconds_to_reach(seconds, psnr, target):
  """The first logged second at which `psnr` reaches `target`; None (never)
  when no logged point does."""
  for s, p in zip(seconds, psnr):
    if p is not None and p >= target:
      return s
  return None


def rows_for(task: str, image: str, split: str, fits: dict) -> list[dict]:
  """One row per recipe; the official fit (when run) sets the target."""
  official = fits.get("official")
  target = max(official["psnr"]) if official else None
  official_s = (seconds_to_reach(official["seconds"], official["psnr"],
                                 target) if official else None)
  rows = []
  for recipe, f in fits.items():
    best = int(np.argmax(f["psnr"]))
    reach = (seconds_to_reach(f["seconds"], f["psnr"], target)
             if target is not None else None)
    row = {"task": task, "image": image, "split": split, "recipe": recipe,
           "steps": f["step"][-1], "best_psnr": f["psnr"][best],
           "best_seconds": f["seconds"][best], "final_psnr": f["psnr"][-1],
           "answer_psnr": f["answer_psnr"], "seconds_total": f["seconds_total"],
           "target_psnr": target, "reached_target": reach is not None,
           "seconds_to_target": reach,
           "ratio": (reach / official_s if reach is not None and official_s
                     and recipe != "official" else None),
           # What a user gets: the recipe's own answer (its stop, no
           # oracle) against the official best, and the whole call's
           # seconds (compile included) over the official's to its best.
           "answer_reaches_target": (f["answer_psnr"] >= target
                                     if target is not None else None),
           "answer_ratio": (f["seconds_total"] / official_s
                            if official_s and recipe != "official"
                            else None),
           "curve_step": f["step"], "curve_seconds": f["seconds"],
           "curve_psnr": f["psnr"]}
    if recipe == "official":
      row["official_other_best_psnr"] = f["other_best_psnr"]
    rows.append(row)
  return rows


def jobs(args) -> list[tuple]:
  """(task, image name, path or None) of every fit: --images files per task
  from --data_dir's split, or the built-in sample without a --data_dir."""
  out = []
  for task in args.tasks.split(","):
    if task not in OFFICIAL:
      raise SystemExit(f"unknown task {task!r}; known: {sorted(OFFICIAL)}")
    if not args.data_dir:
      out.append((task, "built-in sample", None))
      continue
    paths = image_paths(task, args.split, args.data_dir)[:args.images]
    out += [(task, os.path.splitext(os.path.basename(p))[0], p)
            for p in paths]
  return out


def run(args) -> list[dict]:
  """Every task and image: the official fit, then dip_jax's recipes, in one
  process (one machine state for all)."""
  rows = []
  recipes = [r for r in args.dip_recipes.split(",") if r]
  for task, name, path in jobs(args):
    problem = data_lib.build_problem(task_config(task, "quick", args, path))
    fits = {}
    if args.official:
      fits["official"] = official_fit(task, problem, args)
    for recipe in recipes:
      fits[recipe] = dip_fit(problem, task_config(task, recipe, args, path))
    rows += rows_for(task, name, args.split if path else "sample", fits)
    for r in rows[-len(fits):]:
      reach = ("never" if r["seconds_to_target"] is None and
               r["target_psnr"] is not None else _num(r["seconds_to_target"]))
      print(f"{task:8s} {name:16s} {r['recipe']:9s} best "
            f"{r['best_psnr']:6.2f} final {r['final_psnr']:6.2f} answer "
            f"{r['answer_psnr']:6.2f} dB | {r['seconds_total']:8.1f} s | "
            f"to official best {reach} s, ratio {_num(r['ratio'])}, "
            f"answer/official {_num(r['answer_ratio'])}",
            flush=True)
  return rows


def _num(v) -> str:
  return "—" if v is None else f"{v:.2f}"


def parse(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--data_dir", default="",
                 help="the shared data folder (denoise9/, set14/, kodak24/;"
                      " its README); default: the built-in sample only")
  p.add_argument("--split", choices=("eval", "tune"), default="eval",
                 help="eval: the CBM3D set (Set14 for SR); tune: the Kodak "
                      "files outside the CBM3D set")
  p.add_argument("--images", type=int, default=3,
                 help="images per task (the split's first, by name)")
  p.add_argument("--tasks", default="denoise,sr,restore")
  p.add_argument("--size", type=int, default=128, help="center crop, px")
  p.add_argument("--dip_recipes", default="quick",
                 help="dip_jax configs: quick, default (comma-separated)")
  p.add_argument("--no_official", dest="official", action="store_false",
                 help="skip the torch fits (no target then)")
  p.add_argument("--steps", type=int, default=0,
                 help="official steps (default: the recipe's own; --tiny: "
                      "30, and as many for dip_jax)")
  p.add_argument("--log_every", type=int, default=50)
  p.add_argument("--seed", type=int, default=0, help="torch's seed")
  p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                 help="torch's device (jax takes its default backend)")
  p.add_argument("--threads", type=int, default=0,
                 help="torch's CPU threads (default: every core; --tiny: 1,"
                      " as threads waiting on each other slowed tiny steps "
                      "on a busy machine)")
  p.add_argument("--tiny", action="store_true",
                 help="32 px, a 3-level 8-channel net on both sides, 30 "
                      "steps each, log every 5: a smoke test")
  p.add_argument("--plot", default="", metavar="RECORD",
                 help="only draw RECORD's PSNR-vs-seconds curves to --png")
  p.add_argument("--png", default="time_to_quality.png")
  records.add_flag(p)
  args = p.parse_args(argv)
  if args.tiny:
    args.size, args.steps = 32, args.steps or 30
    args.log_every, args.images = 5, 1
    args.threads = args.threads or 1
  return args


def main(argv=None) -> list[dict]:
  args = parse(argv)
  if args.plot:
    with open(args.plot) as f:
      if not curves.write_time_to_quality(args.png, json.load(f)):
        raise SystemExit("nothing drawn: no curves, or no matplotlib")
    print(f"wrote {args.png}")
    return []
  torch_version = None
  if args.official:
    import torch  # pylint: disable=g-import-not-at-top
    torch_version = torch.__version__
    if args.device == "cpu":
      # Default: every core, as jax takes; the two run one after the other.
      torch.set_num_threads(args.threads or os.cpu_count() or 1)
  rows = run(args)
  argv = list(sys.argv[1:] if argv is None else argv)
  # One record per task (results/time_to_quality_<task>/): a later run of
  # one task replaces that task's table only.
  config = {k: v for k, v in vars(args).items() if k != "record"}
  config["official_net"] = TINY_NET if args.tiny else OFFICIAL_NET
  for task in args.tasks.split(","):
    records.record(args.record, f"time_to_quality_{task}",
                   [r for r in rows if r["task"] == task],
                   config={**config,
                           "official_settings": {task: OFFICIAL[task]}},
                   seeds=[args.seed], argv=[os.path.abspath(__file__)] + argv,
                   extra_versions={"torch": torch_version}
                   if torch_version else None)
  return rows


if __name__ == "__main__":
  main()
