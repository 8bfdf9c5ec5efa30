// The U-Net topology shared by UNet2D, UNet3D and the VDM score network
// (Ronneberger et al. 2015 as used by Ho et al. 2020 and Dhariwal and Nichol
// 2021): conv_in, per level ResBlocks (+ attention) then a stride-2
// downsample, a middle ResBlock-attention-ResBlock, and a mirrored up path
// whose ResBlocks take the matching skip on their channels.
//
// The layout is computed once from the config as a list of steps, so the
// parameter declaration and the forward pass cannot drift apart. Volumes run
// through the same steps with depth folded into the batch ([B*D, H, W, C]):
// every convolution is then a 3x3x1 (spatial) conv2d, and only the attention
// handler knows about depth.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { conv2d, declareAttention, declareResBlock, filmOf, normAct, resBlock, upsample2x } from './layers.ts';
import { ParamList } from './params.ts';
import type { Conditioned, Params } from './types.ts';

const positiveInt = (max: number) => z.number().int().min(1).max(max);

/** The fields every U-Net config shares (defaults sized for 64x64 images on a CPU). */
export const UNetFields = {
  /** Image channels in and out. */
  channels: positiveInt(16).default(1),
  baseChannels: positiveInt(1024).default(32),
  /** Channel multiplier per level; level l works at resolution / 2^l. */
  channelMult: z.array(positiveInt(16)).min(1).max(6).default([1, 2, 2]),
  numResBlocks: positiveInt(8).default(1),
  /**
   * Levels (0 = full resolution) with attention after each ResBlock; the
   * middle block always has it. Each model fills in its own default.
   */
  attentionLevels: z.array(z.number().int().min(0)).optional(),
  heads: positiveInt(64).default(4),
  groups: positiveInt(128).default(8),
  /** Class labels for conditioning (0 = unconditional); label numClasses is the null label. */
  numClasses: z.number().int().min(0).max(10_000).default(0),
};

export interface UNetShape {
  baseChannels: number;
  channelMult: number[];
  numResBlocks: number;
  attentionLevels: number[];
  heads: number;
  groups: number;
  numClasses: number;
}

type Fields = Omit<UNetShape, 'attentionLevels'> & { attentionLevels?: number[] };

/** Cross-field checks every U-Net config needs, as zod issues on the field at fault. */
export function checkUNet(c: Fields, ctx: z.RefinementCtx): void {
  for (const [l, m] of c.channelMult.entries()) {
    const ch = c.baseChannels * m;
    if (ch % c.groups !== 0) ctx.addIssue({ code: 'custom', path: ['groups'], message: `${c.groups} must divide the channel count ${ch} of level ${l}` });
    if (ch % c.heads !== 0) ctx.addIssue({ code: 'custom', path: ['heads'], message: `${c.heads} must divide the channel count ${ch} of level ${l}` });
  }
  const bad = c.attentionLevels?.find((l) => l >= c.channelMult.length);
  if (bad !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['attentionLevels'], message: `level ${bad} does not exist (levels 0..${c.channelMult.length - 1})` });
  }
}

/** The conditioning vector width (4x the base width, as in DDPM). */
export function embedDim(c: UNetShape): number {
  return 4 * c.baseChannels;
}

type Step =
  | { op: 'res'; name: string; cin: number; cout: number; takesSkip: boolean }
  | { op: 'attn'; name: string; c: number }
  | { op: 'down' | 'up'; name: string; c: number }
  | { op: 'push' };

/** The forward pass as a list of steps, with channel counts resolved. */
function plan(c: UNetShape): { steps: Step[]; outChannels: number } {
  const steps: Step[] = [{ op: 'push' }];
  const skipCh = [c.baseChannels];
  let ch = c.baseChannels;
  const last = c.channelMult.length - 1;
  c.channelMult.forEach((mult, l) => {
    for (let r = 0; r < c.numResBlocks; r++) {
      steps.push({ op: 'res', name: `down.${l}.res.${r}`, cin: ch, cout: c.baseChannels * mult, takesSkip: false });
      ch = c.baseChannels * mult;
      if (c.attentionLevels.includes(l)) steps.push({ op: 'attn', name: `down.${l}.attn.${r}`, c: ch });
      steps.push({ op: 'push' });
      skipCh.push(ch);
    }
    if (l !== last) {
      steps.push({ op: 'down', name: `down.${l}.down`, c: ch }, { op: 'push' });
      skipCh.push(ch);
    }
  });
  steps.push(
    { op: 'res', name: 'mid.res.0', cin: ch, cout: ch, takesSkip: false },
    { op: 'attn', name: 'mid.attn', c: ch },
    { op: 'res', name: 'mid.res.1', cin: ch, cout: ch, takesSkip: false },
  );
  for (let l = last; l >= 0; l--) {
    const cout = c.baseChannels * c.channelMult[l];
    for (let r = 0; r <= c.numResBlocks; r++) {
      steps.push({ op: 'res', name: `up.${l}.res.${r}`, cin: ch + skipCh.pop()!, cout, takesSkip: true });
      ch = cout;
      if (c.attentionLevels.includes(l)) steps.push({ op: 'attn', name: `up.${l}.attn.${r}`, c: ch });
    }
    if (l !== 0) steps.push({ op: 'up', name: `up.${l}.up`, c: ch });
  }
  return { steps, outChannels: ch };
}

/** Declares every U-Net parameter except conditioning ('cond.*', see layers.ts). */
export function declareUNet(
  p: ParamList,
  c: UNetShape,
  inChannels: number,
  outChannels: number,
  declareAttn: (p: ParamList, name: string, c: number) => void = declareAttention,
): void {
  const { steps, outChannels: ch } = plan(c);
  p.conv('in', 3, inChannels, c.baseChannels);
  for (const s of steps) {
    if (s.op === 'res') declareResBlock(p, s.name, s.cin, s.cout, embedDim(c));
    else if (s.op === 'attn') declareAttn(p, s.name, s.c);
    else if (s.op === 'down' || s.op === 'up') p.conv(s.name, 3, s.c, s.c);
  }
  p.norm('out.norm', ch);
  // Zero-initialised output: an untrained network predicts 0 (vdm ScoreUNet, ADM).
  p.conv('out.conv', 3, ch, outChannels, true);
}

/**
 * Every ResBlock's FiLM terms, in the order applyUNet runs the blocks, from
 * emb(): the conditioning vector [B, E], freed with every other intermediate.
 */
export function unetConditioning(params: Params, c: UNetShape, emb: () => tf.Tensor2D): Conditioned {
  const films = tf.tidy(() => {
    const e = emb();
    return plan(c).steps.flatMap((s) => (s.op === 'res' ? [filmOf(params, s.name, e)] : [])) as unknown as tf.TensorContainer;
  });
  return films as unknown as Conditioned;
}

export function disposeConditioned(films: Conditioned): void {
  for (const f of films) tf.dispose([f.scale, f.shift]);
}

/** Runs f with the caller's conditioning `pre`, or with one made for this call and freed after it. */
export function withConditioning<T>(pre: Conditioned | undefined, make: () => Conditioned, f: (films: Conditioned) => T): T {
  const films = pre ?? make();
  try {
    return f(films);
  } finally {
    if (!pre) disposeConditioned(films);
  }
}

/** Attention on h [N, H, W, C]; returns a new tensor of the same shape. */
export type AttentionFn = (name: string, h: tf.Tensor4D) => tf.Tensor4D;

/**
 * Runs the U-Net on x [N, H, W, Cin] where N = B * perSample (perSample = D
 * for volumes), with unetConditioning's terms for the B samples. Returns
 * [N, H, W, Cout]. Each step runs in its own tidy so at most the skips and
 * one block's intermediates are alive at once (one tidy around everything
 * aborts the wasm heap at 256x256, DESIGN §5).
 */
export function applyUNet(
  params: Params,
  c: UNetShape,
  x: tf.Tensor4D,
  films: Conditioned,
  perSample: number,
  attention: AttentionFn,
): tf.Tensor4D {
  const steps = plan(c).steps;
  const blocks = steps.filter((s) => s.op === 'res').length;
  if (films.length !== blocks) throw new Error(`conditioning: expected FiLM terms for ${blocks} ResBlocks, got ${films.length}`);
  const batch = x.shape[0] / perSample;
  if (films[0].scale.shape[0] !== batch) throw new Error(`conditioning: computed for a batch of ${films[0].scale.shape[0]}, the input has ${batch}`);
  let block = 0;
  const skips: tf.Tensor4D[] = [];
  let h = tf.tidy(() => conv2d(params, 'in', x));
  const replace = (next: tf.Tensor4D) => {
    if (!skips.includes(h)) h.dispose();
    h = next;
  };
  try {
    for (const s of steps) {
      switch (s.op) {
        case 'push':
          skips.push(h);
          break;
        case 'res': {
          // The skip joins h on the channels inside the block, which never copies them into one tensor.
          const skip = s.takesSkip ? skips.pop()! : undefined;
          const input = h;
          const film = films[block++];
          try {
            replace(tf.tidy(() => resBlock(params, s.name, skip ? [input, skip] : input, film, c.groups, perSample)));
          } finally {
            skip?.dispose();
          }
          break;
        }
        case 'attn': {
          const input = h;
          replace(tf.tidy(() => attention(s.name, input)));
          break;
        }
        case 'down': {
          const input = h;
          replace(tf.tidy(() => conv2d(params, s.name, input, 2)));
          break;
        }
        case 'up': {
          const input = h;
          replace(tf.tidy(() => conv2d(params, s.name, upsample2x(input))));
          break;
        }
      }
    }
    const final = h;
    return tf.tidy(() => {
      const [n, hgt, wid, ch] = final.shape;
      const [normed] = normAct(params, 'out.norm', [tf.reshape(final, [n / perSample, -1, wid, ch])], c.groups);
      return conv2d(params, 'out.conv', tf.reshape(normed, [n, hgt, wid, ch]) as tf.Tensor4D);
    });
  } finally {
    tf.dispose([h, ...skips]);
  }
}
