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

export async function inspectCheckpoint(source: CheckpointSource): Promise<string[]> {
  const loaded = await loadModel(source);
  try {
    const { manifest: m, params: tensors } = loaded;
    const params = [...tensors.values()].reduce((n, t) => n + t.size, 0);
    const bytes = m.shards.reduce((n, s) => n + s.bytes, 0);
    const d = m.data;
    return [
      `checkpoint: ${source.location}`,
      `name: ${m.name} (format ${m.format} ${m.version})`,
      `kind: ${m.kind}, modality: ${m.modality}${m.labels?.length ? `, labels: ${m.labels.join(', ')}` : ''}`,
      `data: ${d.shape.join('x')} x ${d.channels} channel(s), spacing ${d.spacing.join('x')} mm, intensity ${JSON.stringify(d.intensity)}`,
      `schedule: ${JSON.stringify(m.schedule)}`,
      `sampler: ${m.sampler.name}, ${m.sampler.steps} steps${m.sampler.guidance !== undefined ? `, guidance ${m.sampler.guidance}` : ''}`,
      `weights: ${m.tensors.length} tensors, ${params.toLocaleString('en-US')} parameters, ${m.quantization}, ${m.shards.length} shard(s), ${mib(bytes)}`,
      ...networkLines(m, tensors),
      ...m.shards.map((s) => `  ${s.file}  ${s.bytes} bytes  sha256 ${s.sha256}  ok`),
      ...(m.training ? [`training: ${JSON.stringify(m.training)}`] : []),
      'verified: every shard matches its length and sha256 and decodes to the declared tensors;',
      '  the model config, labels, data shape, sampler and schedule fit the weights (the checks `sample` runs)',
    ];
  } finally {
    loaded.dispose();
  }
}
