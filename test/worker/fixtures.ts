// Fixtures for the worker suites: tiny real checkpoints (a 16x16 UNet2D),
// an in-memory ModelStorage, and a scriptable fake SampleService.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { createModel } from '../../shared/models/index.ts';
import { selectBackend } from '../../sampler/backend.ts';
import { exportCheckpoint } from '../../trainer/export.ts';
import { noneMatchHits } from '../../worker/http/conditional.ts';
import type { SampleProgress, SampleJob, SampleResult, SampleService } from '../../worker/sample-service.ts';
import type { ModelStorage, StoredFile } from '../../worker/storage.ts';

export interface TinyOptions {
  name?: string;
  /** Makes the model class-conditional. */
  labels?: string[];
  /** The manifest's default sampler steps. */
  steps?: number;
  seed?: number;
  /** Multiplies every parameter: a huge value makes generation overflow to non-finite values. */
  scale?: number;
  /** Small values give several shards. */
  shardBytes?: number;
}

/** A tiny ddpm-unet2d checkpoint (16x16, 8 base channels): manifest.json and shards. */
export async function tinyCheckpointFiles(opts: TinyOptions = {}): Promise<Map<string, Uint8Array>> {
  await selectBackend('cpu');
  const labels = opts.labels ?? [];
  const model = createModel('ddpm-unet2d', { channels: 1, baseChannels: 8, channelMult: [1, 2], numResBlocks: 1, groups: 4, heads: 2, numClasses: labels.length });
  const init = model.init(opts.seed ?? 1);
  const params = new Map([...init].map(([k, t]) => [k, opts.scale === undefined ? t : tf.mul(t, opts.scale)]));
  try {
    const meta = {
      name: opts.name ?? 'tiny-mri',
      modality: 'mri' as const,
      ...(labels.length ? { labels } : {}),
      schedule: { kind: 'cosine', T: 100 },
      sampler: { name: 'ddim', steps: opts.steps ?? 3 },
      data: { shape: [16, 16], channels: 1, spacing: [1, 1], intensity: { kind: 'linear' as const, low: 0, high: 255, unit: '' } },
    };
    const { files } = await exportCheckpoint(model, params, meta, 'fp32', opts.shardBytes);
    return files;
  } finally {
    tf.dispose([...init.values(), ...params.values()]);
  }
}

export const sha256Etag = (bytes: Uint8Array) => `"sha256-${createHash('sha256').update(bytes).digest('hex')}"`;

/** Streams `bytes` in small chunks, as a real storage would. */
function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream({
    pull(c) {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + 1000));
      pos += 1000;
    },
  });
}

/** ModelStorage over `models` (id -> file name -> bytes), with sha256 ETags; edits to the maps show up at once. */
export function memoryStorage(models: Map<string, Map<string, Uint8Array>>): ModelStorage & { gets: string[] } {
  const gets: string[] = [];
  const find = (id: string, file: string) => models.get(id)?.get(file);
  return {
    gets,
    async listModels() {
      return [...models].filter(([, files]) => files.has('manifest.json')).map(([id]) => id).sort();
    },
    async head(id, file) {
      const bytes = find(id, file);
      return bytes && { size: bytes.length, etag: sha256Etag(bytes) };
    },
    async get(id, file, opts = {}): Promise<StoredFile | undefined> {
      gets.push(`${id}/${file}`);
      const bytes = find(id, file);
      if (!bytes) return undefined;
      const info = { size: bytes.length, etag: sha256Etag(bytes) };
      if (noneMatchHits(opts.ifNoneMatch, info.etag)) return info;
      const { offset, length } = opts.range ?? { offset: 0, length: bytes.length };
      return { ...info, body: chunked(bytes.subarray(offset, offset + length)) };
    },
  };
}

export interface FakeCall {
  id: string;
  request: SampleJob;
  signal: AbortSignal;
}

/**
 * A SampleService that reports `steps` progress events (one per macrotask,
 * so aborts can land between them) and then answers `result`, unless
 * `behaviour` says otherwise: fail after a step, or hang until aborted.
 */
export function fakeSampler(behaviour: { failAfter?: number; error?: unknown; hang?: boolean; stepMs?: number } = {}): SampleService & { calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  return {
    calls,
    async sample(id, request, { signal, onProgress }): Promise<SampleResult> {
      calls.push({ id, request, signal });
      const tick = () => new Promise((r) => setTimeout(r, behaviour.stepMs ?? 0));
      for (let step = 1; step <= request.steps || behaviour.hang; step++) {
        signal.throwIfAborted();
        await tick();
        signal.throwIfAborted();
        if (step <= request.steps) onProgress?.({ step, totalSteps: request.steps } satisfies SampleProgress);
        if (behaviour.failAfter === step) throw behaviour.error ?? new Error('the fake sampler failed');
        if (step > 10_000) throw new Error('fake sampler: hang never aborted'); // bounded loop
      }
      return { contentType: 'image/png', body: new TextEncoder().encode(`png:${id}:${request.seed}`), filename: `${id}.png` };
    },
  };
}
