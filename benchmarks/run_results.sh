#!/usr/bin/env bash
# Reproduce docs/results.md: every trigger-size model x 3 seeds, then the comparison table and plots.
#   DATA=data/gen5_20k.h5 SHARDS=2 benchmarks/run_results.sh [extra dotted overrides]
# Environment: DATA, OUT, SHARDS (parallel processes), SEEDS, MODELS (comma list; default: every
# trigger-size model), BATCH, EPOCHS, PLOTS, LR (one learning rate for all; empty = each model's packaged
# config). The committed tables used (see docs/results.md):
#   main:    LR= DATA=data/gen5_20k.h5 OUT=runs/final20k BATCH=256 EPOCHS=3 PLOTS=docs/figures/results_full20k
#   longer:  LR= DATA=data/gen5_20k.h5 OUT=runs/long20k BATCH=256 EPOCHS=20 SEEDS=0 PLOTS=docs/figures/results_long20k
#            MODELS=deepsets_tiny,pointnet_tiny,linformer_tiny,salt,hept_small,phat_small,transformer_tiny
#   table 1: DATA=data/gen5_small.h5 OUT=runs/results (defaults otherwise)
#   table 2: DATA='data/gen5_20k.h5.parts/shard-*-0000[0-2].h5' OUT=runs/results20k BATCH=128 EPOCHS=4
#            MODELS=deepsets_tiny,pointnet_tiny,linformer_tiny,salt,hept_small,phat_small,transformer_tiny
set -euo pipefail
DATA=${DATA:-data/gen5_20k.h5}
OUT=${OUT:-runs/results}
SHARDS=${SHARDS:-2}
SEEDS=${SEEDS:-0,1,2}
PY=${PY:-.venv/bin/python}
BATCH=${BATCH:-64}
EPOCHS=${EPOCHS:-10}
LR=${LR-2e-3}
SETTINGS=(data.num_particles=64 data.feature_set=ptetaphi data.batch_size=$BATCH ${LR:+optim.lr=$LR}
          trainer.max_epochs=$EPOCHS trainer.patience=4 trainer.progress=false trainer.threads=1 "$@")
mkdir -p "$OUT"
pids=()
for ((i = 0; i < SHARDS; i++)); do
  "$PY" benchmarks/run_results.py --data "$DATA" --out "$OUT" --seeds "$SEEDS" --shard "$i/$SHARDS" ${MODELS:+--models "$MODELS"} \
    "${SETTINGS[@]}" > "$OUT/shard$i.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
grep -h "acc\|done" "$OUT"/shard*.log
.venv/bin/tagformer compare "$OUT" --csv "$OUT/results.csv" --plot "${PLOTS:-docs/figures/results}"
