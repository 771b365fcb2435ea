"""dip_jax: Deep Image Prior and classical priors for image restoration in JAX.

  import dip_jax
  result = dip_jax.reconstruct(y, dip_jax.operators.downsample(4))

`reconstruct`, `reconstruct_batch` (many images in one program), `operators`, `objectives`, `methods` and `Result` are loaded
on first use, so `import dip_jax` (and the CLI's flag parsing) stays cheap.
"""

import importlib

_LAZY = {"reconstruct": ("dip_jax.api", "reconstruct"),
         "reconstruct_batch": ("dip_jax.api", "reconstruct_batch"),
         "make_config": ("dip_jax.api", "make_config"),
         "Result": ("dip_jax.methods", "Result")}
# Short names for the modules a notebook reaches for (`dip_jax.images` is
# dip_jax/io/images.py).
_SUBMODULES = {"operators": "dip_jax.operators",
               "objectives": "dip_jax.objectives",
               "methods": "dip_jax.methods",
               "images": "dip_jax.io.images",
               "metrics": "dip_jax.metrics",
               "config_lib": "dip_jax.config_lib"}


def __getattr__(name):
  if name in _LAZY:
    module, attr = _LAZY[name]
    return getattr(importlib.import_module(module), attr)
  if name in _SUBMODULES:
    return importlib.import_module(_SUBMODULES[name])
  raise AttributeError(f"module 'dip_jax' has no attribute {name!r}")


__all__ = [*_LAZY, *_SUBMODULES]
