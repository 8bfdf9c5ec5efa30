#!/usr/bin/env bash
# The README's gallery: samples of every shipped model, per class, with fixed
# seeds, through the same `medsynth sample` users run.
#   scripts/gallery.sh            -> docs/gallery/<model folder>-<class>.png
# 2D models: 8 samples in a montage; volumes: one volume's axial slices.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/gallery
for manifest in models/*/manifest.json; do
  dir=$(dirname "$manifest") id=$(basename "$(dirname "$manifest")")
  read -r dims labels < <(node -e '
    const m = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    console.log(m.data.shape.length, (m.labels ?? ["-"]).join(","));' "$manifest")
  count=8; [[ $dims == 3 ]] && count=1
  for label in ${labels//,/ }; do
    args=(--model "$dir" --count "$count" --seed 1 --backend wasm --quiet)
    [[ $label != - ]] && args+=(--label "$label")
    out=docs/gallery/$id${label/#/-}.png; [[ $label == - ]] && out=docs/gallery/$id.png
    node bin/medsynth.js sample "${args[@]}" --out "$out"
    echo "$out: node bin/medsynth.js sample ${args[*]} --out $out"
  done
done
