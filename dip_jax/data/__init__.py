"""Making a problem's data: where the image comes from (`sources`), the
synthetic corruptions (`corruptions`), a config -> Problem (`build`), and the
tasks that are not an image through an operator (`tasks`: ptycho, the
classifier tasks)."""

from dip_jax.data.build import build_problem, shape_problem
from dip_jax.data.sources import load_source, Source

__all__ = ["build_problem", "load_source", "shape_problem", "Source"]
