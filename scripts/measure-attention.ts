// Times formulations of multi-head attention scores/outputs on the wasm and
// cpu backends, to choose the one shared/models/layers.ts uses (DESIGN §5:
// wasm's batched matMul falls back to a scalar loop). Run:
//   npx tsx scripts/measure-attention.ts [wasm|cpu ...]
//
// S independent sequences (batch x heads) of L tokens with d channels each:
//   per-slice   one batch-1 untransposed matMul per sequence, k transposed explicitly
//   batched     one tf.matMul over [S, L, d] x [S, d, L], k transposed explicitly
//   batched-T   one tf.matMul(q, k, false, true) over [S, L, d] x [S, L, d]
//   broadcast   scores as sum(q[:, :, None] * k[:, None]) (rank 4), outputs likewise
import * as tf from '@tensorflow/tfjs-core';
import { parseBackendName, selectBackend } from '../sampler/backend.ts';
import { Rng } from '../shared/rng.ts';

type Impl = (q: tf.Tensor3D, kT: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;

const IMPLS: Record<string, Impl> = {
  'per-slice': (q, kT, _k, v) => {
    const qs = tf.unstack(q) as tf.Tensor2D[];
    const ks = tf.unstack(kT) as tf.Tensor2D[];
    const vs = tf.unstack(v) as tf.Tensor2D[];
    return tf.stack(qs.map((qi, i) => tf.matMul(tf.softmax(tf.matMul(qi, ks[i])), vs[i]))) as tf.Tensor3D;
  },
  batched: (q, kT, _k, v) => tf.matMul(tf.softmax(tf.matMul(q, kT)), v),
  'batched-T': (q, _kT, k, v) => tf.matMul(tf.softmax(tf.matMul(q, k, false, true)), v),
  broadcast: (q, _kT, k, v) => {
    const [S, L, d] = q.shape;
    const s = tf.sum(tf.mul(tf.reshape(q, [S, L, 1, d]), tf.reshape(k, [S, 1, L, d])), 3); // [S, L, L]
    const p = tf.softmax(s);
    return tf.sum(tf.mul(tf.reshape(p, [S, L, L, 1]), tf.reshape(v, [S, 1, L, d])), 2) as tf.Tensor3D; // [S, L, d]
  },
};

// [label, S, L, d]: spatial attention (few long sequences), depth attention (many short ones).
const CASES: [string, number, number, number][] = [
  ['spatial 16x16, B=2 x 4 heads', 8, 256, 32],
  ['spatial 32x32, B=2 x 4 heads', 8, 1024, 32],
  ['spatial 8x8 per slice, B=2 x D=16 x 4 heads', 128, 64, 16],
  ['spatial 16x16 per slice, B=1 x D=16 x 4 heads', 64, 256, 16],
  ['depth D=8 at 16x16, B=2 x 4 heads', 2048, 8, 16],
  ['depth D=16 at 32x32, B=1 x 4 heads', 4096, 16, 32],
  ['depth D=32 at 16x16, B=1 x 4 heads', 1024, 32, 32],
];

function timeIt(f: () => tf.Tensor, minMs = 400): number {
  tf.dispose(f()); // warm-up (xnnpack operator creation, kernel setup)
  let n = 0;
  const start = performance.now();
  do {
    const out = f();
    out.dataSync();
    out.dispose();
    n++;
  } while (performance.now() - start < minMs);
  return (performance.now() - start) / n;
}

const backends = process.argv.slice(2).map(parseBackendName);
for (const backend of backends.length ? backends : (['wasm', 'cpu'] as const)) {
  await selectBackend(backend, { tfjsOnly: true });
  console.log(`\n${backend}: ms per call (GFLOP/s), FLOPs = 4 S L^2 d`);
  for (const [label, S, L, d] of CASES) {
    const rng = new Rng(1);
    const q = tf.tensor3d(rng.normal(S * L * d), [S, L, d]);
    const k = tf.tensor3d(rng.normal(S * L * d), [S, L, d]);
    const v = tf.tensor3d(rng.normal(S * L * d), [S, L, d]);
    const kT = tf.transpose(k, [0, 2, 1]) as tf.Tensor3D;
    const flops = 4 * S * L * L * d;
    const cells: string[] = [];
    for (const [name, impl] of Object.entries(IMPLS)) {
      if (backend === 'cpu' && name === 'batched-T') continue; // same kernel as batched on cpu
      const ms = timeIt(() => tf.tidy(() => impl(q, kT, k, v)));
      cells.push(`${name} ${ms.toFixed(2)} (${(flops / ms / 1e6).toFixed(1)})`);
    }
    console.log(`  ${label} [S=${S} L=${L} d=${d}]: ${cells.join(' | ')}`);
    tf.dispose([q, k, v, kT]);
  }
}
