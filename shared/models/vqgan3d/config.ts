// The 3D VQ-GAN's network config (Medical Diffusion, Khader et al. 2022, after
// TATS, Ge et al. 2022): defaults and validation in one place.
import { z } from 'zod';
import { parseConfig } from '../../config.ts';
import type { Triple } from '../layers3d.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const powerOf2 = int(1, 64).refine((f) => (f & (f - 1)) === 0, 'must be a power of 2');

export const Vqgan3dConfigSchema = z
  .strictObject({
    /** Image channels in and out. */
    channels: int(1, 16).default(1),
    /** Width after the first conv; level l of the encoder has nHiddens * 2^(l+1) channels (paper: 16). */
    nHiddens: int(1, 1024).default(16),
    /** Downsampling factor per axis [D, H, W], each a power of 2: levels = log2(max factor). */
    downsample: z.tuple([powerOf2, powerOf2, powerOf2]).default([4, 4, 4]),
    /** Codebook entries x their width (paper: 16384 x 8). */
    nCodes: int(2, 65_536).default(512),
    embeddingDim: int(1, 1024).default(8),
    /** GroupNorm groups; must divide 2 * nHiddens, the narrowest normalised width (paper: 32). */
    groups: int(1, 1024).default(8),
  })
  .superRefine((c, ctx) => {
    if (Math.max(...c.downsample) < 2) ctx.addIssue({ code: 'custom', path: ['downsample'], message: 'needs at least one factor > 1' });
    if ((2 * c.nHiddens) % c.groups !== 0) ctx.addIssue({ code: 'custom', path: ['groups'], message: `${c.groups} must divide 2 * nHiddens = ${2 * c.nHiddens}` });
  });
export type Vqgan3dConfig = z.infer<typeof Vqgan3dConfigSchema>;

export function parseVqgan3dConfig(raw: unknown, prefix = 'model'): Vqgan3dConfig {
  return parseConfig(Vqgan3dConfigSchema, raw, prefix);
}

/**
 * Per-level strides of the encoder, TATS's rule: at level l an axis is
 * strided by 2 while it still has downsampling left (l < log2(factor)).
 * [2, 4, 4] -> [[2, 2, 2], [1, 2, 2]].
 */
export function levelStrides(downsample: Triple): Triple[] {
  const logs = downsample.map((f) => Math.log2(f));
  return Array.from({ length: Math.max(...logs) }, (_, l) => logs.map((n) => (l < n ? 2 : 1)) as Triple);
}
