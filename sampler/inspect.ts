// `medsynth inspect`: the manifest in brief, and every shard verified
// (length, sha256, decoding, manifest cross-checks) by the real loader.
import { loadCheckpoint, type CheckpointSource } from '../shared/checkpoint/index.ts';

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

export async function inspectCheckpoint(source: CheckpointSource): Promise<string[]> {
  const { manifest: m, tensors } = await loadCheckpoint(source);
  const params = [...tensors.values()].reduce((n, t) => n + t.data.length, 0);
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
    ...m.shards.map((s) => `  ${s.file}  ${s.bytes} bytes  sha256 ${s.sha256}  ok`),
    ...(m.training ? [`training: ${JSON.stringify(m.training)}`] : []),
    'verified: every shard matches its length and sha256 and decodes to the declared tensors',
  ];
}
