"""What a run shows a person: a progress line, a labelled comparison panel,
metrics.jsonl and summary.json (all written atomically)."""

import json
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dip_jax.io import images


def write_json(path: str, obj) -> None:
  """`json_text(obj)`, written atomically."""
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    f.write(json_text(obj))
  os.replace(tmp, path)


def json_text(obj) -> str:
  """Strict JSON (non-finite numbers become null, never NaN/Infinity
  tokens that other JSON readers refuse), indented, keys sorted."""
  return json.dumps(_finite(obj), indent=2, sort_keys=True,
                    default=_jsonable, allow_nan=False) + "\n"


def _finite(x):
  """`x` with every non-finite float (at any depth) replaced by None."""
  if isinstance(x, dict):
    return {k: _finite(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_finite(v) for v in x]
  if isinstance(x, (float, np.floating)):
    return float(x) if np.isfinite(x) else None
  return x


def _jsonable(x):
  if isinstance(x, (np.floating, np.integer)):
    return x.item()
  if isinstance(x, (tuple, np.ndarray)):
    return list(x)
  raise TypeError(f"not JSON serialisable: {type(x).__name__}")


class MetricsLog:
  """Appends one JSON line per logging point to workdir/metrics.jsonl."""

  def __init__(self, path: str, keep_until_step: int = 0):
    """Starts the log afresh, keeping the lines up to `keep_until_step` of a
    run being resumed from there."""
    self.path = path
    kept = []
    if keep_until_step and os.path.exists(path):
      with open(path) as f:
        kept = [l for l in f if _step_of(l) <= keep_until_step]
    with open(path, "w") as f:
      f.writelines(kept)

  def write(self, record: dict) -> None:
    with open(self.path, "a") as f:
      f.write(json.dumps({k: _round(v) for k, v in record.items()}) + "\n")


def _step_of(line: str) -> float:
  """The step of a metrics line; a torn or unreadable line (a kill or a
  full disk mid-append) counts as past every step, so it is dropped."""
  try:
    return float(json.loads(line).get("step", 0))
  except (ValueError, AttributeError, TypeError):
    return float("inf")


def _round(v):
  if isinstance(v, float):
    return round(v, 5) if np.isfinite(v) else None
  return v


def _hms(seconds: float) -> str:
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress:
  """One line per logging point: step, loss, PSNR, it/s, ETA.

  After the first timed chunk it estimates the whole run; when that exceeds
  `warn_minutes` it says so at once and names the quick variant.
  """

  def __init__(self, total_steps: int, warn_minutes: float, quick_hint: str,
               stream=None):
    self.total = total_steps
    self.warn_minutes = warn_minutes
    self.quick_hint = quick_hint
    self.stream = stream or sys.stdout
    self.t0 = None
    self.s0 = 0
    self.warned = False

  def start(self, step: int):
    self.t0, self.s0 = time.perf_counter(), step

  def update(self, step: int, fields: dict) -> None:
    elapsed = time.perf_counter() - self.t0
    rate = (step - self.s0) / max(elapsed, 1e-9)
    eta = (self.total - step) / max(rate, 1e-9)
    parts = [f"step {step:>{len(str(self.total))}d}/{self.total}"]
    for name, value in fields.items():
      if value is not None and np.isfinite(value):
        parts.append(f"{name} {value:.4g}" if name == "loss"
                     else f"{name} {value:.2f}")
    parts.append(f"{rate:.1f} it/s  ETA {_hms(eta)}")
    print("  ".join(parts), file=self.stream, flush=True)
    if not self.warned and eta > 60 * self.warn_minutes:
      self.warned = True
      hint = (f"; for a quick look on a CPU use --config={self.quick_hint}"
              if self.quick_hint else "")
      print(f"note: this run needs about {_hms(eta)} more on this machine "
            f"({jax_device()}){hint}", file=self.stream, flush=True)


def jax_device() -> str:
  import jax  # local: keeps this module importable without initialising JAX
  d = jax.devices()[0]
  return f"{d.platform}:{getattr(d, 'device_kind', '')}".rstrip(":")


def _font(size: int):
  try:
    return ImageFont.load_default(size=size)
  except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
    return ImageFont.load_default()


def comparison_panel(path: str, panels: list[tuple[str, np.ndarray]]) -> None:
  """Saves images side by side, each under its label, as one PNG."""
  h = max(p.shape[0] for _, p in panels)
  label_h = max(14, h // 14)
  font = _font(label_h - 4)
  tiles = []
  for label, img in panels:
    arr = images.to_uint(img)
    if arr.shape[-1] == 1:
      arr = np.repeat(arr, 3, -1)
    tile = Image.new("RGB", (arr.shape[1], h + label_h), "white")
    tile.paste(Image.fromarray(arr), (0, label_h))
    ImageDraw.Draw(tile).text((3, 1), label, fill="black", font=font)
    tiles.append(tile)
  gap = 4
  width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
  out = Image.new("RGB", (width, h + label_h), "white")
  x = 0
  for t in tiles:
    out.paste(t, (x, 0))
    x += t.width + gap
  tmp = f"{path}.tmp-{os.getpid()}"
  out.save(tmp, format="PNG")
  os.replace(tmp, path)
