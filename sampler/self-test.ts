// The numeric self-test that decides whether an engine may run generation: a
// tiny fixed computation through the kernels the networks use (conv2d,
// matMul, moments, rsqrt, sigmoid, softmax), compared with the same
// arithmetic in float64 JavaScript. A backend that returns NaN, all zeros
// (typical of a broken GPU driver) or wrong values fails, and the next
// backend in the order is tried. tfjs backends run the computation directly;
// onnxruntime runs it recorded as a graph (sampler/onnx/engine.ts).
import * as tf from '@tensorflow/tfjs-core';

const H = 4;
const W = 4;
const C_IN = 2;
const C_OUT = 3;
const K = 3;
const N_OUT = 5;

/** Fixed inputs: x [1, 4, 4, 2], w [3, 3, 2, 3], m [3, 5]. */
const x = Array.from({ length: H * W * C_IN }, (_, i) => Math.sin(0.37 * i + 0.1));
const w = Array.from({ length: K * K * C_IN * C_OUT }, (_, j) => 0.5 * Math.cos(0.53 * j));
const m = Array.from({ length: C_OUT * N_OUT }, (_, k) => Math.sin(0.91 * k));

/** Largest |deviation| the self-test accepts: every output lies in (0, 1); float32 rounding is ~1e-7. */
export const SELF_TEST_TOLERANCE = 1e-3;

/** The reference outputs in float64: sigmoid(z) then softmax of standardised z, z = conv(x, w) m. */
export function selfTestReference(): Float64Array {
  // y = conv2d(x, w), stride 1, 'same' zero padding: y[h, w, o] = sum x[h+i-1, w+j-1, c] w[i, j, c, o].
  const y = new Float64Array(H * W * C_OUT);
  for (let h = 0; h < H; h++)
    for (let v = 0; v < W; v++)
      for (let o = 0; o < C_OUT; o++) {
        let s = 0;
        for (let i = 0; i < K; i++)
          for (let j = 0; j < K; j++) {
            const hh = h + i - 1;
            const vv = v + j - 1;
            if (hh < 0 || hh >= H || vv < 0 || vv >= W) continue;
            for (let c = 0; c < C_IN; c++) s += x[(hh * W + vv) * C_IN + c] * w[((i * K + j) * C_IN + c) * C_OUT + o];
          }
        y[(h * W + v) * C_OUT + o] = s;
      }
  // z = y [16, 3] m [3, 5].
  const z = new Float64Array(H * W * N_OUT);
  for (let r = 0; r < H * W; r++)
    for (let n = 0; n < N_OUT; n++) {
      let s = 0;
      for (let o = 0; o < C_OUT; o++) s += y[r * C_OUT + o] * m[o * N_OUT + n];
      z[r * N_OUT + n] = s;
    }
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
  const out = new Float64Array(2 * z.length);
  z.forEach((v, i) => (out[i] = 1 / (1 + Math.exp(-v))));
  for (let r = 0; r < H * W; r++) {
    const u = Array.from({ length: N_OUT }, (_, n) => (z[r * N_OUT + n] - mean) / Math.sqrt(variance + 1e-5));
    const top = Math.max(...u);
    const e = u.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, n) => (out[z.length + r * N_OUT + n] = v / sum));
  }
  return out;
}

/** The computation on tfjs tensors -> [160] (under the caller's tidy). */
export function selfTestNetwork(): tf.Tensor {
  const y = tf.conv2d(tf.tensor4d(x, [1, H, W, C_IN]), tf.tensor4d(w, [K, K, C_IN, C_OUT]), 1, 'same');
  const z = tf.matMul(tf.reshape(y, [H * W, C_OUT]), tf.tensor2d(m, [C_OUT, N_OUT]));
  const { mean, variance } = tf.moments(z);
  const u = tf.mul(tf.sub(z, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.concat([tf.reshape(tf.sigmoid(z), [-1]), tf.reshape(tf.softmax(u), [-1])]);
}

/** The computation with tfjs on the active backend. */
export async function selfTestCompute(): Promise<Float32Array> {
  const out = tf.tidy(selfTestNetwork);
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

/** Why `actual` is unacceptable against `expected`, or undefined when it passes. */
export function selfTestProblem(actual: ArrayLike<number>, expected: ArrayLike<number>): string | undefined {
  if (actual.length !== expected.length) return `self-test returned ${actual.length} values, expected ${expected.length}`;
  let nonFinite = 0;
  let zeros = 0;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i])) nonFinite++;
    else if (actual[i] === 0) zeros++;
    else worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  if (nonFinite) return `self-test returned ${nonFinite} non-finite values (NaN or Infinity)`;
  if (zeros === actual.length) return 'self-test returned all zeros';
  if (zeros) return `self-test returned ${zeros} zeros where the reference has none`;
  if (!(worst <= SELF_TEST_TOLERANCE)) return `self-test is off by up to ${worst.toExponential(2)} (tolerance ${SELF_TEST_TOLERANCE})`;
  return undefined;
}

/** Checks an engine's values of selfTestNetwork: resolves to the largest deviation, throws with the reason they fail. */
export function checkSelfTest(actual: ArrayLike<number>): number {
  const expected = selfTestReference();
  const problem = selfTestProblem(actual, expected);
  if (problem) throw new Error(problem);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

/** Runs the self-test on the active tfjs backend (see checkSelfTest). */
export async function selfTest(): Promise<number> {
  return checkSelfTest(await selfTestCompute());
}
