// `medsynth export <latent DDPM run>`: one checkpoint of kind
// latent-ddpm-vqgan3d holding the EMA denoiser (`unet.*`) and the VQ-GAN's
// decoder and codebook (`vqgan.*`), with the source volumes' shape, spacing
// and intensity mapping as `data`, so samples come out in real units (HU for CT).
//
// The VQ-GAN is found through the latents the run trained on, and both are
// checked by hash: the latents must be the ones the run recorded, and the
// VQ-GAN checkpoint the one that encoded them. Anything missing or changed is
// an error naming the folder.
import { basename, resolve } from 'node:path';
import type { Manifest, Quantization } from '../../shared/checkpoint/index.ts';
import { ConfigError } from '../../shared/config.ts';
import { latentDdpm, UNET_PREFIX, VQGAN_PREFIX } from '../../shared/models/latent-ddpm.ts';
import type { Params } from '../../shared/models/types.ts';
import { isSamplingParam } from '../../shared/models/vqgan3d/index.ts';
import { folderSource } from '../../sampler/node/folder-source.ts';
import type { RunRecord } from '../run-record.ts';
import { exportCheckpoint } from '../export.ts';
import { runCheckpoint } from '../run.ts';
import type { Trainer } from '../trainer.ts';
import { VqganTrainer } from '../vqgan/trainer.ts';
import { loadLatents, manifestHash } from './latents.ts';

const short = (hash: string) => hash.slice(0, 12);

/** sha256 of `what`'s manifest.json, or an error naming the folder when it cannot be read. */
async function hashOf(dir: string, what: string, hint: string): Promise<string> {
  try {
    return await manifestHash(folderSource(dir));
  } catch (e) {
    throw new ConfigError('export', `${what} ${dir} cannot be read (${(e as Error).message})${hint}`);
  }
}

export interface LatentExportOptions {
  /** The VQ-GAN run, when it moved from where the latents record it. */
  vqgan?: string;
}

/** The bundled checkpoint's files for a latent DDPM run (`record` is its run.json). */
export async function exportLatentRun(
  trainer: Trainer,
  record: RunRecord,
  quantization: Quantization,
  opts: LatentExportOptions = {},
): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const ref = record.latents!;
  const latentsHash = await hashOf(ref.path, 'the latents folder', ' that this run trained on');
  if (latentsHash !== ref.sha256) {
    throw new ConfigError('export', `the latents folder ${ref.path} changed since this run trained on it (manifest sha256 ${short(latentsHash)}, trained on ${short(ref.sha256)}): retrain on the new latents`);
  }
  const latents = await loadLatents(folderSource(ref.path));
  const made = latents.record.vqgan;
  const vqRun = resolve(opts.vqgan ?? made.run);
  const vqSource = runCheckpoint(vqRun);
  const vqHash = await hashOf(vqSource.location, 'the VQ-GAN checkpoint', `, which encoded ${ref.path}; pass --vqgan <run> if the run moved`);
  if (vqHash !== made.checkpoint) {
    throw new ConfigError(
      'export',
      `the VQ-GAN run ${vqRun} changed since it encoded ${ref.path} (checkpoint manifest sha256 ${short(vqHash)}, the latents were made by ${short(made.checkpoint)} at step ${made.step}): ` +
        'restore that checkpoint, or encode again and retrain',
    );
  }
  const vq = await VqganTrainer.load(vqSource);
  try {
    const [d, h, w] = latents.record.shape;
    const model = latentDdpm({ ...(trainer.model.config as Record<string, unknown>), vqgan: vq.config.model, latent: { shape: [d, h, w], ...latents.scale } });
    const params: Params = new Map();
    for (const [k, v] of trainer.exportParams()) params.set(UNET_PREFIX + k, v);
    for (const [k, v] of vq.exportParams()) if (isSamplingParam(k)) params.set(VQGAN_PREFIX + k, v);
    const source = latents.manifest;
    // Folder names and hashes, never this machine's absolute paths: the manifest is published.
    const training = {
      ...trainer.trainingRecord(),
      latents: basename(ref.path),
      latentsSha256: ref.sha256,
      vqgan: { run: basename(vqRun), step: vq.step, checkpoint: made.checkpoint },
    };
    const meta = {
      ...trainer.spec.meta,
      modality: source.modality,
      ...(source.labels?.length ? { labels: source.labels } : {}),
      data: source.data,
      training,
    };
    return await exportCheckpoint(model, params, meta, quantization);
  } finally {
    vq.dispose();
  }
}
