// tfjs-backend-webgpu runs Tile of rank >= 5 on the CPU, reading its input
// back synchronously through OffscreenCanvas WebGPU contexts. The networks'
// nearest-neighbour upsampling is a rank-6 tile (shared/models/layers.ts),
// so every UNet step would take that path, and in a worker on SwiftShader it
// loses the device ("A valid external Instance reference no longer exists").
// This replaces the webgpu Tile kernel with one that tiles a high-rank tensor
// one axis at a time as rank-3 tiles [A, d, B] x [1, r, 1], all on the GPU
// (tiling along axis i repeats the whole block of axes i.., exactly like that).
import * as tf from '@tensorflow/tfjs-core';

type TensorInfo = tf.TensorInfo;
interface BackendLike {
  disposeData(dataId: object): void;
}

let installed = false;

export function installWebGpuTile(): void {
  if (installed) return;
  const tile = tf.getKernel('Tile', 'webgpu');
  const reshape = tf.getKernel('Reshape', 'webgpu');
  if (!tile || !reshape) throw new Error('the webgpu backend has no Tile/Reshape kernels');
  const original = tile.kernelFunc;
  const run = (kernel: tf.KernelFunc, x: TensorInfo, backend: unknown, attrs: object) =>
    kernel({ inputs: { x }, backend: backend as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;

  tf.unregisterKernel('Tile', 'webgpu');
  tf.registerKernel({
    kernelName: 'Tile',
    backendName: 'webgpu',
    kernelFunc: (params) => {
      const x = params.inputs.x as TensorInfo;
      const reps = (params.attrs as { reps: number[] }).reps;
      const axes = reps.map((r, i) => (r > 1 ? i : -1)).filter((i) => i >= 0);
      if (x.shape.length < 5 || x.dtype === 'string' || axes.length === 0) return original(params);
      const backend = params.backend as unknown as BackendLike;
      const shape = [...x.shape];
      let cur = x;
      for (const i of axes) {
        const a = shape.slice(0, i).reduce((p, q) => p * q, 1);
        const b = shape.slice(i + 1).reduce((p, q) => p * q, 1);
        const flat = run(reshape.kernelFunc, cur, params.backend, { shape: [a, shape[i], b] });
        const tiled = run(original, flat, params.backend, { reps: [1, reps[i], 1] });
        shape[i] *= reps[i];
        const next = run(reshape.kernelFunc, tiled, params.backend, { shape: [...shape] });
        // Kernel-internal intermediates are not tracked by the engine: free them here (never the input).
        backend.disposeData(flat.dataId);
        backend.disposeData(tiled.dataId);
        if (cur !== x) backend.disposeData(cur.dataId);
        cur = next;
      }
      return cur;
    },
  });
  installed = true;
}
