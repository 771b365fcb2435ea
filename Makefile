# One command each for the project's checks; every target installs what it
# needs into the active Python environment (a venv), at the exact versions
# of constraints.txt. .ci/run runs them in a fresh venv.
#
#   make test          the test suite, SCICO's DnCNN weights included
#   make docs          the documentation site (docs/_build/html), warnings fail
#   make lint-imports  the import contracts of pyproject.toml
#   make lock          refresh constraints.txt from pyproject.toml

PYTHON ?= python
PIP_INSTALL = $(PYTHON) -m pip install --quiet -c constraints.txt
# `make test TESTS=tests/test_dncnn.py PYTEST_FLAGS=-x` runs a part.
TESTS ?= tests
PYTEST_FLAGS ?= -n 2

.PHONY: test docs lint-imports lock

# DnCNN's weights for the tests: SCICO's wheel, downloaded once and checked
# by tools/dncnn_weights.sh, never installed (dip_jax/solvers/dncnn.py reads it
# through DIP_JAX_DNCNN_WEIGHTS). bench brings torch for the references.
test:
	$(PIP_INSTALL) -e '.[test,bench]'
	weights="$$(bash tools/dncnn_weights.sh)" && \
	  DIP_JAX_DNCNN_WEIGHTS="$$weights" $(PYTHON) -m pytest $(PYTEST_FLAGS) $(TESTS)

docs:
	$(PIP_INSTALL) -e '.[docs]'
	$(PYTHON) -m sphinx -W --keep-going -b html docs docs/_build/html

lint-imports:
	$(PIP_INSTALL) -e '.[lint]'
	lint-imports

lock:
	bash tools/lock.sh
