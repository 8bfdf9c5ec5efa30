// Analytic FLOPs of one network call (multiply and add counted separately,
// so one multiply-add is 2 FLOPs), from a model's parameter list and config:
//   k x k convolution at H x W:    2 k^2 Cin Cout H W  (per slice for volumes)
//   dense layer over R rows:       2 R Cin Cout
//   attention over S sequences of L tokens, C channels in all heads:
//                                  q k^T 2 S L^2 C, then (softmax) v 2 S L^2 C
//   table lookups (class label, depth position bias) as the one-hot matMuls they run as
// Norms, activations and other elementwise ops are not counted: these are
// the conv/matmul kernels' FLOPs, what achieved GFLOP/s is measured against.
//
// Every parameter name says where it runs (the U-Net layout of
// shared/models/unet.ts, names stable as the checkpoint format stores them):
// `in` and `out.*` at full resolution, `down.l.*` and `up.l.*` at level l
// (resolution / 2^l), `mid.*` at the lowest level, `down.l.down` writes level
// l + 1, `up.l.up` runs after upsampling to level l - 1; `cond.*` once per sample.
import type { Model } from '../../shared/models/types.ts';

export interface FlopCount {
  /** All counted FLOPs of one call on the whole batch. */
  total: number;
  convolution: number;
  /** Dense layers (including conditioning, q/k/v and output projections). */
  dense: number;
  /** q k^T and the attention-weighted sum of v. */
  attention: number;
}

const COUNTED_KINDS = ['ddpm-unet2d', 'ddpm-unet3d', 'vdm'];

interface UNetLike {
  channelMult?: number[];
}

/** True when countFlops knows the kind's layout. */
export function canCountFlops(kind: string): boolean {
  return COUNTED_KINDS.includes(kind);
}

/**
 * FLOPs of model.apply on an input of `inputShape` ([B, H, W, C] or
 * [B, D, H, W, C]). Throws for kinds whose layout it does not know, and for
 * any parameter name it cannot place (a layout change must update this file).
 */
export function countFlops(model: Model<unknown>, inputShape: readonly number[]): FlopCount {
  if (!canCountFlops(model.kind)) throw new Error(`countFlops: unknown model kind "${model.kind}"`);
  const config = model.config as UNetLike;
  const volume = model.kind === 'ddpm-unet3d';
  const [batch, ...rest] = inputShape;
  const [depth, height, width] = volume ? rest : [1, rest[0], rest[1]];
  const lowest = (config.channelMult?.length ?? 1) - 1;
  // Positions (per sample) at level l: every slice's H x W, halved l times.
  const positionsAt = (level: number) => depth * (height >> level) * (width >> level);
  const planeAt = (level: number) => (height >> level) * (width >> level);

  const count: FlopCount = { total: 0, convolution: 0, dense: 0, attention: 0 };
  for (const spec of model.paramSpecs) {
    if (spec.name === 'cond.class') {
      count.dense += 2 * batch * spec.shape[0] * spec.shape[1]; // the label lookup: one-hot [B, K+1] x table [K+1, E]
      continue;
    }
    if (spec.name.endsWith('.depth.relpos')) {
      const [heads, offsets] = spec.shape;
      count.dense += 2 * depth * depth * offsets * heads; // the [D, D] bias per head: one-hot [D^2, 2D-1] x table [2D-1, heads]
      continue;
    }
    if (!spec.name.endsWith('.w')) continue;
    const layer = spec.name.slice(0, -2);
    if (spec.shape.length === 4) {
      const [kh, kw, cin, cout] = spec.shape;
      count.convolution += 2 * kh * kw * cin * cout * batch * positionsAt(convLevel(layer, lowest));
    } else if (spec.shape.length === 2) {
      const [cin, cout] = spec.shape;
      if (layer.startsWith('cond.')) {
        count.dense += 2 * batch * cin * cout;
        continue;
      }
      const level = blockLevel(layer, lowest);
      if (layer.endsWith('.film')) {
        count.dense += 2 * batch * cin * cout; // one row per sample
      } else if (layer.endsWith('.qkv') || layer.endsWith('.proj')) {
        count.dense += 2 * batch * positionsAt(level) * cin * cout;
        if (layer.endsWith('.qkv')) {
          const c = cin;
          // Sequences per sample and their length: 2D and 3D spatial attention attend over one plane,
          // 3D depth attention over the D slices at each position.
          const [sequences, length] = layer.endsWith('.depth.qkv') ? [planeAt(level), depth] : [depth, planeAt(level)];
          count.attention += 2 * 2 * batch * sequences * length * length * c;
        }
      } else {
        throw new Error(`countFlops: cannot place dense layer "${layer}"`);
      }
    } else {
      throw new Error(`countFlops: cannot place parameter "${spec.name}" of shape [${spec.shape}]`);
    }
  }
  count.total = count.convolution + count.dense + count.attention;
  return count;
}

/** The level a block (`down.l.*`, `up.l.*`, `mid.*`) runs at. */
function blockLevel(layer: string, lowest: number): number {
  if (layer.startsWith('mid.')) return lowest;
  const m = /^(down|up)\.(\d+)\./.exec(layer);
  if (!m) throw new Error(`countFlops: cannot place layer "${layer}"`);
  return Number(m[2]);
}

/** The level whose resolution a convolution's output has. */
function convLevel(layer: string, lowest: number): number {
  if (layer === 'in' || layer.startsWith('out.')) return 0;
  const level = blockLevel(layer, lowest);
  if (/^down\.\d+\.down$/.test(layer)) return level + 1; // stride 2
  if (/^up\.\d+\.up$/.test(layer)) return level - 1; // after the 2x upsample
  return level;
}
