"""A watcher of your own: keep the net's output every k steps, in the fit.

  python examples/snapshot_watcher.py --out /tmp/watch
  python examples/snapshot_watcher.py --tiny --out /tmp/watch   # seconds

A watcher is a small pure part that the compiled fit runs after every
optimizer step (docs/extending.md, "Add a watcher"). This one keeps K
frames of the output, one every --every steps, in a K x H x W x C array
inside the fit state, so the whole trajectory comes back from one
`dip_jax.reconstruct` call without a workdir or a host round trip per step.
It also reports a per-step number into the history: how much the output
moved in that step (the mean squared change), which falls as the fit
settles (not to zero: the net's input gets fresh noise every step).

Writes into --out: trajectory.png (the frames, with their PSNR, and the
change curve) and summary.json (each frame's step and PSNR).
"""

import argparse
import dataclasses
import json
import os

import jax
import jax.numpy as jnp
from matplotlib.figure import Figure  # no pyplot: no window, no backend
import numpy as np

import dip_jax
from dip_jax import methods, metrics
from dip_jax.fit.watchers import StepView, Watcher
from dip_jax.methods import dip as dip_method


@dataclasses.dataclass(frozen=True)
class Snapshots(Watcher):
  """Frames of the output after steps every, 2 every, ..., count * every.

  Frozen and hashable: the watcher is part of the compiled fit's static
  description, so `every` and `count` are compile-time constants, and the
  state below is what changes from step to step. Inside the fit the
  watcher sees one restart at a time; `view.out` is that restart's output.
  """
  every: int = 50
  count: int = 8
  name = "snapshots"  # the key of its state in result.state.watch

  def init(self, first: StepView):
    return {"frames": jnp.zeros((self.count, *first.out.shape),
                                first.out.dtype),
            "last": first.out, "change": jnp.zeros((), jnp.float32)}

  def update(self, w, view: StepView):
    done = view.step + 1  # steps taken so far (view.step is 0-based)
    slot = done // self.every - 1
    take = (done % self.every == 0) & (slot < self.count)
    # Everything here is traced: no Python `if` on values, a select instead.
    written = jax.lax.dynamic_update_index_in_dim(
        w["frames"], view.out, jnp.clip(slot, 0, self.count - 1), 0)
    return {"frames": jnp.where(take, written, w["frames"]),
            "last": view.out,
            "change": jnp.mean(jnp.square(view.out - w["last"]))}

  def metrics(self, w, clean):
    del clean  # this number needs no ground truth
    return {"output_change": w["change"]}


@methods.register("dip_snapshots")
def solve(problem, config, hooks=None):
  """DIP with the watcher added: `method="dip_snapshots"` from now on.
  DIP's own watchers (the output average, the guard, early stopping) stay;
  this one runs after them."""
  # The spacing is the config's snapshot_every, the key that also sets the
  # CLI's PNG snapshots (0 there means none: here one frame, at the end).
  every = int(config.snapshot_every) or int(config.num_steps)
  snapshots = Snapshots(every=every, count=int(config.num_steps) // every)
  fit = dip_method.build_fit(config, problem, watchers=(snapshots,))
  return dip_method.solve(problem, config, hooks, fit=fit)


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--out", default="out/snapshots", help="output folder")
  p.add_argument("--size", type=int, default=128,
                 help="side of the built-in photo in pixels")
  p.add_argument("--sigma", type=float, default=25.0,
                 help="noise std on the 0-255 scale")
  p.add_argument("--steps", type=int, default=1600, help="optimizer steps")
  p.add_argument("--every", type=int, default=200, help="steps per frame")
  p.add_argument("--width", type=int, default=32,
                 help="channels per level of the net")
  p.add_argument("--levels", type=int, default=5,
                 help="levels of the encoder-decoder")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--tiny", action="store_true",
                 help="a 32 px photo, 3 levels of 16 channels, 240 steps")
  args = p.parse_args(argv)
  if args.tiny:
    args.size, args.levels, args.width = 32, 3, 16
    args.steps, args.every = 240, 40
  return args


def main(argv=None) -> dict:
  args = parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  clean = dip_jax.images.sample_image(args.size)
  rng = np.random.default_rng(args.seed)
  noisy = (clean + rng.normal(0, args.sigma / 255, clean.shape)).astype(
      np.float32)
  # The frame spacing travels in a config key the method reads
  # (snapshot_every), so the method needs no arguments of its own and runs
  # the same from the CLI: --config.method=dip_snapshots in a config file
  # that imports this one.
  result = dip_jax.reconstruct(
      noisy, method="dip_snapshots", clean=clean, num_steps=args.steps,
      snapshot_every=args.every, seed=args.seed, progress=not args.tiny,
      **{"net.channels_down": (args.width,) * args.levels,
         "net.channels_up": (args.width,) * args.levels,
         "net.channels_skip": (4,) * args.levels,
         "input.channels": args.width})
  # The state has a leading restart axis (num_restarts, 1 here).
  frames = np.asarray(result.state.watch["snapshots"]["frames"])[0]
  frames = frames.reshape(frames.shape[0], *clean.shape)
  steps = [args.every * (k + 1) for k in range(len(frames))]
  psnrs = [metrics.psnr(np.clip(f, 0, 1), clean) for f in frames]
  change = np.asarray(result.history["output_change"]).ravel()

  fig = Figure(figsize=(2.2 * (len(frames) + 1) + 1.5, 2.8))
  axes = fig.subplots(1, len(frames) + 1)
  for ax, frame, step, db in zip(axes, frames, steps, psnrs):
    ax.imshow(np.clip(frame, 0, 1))
    ax.set_title(f"step {step}\n{db:.2f} dB", fontsize=9)
    ax.axis("off")
  axes[-1].semilogy(np.arange(1, len(change) + 1), change)
  axes[-1].set_xlabel("step")
  axes[-1].set_title("output change per step", fontsize=9)
  fig.tight_layout()
  fig.savefig(os.path.join(args.out, "trajectory.png"), dpi=80)

  # The history's PSNR of the raw output at the frames' steps: the same
  # numbers as the frames' own, when each frame is the step it claims.
  at_steps = [float(np.asarray(result.history["psnr"]).ravel()[s - 1])
              for s in steps]
  summary = {"frame_steps": steps, "frame_psnr": psnrs,
             "history_psnr_at_frame_steps": at_steps,
             "frames_shape": list(frames.shape),
             "psnr_noisy": metrics.psnr(np.clip(noisy, 0, 1), clean),
             "psnr_dip": float(result.info["psnr"])}
  with open(os.path.join(args.out, "summary.json"), "w") as fh:
    json.dump(summary, fh, indent=1)
  np.save(os.path.join(args.out, "frames.npy"), frames)
  print("frames: " + ", ".join(f"{s}: {d:.2f} dB"
                               for s, d in zip(steps, psnrs)))
  return summary


if __name__ == "__main__":
  main()
