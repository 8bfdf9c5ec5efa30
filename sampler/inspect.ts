// `medsynth inspect`: the manifest in brief, verified by exactly the checks
// `sample` runs: loadModel itself (every shard's length, sha256 and tensors,
// then the model config, labels, data shape, sampler and schedule against
// the weights), so inspect never calls verified what sample refuses.
import type * as tf from '@tensorflow/tfjs-core';
import type { CheckpointSource, Manifest } from '../shared/checkpoint/index.ts';
import { LATENT_DDPM_KIND, UNET_PREFIX, VQGAN_PREFIX, type LatentDdpmConfig } from '../shared/models/latent-ddpm.ts';
import { loadModel } from './load.ts';

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

/** A latent model's two networks: the denoiser and the VQ-GAN decoder, with their sizes. */
function networkLines(m: Manifest, tensors: Map<string, tf.Tensor>): string[] {
  if (m.kind !== LATENT_DDPM_KIND) return [];
  const count = (prefix: string) => {
    const ts = [...tensors].filter(([k]) => k.startsWith(prefix));
    return `${ts.length} tensors, ${ts.reduce((n, [, t]) => n + t.size, 0).toLocaleString('en-US')} parameters`;
  };
  const c = m.model as Partial<LatentDdpmConfig>;
  const l = c.latent;
  const v = c.vqgan;
  return [
    `  denoiser (${UNET_PREFIX}*): UNet3D on latents ${l?.shape?.join('x')} x ${c.channels}, ${count(UNET_PREFIX)}`,
    `  decoder (${VQGAN_PREFIX}*): VQ-GAN decoder, downsample ${v?.downsample?.join('x')}, codebook ${v?.nCodes} x ${v?.embeddingDim}, ${count(VQGAN_PREFIX)}`,
    `  latent scale: codebook values [${l?.min}, ${l?.max}] <-> [-1, 1]`,
  ];
}

/** What inspect found and checked (`medsynth inspect --json`). */
export interface InspectReport {
  checkpoint: string;
  name: string;
  format: string;
  version: string;
  kind: string;
  modality: string;
  labels: string[];
  data: Manifest['data'];
  schedule: Manifest['schedule'];
  sampler: Manifest['sampler'];
  quantization: string;
  tensors: number;
  parameters: number;
  bytes: number;
  shards: { file: string; bytes: number; sha256: string }[];
  training: Manifest['training'] | null;
  /** What was verified, in the words the text output uses. */
  verified: string[];
}

const VERIFIED = [
  'every shard matches its length and sha256 and decodes to the declared tensors',
  'the model config, labels, data shape, sampler and schedule fit the weights (the checks `sample` runs)',
];

/** Loads `source` exactly as `sample` does and describes it: a report, and the same as text lines. */
export async function inspectCheckpoint(source: CheckpointSource): Promise<{ report: InspectReport; lines: string[] }> {
  const loaded = await loadModel(source);
  try {
    const { manifest: m, params: tensors } = loaded;
    const report: InspectReport = {
      checkpoint: source.location,
      name: m.name,
      format: m.format,
      version: m.version,
      kind: m.kind,
      modality: m.modality,
      labels: m.labels ?? [],
      data: m.data,
      schedule: m.schedule,
      sampler: m.sampler,
      quantization: m.quantization,
      tensors: m.tensors.length,
      parameters: [...tensors.values()].reduce((n, t) => n + t.size, 0),
      bytes: m.shards.reduce((n, s) => n + s.bytes, 0),
      shards: m.shards.map(({ file, bytes, sha256 }) => ({ file, bytes, sha256 })),
      training: m.training ?? null,
      verified: VERIFIED,
    };
    const d = m.data;
    const lines = [
      `checkpoint: ${source.location}`,
      `name: ${m.name} (format ${m.format} ${m.version})`,
      `kind: ${m.kind}, modality: ${m.modality}${m.labels?.length ? `, labels: ${m.labels.join(', ')}` : ''}`,
      `data: ${d.shape.join('x')} x ${d.channels} channel(s), spacing ${d.spacing.join('x')} mm, intensity ${JSON.stringify(d.intensity)}`,
      `schedule: ${JSON.stringify(m.schedule)}`,
      `sampler: ${m.sampler.name}, ${m.sampler.steps} steps${m.sampler.guidance !== undefined ? `, guidance ${m.sampler.guidance}` : ''}`,
      `weights: ${m.tensors.length} tensors, ${report.parameters.toLocaleString('en-US')} parameters, ${m.quantization}, ${m.shards.length} shard(s), ${mib(report.bytes)}`,
      ...networkLines(m, tensors),
      ...m.shards.map((s) => `  ${s.file}  ${s.bytes} bytes  sha256 ${s.sha256}  ok`),
      ...(m.training ? [`training: ${JSON.stringify(m.training)}`] : []),
      `verified: ${VERIFIED[0]};`,
      `  ${VERIFIED[1]}`,
    ];
    return { report, lines };
  } finally {
    loaded.dispose();
  }
}
