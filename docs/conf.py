"""Sphinx configuration of dip_jax's documentation site.

Build it with `make docs` (sphinx-build -W: a warning fails the build). The
pages are Markdown (MyST); docs/api.md is generated from the library's
docstrings (Google style, read by napoleon).
"""

import os
import sys

# The library as the checkout has it, installed or not.
sys.path.insert(0, os.path.abspath(".."))

project = "dip_jax"
author = "dip_jax authors"
copyright = "dip_jax authors"  # pylint: disable=redefined-builtin

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Google-style docstrings (Args:, Returns:, Attributes:) only.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Members in the order the source defines them, signatures with their type
# hints; importing dip_jax imports jax, which the docs extra pulls in.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Identifiers in `single backticks` in the docstrings read as code.
default_role = "code"

myst_heading_anchors = 3

html_theme = "furo"
html_title = "dip_jax"
