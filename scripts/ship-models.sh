#!/usr/bin/env bash
# Ships the demo models: exports a training run's EMA weights as an int8
# checkpoint under models/, and evaluates it against its own data split
# (held-out slabs or volumes, never training examples) with the fp32 export
# as reference.
#   scripts/ship-models.sh <run dir> <model id> [--default]
# Writes models/<id>/ (or models/default/ with --default) and
# models/evaluation/<id>/{report.json,grid.png}. The runs are made by the
# recipes in trainer/recipes/ (see models/README.md). The --data entries are
# the run's own (run.json; a latent DDPM's are its VQ-GAN run's), so the
# evaluation rebuilds exactly the split training used.
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1 id=$2 target=models/$2
[[ "${3:-}" == "--default" ]] && target=models/default
mapfile -t data < <(node -e '
  const { readFileSync } = require("node:fs");
  const { join } = require("node:path");
  const json = (p) => JSON.parse(readFileSync(p, "utf8"));
  let record = json(join(process.argv[1], "run.json"));
  if (record.latents) {
    const latents = json(join(record.latents.path, "manifest.json")).training.latents;
    record = json(join(latents.vqgan.run, "run.json"));
  }
  if (!record.data?.length) throw new Error(`${process.argv[1]}: run.json names no --data entries`);
  for (const d of record.data) console.log(`--data\n${d}`);
' "$run")
fp32=.cache/medsynth/fp32/$id
node bin/medsynth.js export "$run" --out "$target" --quantize int8
node bin/medsynth.js export "$run" --out "$fp32" --quantize fp32
node bin/medsynth.js inspect "$target"
node bin/medsynth.js evaluate "$target" "${data[@]}" --reference "$fp32" --count 16 --backend wasm --out "models/evaluation/$id"
