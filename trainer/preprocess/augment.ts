// Seeded flip augmentation.
//
// Axes name the stored [D, H, W] order. 'W' (the fastest axis) is left-right
// for the usual NIfTI/DICOM layouts and for radiographs, hence the default.
// Caution: a left-right flip of a chest X-ray puts the heart on the wrong side
// (dextrocardia is rare); a flipped brain is plausible. Whether to flip is the
// training config's choice, per dataset.
//
// Draws come from shared/rng.ts (counter-based Threefry), one uniform per
// allowed axis per call whatever the outcome, so a flip depends only on
// (seed, stream, counter): flipsAt(seed, step, index) is the same in any order
// and after a resume.
import { Rng } from '../../shared/rng.ts';
import type { Shape3 } from './common.ts';

export const FLIP_AXES = { D: 0, H: 1, W: 2 } as const;
export type FlipAxis = keyof typeof FLIP_AXES;

export interface FlipOptions {
  /** Axes that may be flipped, each independently. Default ['W'] (left-right). */
  axes?: FlipAxis[];
  /** Probability of flipping each axis. Default 0.5. */
  p?: number;
}

function axisIndex(axis: string): 0 | 1 | 2 {
  if (!Object.hasOwn(FLIP_AXES, axis)) throw new Error(`unknown flip axis "${axis}"; axes: ${Object.keys(FLIP_AXES).join(', ')}`);
  return FLIP_AXES[axis as FlipAxis];
}

/** `data` ([D, H, W], W fastest) mirrored along each of `axes`; always a new array. */
export function flip(data: Float32Array, shape: Shape3, axes: readonly FlipAxis[]): Float32Array {
  const [D, H, W] = shape;
  if (data.length !== D * H * W) throw new Error(`flip: ${data.length} values for shape [${shape.join(', ')}]`);
  const f = [false, false, false];
  for (const a of axes) f[axisIndex(a)] = !f[axisIndex(a)]; // flipping twice is the identity
  const out = new Float32Array(data.length);
  let i = 0;
  for (let d = 0; d < D; d++) {
    const sd = f[0] ? D - 1 - d : d;
    for (let h = 0; h < H; h++) {
      const row = (sd * H + (f[1] ? H - 1 - h : h)) * W;
      if (f[2]) for (let w = 0; w < W; w++) out[i++] = data[row + W - 1 - w];
      else {
        out.set(data.subarray(row, row + W), i);
        i += W;
      }
    }
  }
  return out;
}

/** Which of `opts.axes` to flip, drawing one uniform per axis from `rng`. */
export function drawFlips(rng: Rng, opts: FlipOptions = {}): FlipAxis[] {
  const axes = opts.axes ?? ['W'];
  const p = opts.p ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new Error(`flip: p must be in [0, 1], got ${p}`);
  axes.forEach(axisIndex);
  const u = rng.uniform(axes.length);
  return axes.filter((_, k) => u[k] < p);
}

/**
 * The flips for example `index` at training step `step` under `seed`: stream
 * = index, counter = step x (counters per draw), so every (step, index) pair
 * has its own numbers.
 */
export function flipsAt(seed: number, step: number, index: number, opts: FlipOptions = {}): FlipAxis[] {
  const perDraw = Math.ceil((opts.axes ?? ['W']).length / 2); // Rng.uniform uses one counter per two numbers
  return drawFlips(new Rng(seed, index, step * perDraw), opts);
}

/** A random flip of `data`: `flipped` names the axes mirrored; `data` is returned as is when none was. */
export function randomFlip(data: Float32Array, shape: Shape3, rng: Rng, opts: FlipOptions = {}): { data: Float32Array; flipped: FlipAxis[] } {
  const flipped = drawFlips(rng, opts);
  return { data: flipped.length ? flip(data, shape, flipped) : data, flipped };
}
