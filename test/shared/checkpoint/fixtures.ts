// Small deterministic checkpoints for the checkpoint suites.
import { Rng } from '../../../shared/rng.ts';
import { encodeCheckpoint, sha256Hex } from '../../../shared/checkpoint/index.ts';
import type { CheckpointMeta, HostTensor, Manifest, Quantization } from '../../../shared/checkpoint/index.ts';

export function sampleMeta(): CheckpointMeta {
  return {
    name: 'tiny-test',
    kind: 'ddpm-unet2d',
    modality: 'xray',
    labels: ['normal', 'pneumonia'],
    model: { channels: 8, levels: 2 },
    schedule: { kind: 'cosine', T: 300 },
    sampler: { name: 'ddim', steps: 20, eta: 0 },
    data: { shape: [16, 16], channels: 1, spacing: [1, 1], intensity: { kind: 'linear', low: 0, high: 255, unit: '' } },
    training: { steps: 10 },
  };
}

export function randomTensor(shape: number[], seed: number, scale = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Rng(seed).normal(n);
  for (let i = 0; i < n; i++) data[i] *= scale;
  return { shape, data };
}

/** A few tensors of the kinds a UNet has: conv filters, dense, bias, norm gain, scalar. */
export function sampleTensors(): Map<string, HostTensor> {
  return new Map<string, HostTensor>([
    ['down.0.conv.w', randomTensor([3, 3, 4, 8], 1, 0.2)],
    ['down.0.conv.b', randomTensor([8], 2, 0.01)],
    ['time.dense.w', randomTensor([16, 8], 3)],
    ['norm.gain', randomTensor([8], 4)],
    ['logit.scale', randomTensor([], 5)],
    ['up.0.conv.w', randomTensor([3, 3, 8, 4], 6, 3)],
  ]);
}

export async function sampleCheckpoint(quantization: Quantization = 'fp32', shardBytes?: number) {
  return encodeCheckpoint(sampleTensors(), sampleMeta(), { quantization, shardBytes });
}

export function manifestOf(files: Map<string, Uint8Array>): Manifest {
  return JSON.parse(new TextDecoder().decode(files.get('manifest.json')!)) as Manifest;
}

export function withManifest(files: Map<string, Uint8Array>, m: unknown): Map<string, Uint8Array> {
  const out = new Map(files);
  out.set('manifest.json', new TextEncoder().encode(JSON.stringify(m, null, 2)));
  return out;
}

/** Replaces a shard and updates the manifest's bytes and sha256 so only the decoder can object. */
export async function withShard(files: Map<string, Uint8Array>, file: string, bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const m = manifestOf(files);
  const spec = m.shards.find((s) => s.file === file)!;
  spec.bytes = bytes.length;
  spec.sha256 = await sha256Hex(bytes);
  const out = withManifest(files, m);
  out.set(file, bytes);
  return out;
}

/** The raw bits of a float32 array, for bit-exact comparisons (-0, NaN payloads). */
export function bits(x: Float32Array): Uint32Array {
  return new Uint32Array(new Float32Array(x).buffer);
}
