"""Classical baselines scored on a sweep job's own observation.

CBM3D (the `bm3d` package) for Gaussian denoising and scikit-image's
biharmonic inpainting for missing pixels: the paper tables'
(experiments/paper_tables.py) and the paired records'
(experiments/record_sweep.py --classical) baselines. Each is solved on the
observation the job's config builds (seeded, so the same noisy image the
job's DIP saw) and scored against its clean image; the score is cached in
the job's folder with the solving package's version, so a rerun does not
solve it again and its record still names that version. Both packages come
with `pip install -e '.[paper]'`; without them the score says so.
"""

import importlib.metadata
import json
import os
import time

import numpy as np

from dip_jax import data as data_lib
from dip_jax import metrics

KINDS = ("CBM3D", "biharmonic")
PACKAGE = {"CBM3D": "bm3d", "biharmonic": "scikit-image"}  # what solves it
CACHE_FILE = "classical.json"  # in each job's folder


def _solve(kind: str, problem, config) -> np.ndarray:
  if kind == "CBM3D":
    import bm3d  # pylint: disable=g-import-not-at-top
    noisy = problem.observed.astype(np.float64)
    sigma = float(config.corruption.sigma) / 255.0
    return (bm3d.bm3d_rgb(noisy, sigma) if noisy.shape[-1] == 3
            else bm3d.bm3d(noisy[..., 0], sigma)[..., None])
  from skimage.restoration import inpaint_biharmonic  # pylint: disable=g-import-not-at-top
  missing = problem.mask[..., 0] < 0.5
  return inpaint_biharmonic(problem.observed.astype(np.float64), missing,
                            channel_axis=-1)


def score(kind: str, job_config, job_dir: str) -> dict:
  """{psnr, ssim, seconds, versions} of `kind` on the job's observation
  (versions: {package: version} of what solved it), or {error} when its
  package is missing; cached in job_dir."""
  if kind not in KINDS:
    raise ValueError(f"no classical baseline {kind!r} (known: {KINDS})")
  cache = os.path.join(job_dir, CACHE_FILE)
  if os.path.exists(cache):
    with open(cache) as f:
      cached = json.load(f)
    if cached.get("kind", kind) == kind:
      return cached
  problem = data_lib.build_problem(job_config)  # seeded: the same input
  t0 = time.perf_counter()
  try:
    x = np.clip(_solve(kind, problem, job_config), 0.0, 1.0)
  except ImportError as e:
    return {"error": f"{e.name} not installed (pip install -e '.[paper]')"}
  out = {"kind": kind, "psnr": metrics.psnr(x, problem.clean),
         "ssim": metrics.ssim(x, problem.clean),
         "seconds": round(time.perf_counter() - t0, 2),
         "versions": {PACKAGE[kind]:
                      importlib.metadata.version(PACKAGE[kind])}}
  os.makedirs(job_dir, exist_ok=True)
  with open(cache, "w") as f:
    json.dump(out, f)
  return out
