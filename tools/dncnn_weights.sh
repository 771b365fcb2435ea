#!/usr/bin/env bash
# Prints the path of SCICO 0.0.7's wheel, the file DnCNN's weights are read
# from (dip_jax/solvers/dncnn.py, through DIP_JAX_DNCNN_WEIGHTS or dncnn.weights).
# The wheel is downloaded once into .cache/wheels and checked against the
# sha256 below; it is never installed (SCICO pins older jax and flax than
# dip_jax runs on, and dip_jax reads only its data). Exits non-zero when the
# download fails or the file on disk is not that wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
wheel_dir=.cache/wheels
wheel="$wheel_dir/scico-0.0.7-py3-none-any.whl"
# sha256 of PyPI's scico-0.0.7-py3-none-any.whl.
sha256=0fd6ba6b1d1e321d8bba39d8000ec1101fa6109db26a08f58af952c5e7cde4c1
if [[ ! -f "$wheel" ]]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$wheel_dir" scico==0.0.7 >&2
fi
if ! echo "$sha256  $wheel" | sha256sum --check --status; then
  echo "$wheel is not SCICO 0.0.7's wheel (sha256 differs); delete it and" \
       "run again" >&2
  exit 1
fi
echo "$PWD/$wheel"
