"""Classical baselines scored on a sweep job's own observation.

  CBM3D       the `bm3d` package, Gaussian denoising given the true sigma
  biharmonic  scikit-image's biharmonic inpainting, for missing pixels
  TV          dip_jax's TV method (methods/tv.py) with the job's `tv.lam`:
              the task's TV baseline, on any linear operator
  bicubic     the operator's own baseline where it is bicubic upscaling (SR)

They are the paper tables' (experiments/paper_tables.py) and the paired
records' (experiments/record_sweep.py --classical) baselines. Each is
solved on the observation the job's config builds (seeded, so the same
noisy image the job's DIP saw) and scored against its clean image; the
score is cached in the job's folder (one entry per kind) with the solving
package's version, so a rerun does not solve it again and its record still
names that version. CBM3D and biharmonic come with `pip install -e
'.[paper]'`; without them the score says so.
"""

import importlib.metadata
import json
import os
import time

import numpy as np

from dip_jax import data as data_lib
from dip_jax import metrics
from dip_jax.errors import InputError
from dip_jax.methods import tv

KINDS = ("CBM3D", "biharmonic", "TV", "bicubic")
# The package outside the JAX stack that solves a kind (records name the
# JAX stack's versions anyway).
PACKAGE = {"CBM3D": "bm3d", "biharmonic": "scikit-image"}
CACHE_FILE = "classical.json"  # in each job's folder


def _solve(kind: str, problem, config) -> np.ndarray:
  if kind == "CBM3D":
    import bm3d  # pylint: disable=g-import-not-at-top
    noisy = problem.observed.astype(np.float64)
    sigma = float(config.corruption.sigma) / 255.0
    return (bm3d.bm3d_rgb(noisy, sigma) if noisy.shape[-1] == 3
            else bm3d.bm3d(noisy[..., 0], sigma)[..., None])
  if kind == "TV":
    return tv.solve(problem, config).reconstruction
  if kind == "bicubic":
    name, x = problem.operator.baseline(problem.observed) or (None, None)
    if name != "bicubic":
      raise InputError(f"no bicubic baseline for operator "
                       f"{problem.operator.name!r} (SR has one)")
    return x
  from skimage.restoration import inpaint_biharmonic  # pylint: disable=g-import-not-at-top
  missing = problem.mask[..., 0] < 0.5
  return inpaint_biharmonic(problem.observed.astype(np.float64), missing,
                            channel_axis=-1)


def _cached(path: str) -> dict:
  """kind -> score from a job's cache file. A file from before there was one
  entry per kind holds one score of its "kind", or, older still, of the
  one kind its table solved (CBM3D or biharmonic, "*" here)."""
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    cached = json.load(f)
  if "psnr" in cached:  # the one-score layout
    return {cached.get("kind", "*"): cached}
  return cached


def score(kind: str, job_config, job_dir: str) -> dict:
  """{psnr, ssim, seconds, versions} of `kind` on the job's observation
  (versions: {package: version} of the package outside the JAX stack that
  solved it), or {error} when that package is missing; cached in job_dir.

  Raises:
    InputError: when the job's problem has no such baseline (TV on a
      nonlinear operator, bicubic on anything but SR).
  """
  if kind not in KINDS:
    raise ValueError(f"no classical baseline {kind!r} (known: {KINDS})")
  cache = os.path.join(job_dir, CACHE_FILE)
  cached = _cached(cache)
  if kind in cached:
    return cached[kind]
  if "*" in cached and kind in ("CBM3D", "biharmonic"):
    return cached["*"]
  problem = data_lib.build_problem(job_config)  # seeded: the same input
  t0 = time.perf_counter()
  try:
    x = np.clip(np.asarray(_solve(kind, problem, job_config)), 0.0, 1.0)
  except ImportError as e:
    return {"error": f"{e.name} not installed (pip install -e '.[paper]')"}
  out = {"kind": kind, "psnr": metrics.psnr(x, problem.clean),
         "ssim": metrics.ssim(x, problem.clean),
         "seconds": round(time.perf_counter() - t0, 2),
         "versions": ({PACKAGE[kind]: importlib.metadata.version(
             PACKAGE[kind])} if kind in PACKAGE else {})}
  os.makedirs(job_dir, exist_ok=True)
  with open(cache, "w") as f:
    json.dump({**cached, kind: out}, f)
  return out
