#!/bin/bash
# The GPU checks in one command, sized for one call on one H200 (~10 min):
#   1. benchmarks/step_speed.py --device gpu: our step vs the PyTorch net on
#      the same card, float32 and bfloat16 compute, 128/256/512 px;
#   2. benchmarks/batch_images.py: images per hour at 128 px, B = 1, 4, 16;
#   3. experiments/paper_tables.py at full settings (the sweep batches its
#      jobs on a GPU: sweep.batch auto), cut at TABLES_S seconds; a rerun
#      with the same OUT resumes the finished jobs.
#
#   bash benchmarks/gpu_check.sh DATA_DIR OUT_DIR
#
# DATA_DIR is laid out as ../shared/data (denoise9/, set5/, set14/,
# dip/restoration/). Wheels in .whl/ (what the GPU image lacks: ml-collections,
# pypng, dm-pix, bm3d, bm4d, PyWavelets) are installed first; fetch them with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 -d .whl \
#     ml-collections pypng dm-pix bm3d bm4d PyWavelets
# (add --platform manylinux_2_17_x86_64 etc. where one is not found). Tried on a CPU
# with tiny settings: WHEELS=none DEVICE=cpu SIZES=64 BATCH=1,2
# TABLE_FLAGS="--quick --tables=sr_x8_set5" TABLES_S=60 bash
# benchmarks/gpu_check.sh ../shared/data /tmp/gc_out
set -u -o pipefail
DATA=${1:?usage: gpu_check.sh DATA_DIR OUT_DIR}
OUT=${2:?usage: gpu_check.sh DATA_DIR OUT_DIR}
DEVICE=${DEVICE:-gpu}
SIZES=${SIZES:-128,256,512}
BATCH=${BATCH:-1,4,16}
TABLES_S=${TABLES_S:-390}
TABLE_FLAGS=${TABLE_FLAGS:-}
WORK=${WORK:-/tmp/gpu_check}
mkdir -p "$OUT" "$WORK"
WHEELS=${WHEELS:-.whl}   # "none" on a machine that has the packages
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$WORK/jaxcache}
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
python3 -c "import jax, torch; print('jax', jax.__version__, jax.devices(),
'torch', torch.__version__)" 2>&1 | tee "$OUT/devices.txt"

stamp "step_speed" | tee -a "$OUT/devices.txt"
timeout 170 python3 benchmarks/step_speed.py --device "$DEVICE" \
  --sizes "$SIZES" --idle-wait 0 --retries 0 --min-seconds 3 --bf16 \
  --json "$OUT/step_speed.json" > "$OUT/step_speed.txt" 2>&1
echo "exit $?" >> "$OUT/step_speed.txt"

stamp "batch_images" | tee -a "$OUT/devices.txt"
timeout 120 python3 benchmarks/batch_images.py --size 128 --batch "$BATCH" \
  --steps 100 --no-paired --json "$OUT/batch_images.json" \
  > "$OUT/batch_images.txt" 2>&1
echo "exit $?" >> "$OUT/batch_images.txt"

stamp "paper_tables" | tee -a "$OUT/devices.txt"
# The sweeps' folders stay in WORK (too many files to bring back); the
# tables and the log come to OUT.
timeout "$TABLES_S" python3 experiments/paper_tables.py --data_dir="$DATA" \
  --out="$WORK/tables" $TABLE_FLAGS > "$WORK/tables_log.txt" 2>&1
echo "exit $?" >> "$WORK/tables_log.txt"
if ! ls "$WORK"/tables/*.md >/dev/null 2>&1; then
  # Cut before the tables were written: write them from what finished.
  python3 experiments/paper_tables.py --data_dir="$DATA" \
    --out="$WORK/tables" $TABLE_FLAGS --no_run >> "$WORK/tables_log.txt" 2>&1
fi
cp "$WORK/tables/tables.md" "$OUT/" 2>/dev/null
grep -v "^step " "$WORK/tables_log.txt" | tail -300 > "$OUT/tables_log.txt"
stamp "done" | tee -a "$OUT/devices.txt"
