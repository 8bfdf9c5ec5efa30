#!/usr/bin/env bash
# Ships the demo models: exports a training run's EMA weights as an int8
# checkpoint under models/, and evaluates it against its own data split
# (held-out slabs, never training slices) with the fp32 export as reference.
#   scripts/ship-models.sh <run dir> <model id> [--default]
# Writes models/<id>/ (or models/default/ with --default) and
# models/evaluation/<id>/{report.json,grid.png}. The runs are made by the
# recipes in trainer/recipes/ (see models/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1 id=$2 target=models/$2
[[ "${3:-}" == "--default" ]] && target=models/default
data=(--data human-t1=../shared/data/mri/ch2.nii.gz
      --data macaque-t1=../shared/data/mri/inia19-t1-brain.nii.gz
      --data ct=../shared/data/ct/cranium-ct.nii.gz)
fp32=.cache/medsynth/fp32/$id
node bin/medsynth.js export "$run" --out "$target" --quantize int8
node bin/medsynth.js export "$run" --out "$fp32" --quantize fp32
node bin/medsynth.js inspect "$target"
node bin/medsynth.js evaluate "$target" "${data[@]}" --reference "$fp32" --count 16 --backend wasm --out "models/evaluation/$id"
