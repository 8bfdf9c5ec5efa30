// What a latent DDPM run trains: the preset's UNet3D (kind ddpm-unet3d) on a
// latents folder's examples. The preset's meta.data names the latent grid it
// was sized for; latents of another grid or width are refused, naming the
// folder, rather than silently building a different network.
import { ConfigError } from '../../shared/config.ts';
import { trainSpec, type RunConfig } from '../run-config.ts';
import type { TrainSpec } from '../trainer.ts';
import type { Latents } from './latents.ts';

/** The latent DDPM's data: scaled codebook vectors in [-1, 1], no real units (export puts the volume's back). */
const LATENT_SPACE = { kind: 'linear', low: -1, high: 1, unit: '' } as const;

export function latentTrainSpec(config: RunConfig, latents: Latents): TrainSpec {
  const spec = trainSpec(config);
  const want = spec.meta.data;
  const [d, h, w, e] = latents.record.shape;
  if (want.shape.join() !== [d, h, w].join() || want.channels !== e) {
    const v = latents.vqgan;
    throw new ConfigError(
      '--latents',
      `${latents.location}: latents of [${[d, h, w]}] x ${e} (VQ-GAN downsample [${v.downsample}], embeddingDim ${v.embeddingDim}) do not fit preset ${config.preset}, ` +
        `which expects [${want.shape}] x ${want.channels} (meta.data.shape, meta.data.channels): encode with the VQ-GAN it pairs with, ` +
        `or set meta.data.shape=[${[d, h, w]}] and meta.data.channels=${e}`,
    );
  }
  const m = latents.manifest;
  const labels = m.labels?.length ? m.labels : undefined;
  return {
    kind: 'ddpm-unet3d',
    model: { ...spec.model, channels: e, depth: d, ...(labels ? { numClasses: labels.length } : {}) },
    meta: {
      ...spec.meta,
      modality: m.modality,
      ...(labels ? { labels } : {}),
      // A latent voxel covers `downsample` volume voxels.
      data: { shape: [d, h, w], channels: e, spacing: m.data.spacing.map((s, i) => s * latents.vqgan.downsample[i]), intensity: LATENT_SPACE },
    },
  };
}
