// Where a network call spends its time: tf.profile's per-kernel times summed
// by kernel name, split into the conv/matmul kernels (the arithmetic) and
// everything else (norms, activations, copies, reshapes).
//
// tf.profile also records ops that are not backend kernels (tf.customGrad
// wrappers, named after their scope), whose time already includes the kernels
// they run; they are left out so no time is counted twice.
import * as tf from '@tensorflow/tfjs-core';
import { median as medianOf } from '../common/stats.ts';

const median = (values: number[]) => medianOf(values)!;

/** The kernels that do a network's multiply-adds. */
export const CONV_MATMUL_KERNELS = new Set(['Conv2D', 'FusedConv2D', 'BatchMatMul', '_FusedMatMul', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'Conv3D']);

export interface KernelProfile {
  /** Wall time of the profiled call (profiling adds a little per kernel). */
  wallMs: number;
  /** Per backend kernel: calls and summed kernel time, largest first. */
  kernels: { name: string; calls: number; ms: number }[];
  /** Summed kernel time of the conv/matmul kernels, and of all backend kernels. */
  convMatmulMs: number;
  kernelMs: number;
  /** convMatmulMs / kernelMs. */
  kernelShare: number;
  /** Peak bytes held by tensors during the call (tf.memory's count). */
  peakBytes: number;
}

/**
 * Profiles `runs` synchronous calls of `f` (the tensors it returns are
 * disposed) and reports the median of each figure over the runs, so one
 * call slowed by a busy machine does not decide the split.
 */
export async function profileKernels(f: () => tf.TensorContainer, runs = 1): Promise<KernelProfile> {
  const profiles: KernelProfile[] = [];
  for (let r = 0; r < runs; r++) profiles.push(await profileOnce(f));
  const names = [...new Set(profiles.flatMap((p) => p.kernels.map((k) => k.name)))];
  const kernels = names
    .map((name) => {
      const per = profiles.map((p) => p.kernels.find((k) => k.name === name));
      return { name, calls: median(per.map((k) => k?.calls ?? 0)), ms: median(per.map((k) => k?.ms ?? 0)) };
    })
    .sort((a, b) => b.ms - a.ms);
  const pick = (get: (p: KernelProfile) => number) => median(profiles.map(get));
  return {
    wallMs: pick((p) => p.wallMs),
    kernels,
    convMatmulMs: pick((p) => p.convMatmulMs),
    kernelMs: pick((p) => p.kernelMs),
    kernelShare: pick((p) => p.kernelShare),
    peakBytes: Math.max(...profiles.map((p) => p.peakBytes)),
  };
}

async function profileOnce(f: () => tf.TensorContainer): Promise<KernelProfile> {
  const backend = tf.getBackend();
  let wallMs = 0;
  const info = await tf.profile(() => {
    const t0 = performance.now();
    const out = f();
    // Kernels run synchronously on cpu and wasm; reading the outputs waits for any that do not.
    for (const t of tensorsOf(out)) t.dataSync();
    wallMs = performance.now() - t0;
    tf.dispose(out);
    return [];
  });
  const byName = new Map<string, { calls: number; ms: number }>();
  for (const k of info.kernels) {
    if (tf.getKernel(k.name, backend) === undefined) continue; // a wrapper (customGrad), already counted inside
    const e = byName.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  const kernels = [...byName].map(([name, v]) => ({ name, ...v })).sort((a, b) => b.ms - a.ms);
  const kernelMs = kernels.reduce((s, k) => s + k.ms, 0);
  const convMatmulMs = kernels.filter((k) => CONV_MATMUL_KERNELS.has(k.name)).reduce((s, k) => s + k.ms, 0);
  return {
    wallMs,
    kernels,
    convMatmulMs,
    kernelMs,
    kernelShare: kernelMs > 0 ? convMatmulMs / kernelMs : 0,
    peakBytes: info.peakBytes,
  };
}

function tensorsOf(c: tf.TensorContainer): tf.Tensor[] {
  if (c instanceof tf.Tensor) return [c];
  if (Array.isArray(c)) return c.flatMap(tensorsOf);
  if (c && typeof c === 'object') return Object.values(c).flatMap((v) => tensorsOf(v as tf.TensorContainer));
  return [];
}
