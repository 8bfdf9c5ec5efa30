// The ResNet encoder and decoder of Medical VDM's latent diffusion (DESIGN
// §3.2): images to a latent grid and back, each of ResNet blocks (GroupNorm,
// SiLU, 3x3 conv, twice, plus a skip) per level, halving (encoder) or
// doubling (decoder) the resolution between levels.
//
// The encoder ends in tanh: latents in (-1, 1), the range VDM's data term
// and prior assume for its inputs (pixel VDM trains on [-1, 1] images). The
// decoder gives, per pixel, the mean and log-scale of a discretised logistic
// likelihood of the image (trainer/losses/latent-vdm.ts); decode() is the mean.
//
// Parameters under `enc.` and `dec.`.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { conv2d, groupNorm, silu, upsample2x } from './layers.ts';
import type { ParamList } from './params.ts';
import type { Params } from './types.ts';

const positiveInt = (max: number) => z.number().int().min(1).max(max);

export const AutoencoderConfigSchema = z.strictObject({
  /** Channels per level; the resolution halves between levels (so a latent side is the image's / 2^(levels - 1)). */
  channels: z.array(positiveInt(1024)).min(1).max(6).default([32, 64, 64]),
  /** ResNet blocks per level. */
  blocks: positiveInt(8).default(1),
  groups: positiveInt(128).default(8),
});
export type AutoencoderConfig = z.infer<typeof AutoencoderConfigSchema>;

/** The image side's divisor: 2^(levels - 1). */
export const downFactor = (c: AutoencoderConfig) => 2 ** (c.channels.length - 1);

/** log-scale floor of the decoder's logistic (PixelCNN++'s -7). */
export const MIN_LOG_SCALE = -7;

function declareBlock(p: ParamList, name: string, cin: number, cout: number): void {
  p.norm(`${name}.norm1`, cin);
  p.conv(`${name}.conv1`, 3, cin, cout);
  p.norm(`${name}.norm2`, cout);
  p.conv(`${name}.conv2`, 3, cout, cout, true);
  if (cin !== cout) p.conv(`${name}.skip`, 1, cin, cout);
}

/** out = skip(x) + conv2(SiLU(GN(conv1(SiLU(GN(x)))))); x [B, H, W, Cin] -> [B, H, W, Cout]. */
function block(params: Params, name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  return tf.tidy(() => {
    const h = conv2d(params, `${name}.conv1`, silu(groupNorm(params, `${name}.norm1`, x, groups)) as tf.Tensor4D);
    const r = conv2d(params, `${name}.conv2`, silu(groupNorm(params, `${name}.norm2`, h, groups)) as tf.Tensor4D);
    return tf.add(params.has(`${name}.skip.w`) ? conv2d(params, `${name}.skip`, x) : x, r) as tf.Tensor4D;
  });
}

export function declareAutoencoder(p: ParamList, c: AutoencoderConfig, imageChannels: number, latentChannels: number): void {
  const ch = c.channels;
  p.conv('enc.conv_in', 3, imageChannels, ch[0]);
  ch.forEach((cout, l) => {
    const cin = l === 0 ? ch[0] : ch[l - 1];
    for (let b = 0; b < c.blocks; b++) declareBlock(p, `enc.${l}.block${b}`, b === 0 ? cin : cout, cout);
    if (l < ch.length - 1) p.conv(`enc.${l}.down`, 3, cout, cout);
  });
  p.norm('enc.norm_out', ch[ch.length - 1]);
  p.conv('enc.conv_out', 3, ch[ch.length - 1], latentChannels);

  const top = ch.length - 1;
  p.conv('dec.conv_in', 3, latentChannels, ch[top]);
  for (let l = top; l >= 0; l--) {
    const cin = l === top ? ch[top] : ch[l + 1];
    for (let b = 0; b < c.blocks; b++) declareBlock(p, `dec.${l}.block${b}`, b === 0 ? cin : ch[l], ch[l]);
    if (l > 0) p.conv(`dec.${l}.up`, 3, ch[l], ch[l]);
  }
  p.norm('dec.norm_out', ch[0]);
  // Two outputs per image channel: the logistic's mean and log-scale.
  p.conv('dec.conv_out', 3, ch[0], 2 * imageChannels);
}

/** x [B, H, W, C] in [-1, 1] -> latents f [B, H/k, W/k, latentChannels] in (-1, 1), k = downFactor. */
export function encode(params: Params, c: AutoencoderConfig, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    let h = conv2d(params, 'enc.conv_in', x);
    c.channels.forEach((_, l) => {
      for (let b = 0; b < c.blocks; b++) h = block(params, `enc.${l}.block${b}`, h, c.groups);
      if (l < c.channels.length - 1) h = conv2d(params, `enc.${l}.down`, h, 2);
    });
    return tf.tanh(conv2d(params, 'enc.conv_out', silu(groupNorm(params, 'enc.norm_out', h, c.groups)) as tf.Tensor4D)) as tf.Tensor4D;
  });
}

/**
 * latents [B, h, w, latentChannels] -> the image likelihood's parameters:
 * mean [B, H, W, C] and log-scale [B, H, W, C] (>= MIN_LOG_SCALE).
 */
export function decoderOutputs(params: Params, c: AutoencoderConfig, latents: tf.Tensor4D): { mean: tf.Tensor4D; logScale: tf.Tensor4D } {
  return tf.tidy(() => {
    const top = c.channels.length - 1;
    let h = conv2d(params, 'dec.conv_in', latents);
    for (let l = top; l >= 0; l--) {
      for (let b = 0; b < c.blocks; b++) h = block(params, `dec.${l}.block${b}`, h, c.groups);
      if (l > 0) h = conv2d(params, `dec.${l}.up`, upsample2x(h));
    }
    const out = conv2d(params, 'dec.conv_out', silu(groupNorm(params, 'dec.norm_out', h, c.groups)) as tf.Tensor4D);
    const [mean, raw] = tf.split(out, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    return { mean, logScale: tf.maximum(raw, MIN_LOG_SCALE) as tf.Tensor4D };
  });
}

/** The decoded image: the likelihood's mean, [B, H, W, C]. */
export function decodeMean(params: Params, c: AutoencoderConfig, latents: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => decoderOutputs(params, c, latents).mean);
}
