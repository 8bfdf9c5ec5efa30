// The recorded graph of models/default against the same network exported by
// hand (hand-export/unet2d.py: PyTorch, torch.onnx.export), both on
// onnxruntime-node with the engine's session settings, interleaved round by
// round at each thread count: what a user would get by exporting the
// network themselves. Part of `npm run bench:engines -- --hand file.onnx`.
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import type { LoadedModel } from '../../sampler/load.ts';
import { sessionOptions } from '../../sampler/onnx/engine.ts';
import { networkGraph } from '../../sampler/onnx/network.ts';
import { median } from '../common/stats.ts';

export interface HandExportRow {
  threads: number;
  recordedMs: number;
  handMs: number;
  /** recordedMs / handMs, medians of the same run. */
  ratio: number;
  rounds: { recordedMs: number[]; handMs: number[] };
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Per-call ms (median over rounds of the median of `runs` calls) of both graphs at batch 1, for each thread count. */
export async function compareHandExport(m: LoadedModel, hand: Uint8Array, threadCounts: number[], rounds: number, runs: number): Promise<HandExportRow[]> {
  const shape = [1, ...m.manifest.data.shape, m.model.input.channels];
  const recorded = networkGraph(m.model, m.params, shape, m.int8Weights);
  const n = shape.reduce((a, b) => a * b, 1);
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i)), shape) };
  const t = tf.tensor1d([0.3]);
  const films = m.model.condition(m.params, t);
  try {
    films.forEach((f, i) => {
      feeds[`scale${i}`] = new ort.Tensor('float32', f.scale.dataSync() as Float32Array, f.scale.shape);
      feeds[`shift${i}`] = new ort.Tensor('float32', f.shift.dataSync() as Float32Array, f.shift.shape);
    });
  } finally {
    tf.dispose([t, ...films.flatMap((f) => [f.scale, f.shift])]);
  }
  const rows: HandExportRow[] = [];
  for (const threads of threadCounts) {
    const sessions = await Promise.all([recorded.bytes, hand].map((b) => ort.InferenceSession.create(b, sessionOptions({ threads }))));
    try {
      const names = sessions.map((s) => s.inputNames.slice().sort().join(','));
      if (names[0] !== names[1]) throw new Error(`--hand: the hand export's inputs (${names[1]}) are not the recorded graph's (${names[0]})`);
      const per: [number[], number[]] = [[], []];
      for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(feeds); // warm
      for (let r = 0; r < rounds; r++) {
        for (const [k, s] of sessions.entries()) {
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            await s.run(feeds);
            times.push(performance.now() - t0);
          }
          per[k].push(median(times)!);
        }
      }
      const [recordedMs, handMs] = per.map((v) => median(v)!);
      rows.push({ threads, recordedMs: round2(recordedMs), handMs: round2(handMs), ratio: round2(recordedMs / handMs), rounds: { recordedMs: per[0].map(round2), handMs: per[1].map(round2) } });
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }
  return rows;
}
