#!/usr/bin/env bash
# Refreshes constraints.txt, the exact versions `make test`, `make docs` and
# .ci/run install: pyproject's dependencies and its test, bench, docs, lint
# and paper extras (paper: bm3d, which the CBM3D records rest on; setuptools,
# which torch needs, too), resolved for Python 3.11 by pip-tools (in a venv
# of its own under .cache/, so the lock does not depend on what the caller's
# env holds).
# Run as `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools_venv=.cache/lock-venv
if [[ ! -x "$tools_venv/bin/pip-compile" ]]; then
  python3 -m venv "$tools_venv"
  "$tools_venv/bin/python" -m pip install --quiet 'pip-tools==7.7.0'
fi
# The command constraints.txt's header names, word for word.
cmd=(pip-compile --quiet --allow-unsafe --strip-extras --no-emit-find-links
     --no-emit-index-url --no-emit-trusted-host
     --extra test --extra bench --extra docs --extra lint --extra paper
     -c tools/lock_pins.txt -o constraints.txt pyproject.toml)
CUSTOM_COMPILE_COMMAND="make lock, i.e. ${cmd[*]}" \
  "$tools_venv/bin/${cmd[0]}" "${cmd[@]:1}"
# The resolver records the wheel it found on disk, 2.13.0+cpu (a build only
# PyTorch's own index serves). == 2.13.0 still takes that wheel where it lies
# (a local version sorts above its public one) and PyPI's build elsewhere.
sed -i 's/^torch==2\.13\.0+cpu$/torch==2.13.0/' constraints.txt
