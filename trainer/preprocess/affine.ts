// Seeded small random affine augmentation, for tiny data sets: a rotation by
// up to `rotate` degrees, an isotropic scale by up to `scale` (relative), a
// shift by up to `shift` of the image size in each axis, all about the
// centre of each [H, W] plane (a volume's slices move together), and a gain
// on brightness above black, up to `gain` (relative): u' = min(1, g u) with
// u = (x + 1) / 2 in model space, so air stays at -1 (a bias would teach the
// model the grey backgrounds it already makes too often).
//
// Never a reflection: scale > 0 and a rotation keep the determinant positive,
// which matters for radiographs (a mirrored chest X-ray puts the heart on the
// wrong side). Pixels mapped from outside the image are black (-1); values
// are bilinear between the four nearest source pixels.
//
// Draws come from shared/rng.ts like flips (augment.ts) but on their own
// streams (AFFINE_STREAM + example index), five uniforms at counter 3 x step,
// so a draw depends only on (seed, step, index): the same after a resume.
import { Rng } from '../../shared/rng.ts';
import type { Shape3 } from './common.ts';

export interface AffineOptions {
  /** Largest |rotation| in degrees. */
  rotate: number;
  /** Largest |scale - 1|. */
  scale: number;
  /** Largest |shift| as a fraction of the plane's size, per axis. */
  shift: number;
  /** Largest |gain - 1| on brightness above black. */
  gain: number;
}

/** One drawn transform: output pixel p samples the input at centre + A^-1 (p - centre - shift). */
export interface AffineDraw {
  /** Radians. */
  angle: number;
  scale: number;
  /** Pixels along H and W. */
  shiftH: number;
  shiftW: number;
  gain: number;
}

/** Streams of the affine draws start here, apart from the flips' (stream = example index). */
export const AFFINE_STREAM = 2 ** 31;

/** Five uniforms from `rng` mapped into the option ranges, for a plane of [H, W]. */
export function drawAffine(rng: Rng, o: AffineOptions, [h, w]: readonly [number, number]): AffineDraw {
  const u = rng.uniform(5).map((v) => 2 * v - 1); // each in [-1, 1)
  return {
    angle: (u[0] * o.rotate * Math.PI) / 180,
    scale: 1 + u[1] * o.scale,
    shiftH: u[2] * o.shift * h,
    shiftW: u[3] * o.shift * w,
    gain: 1 + u[4] * o.gain,
  };
}

/** The draw for example `index` at training step `step` under `seed`. */
export function affineAt(seed: number, step: number, index: number, o: AffineOptions, plane: readonly [number, number]): AffineDraw {
  return drawAffine(new Rng(seed, AFFINE_STREAM + index, 3 * step), o, plane); // 5 uniforms use 3 counters
}

/** `data` ([D, H, W], W fastest) under `d`, each plane alike; a new array. */
export function applyAffine(data: Float32Array, shape: Shape3, d: AffineDraw): Float32Array {
  const [D, H, W] = shape;
  if (data.length !== D * H * W) throw new Error(`affine: ${data.length} values for shape [${shape.join(', ')}]`);
  if (!(d.scale > 0)) throw new Error(`affine: scale must be positive, got ${d.scale}`);
  const out = new Float32Array(data.length);
  const [ch, cw] = [(H - 1) / 2, (W - 1) / 2];
  // Inverse of (scale * rotation): rotate by -angle, divide by scale.
  const cos = Math.cos(d.angle) / d.scale;
  const sin = Math.sin(d.angle) / d.scale;
  const at = (base: number, y: number, x: number) => (y >= 0 && y < H && x >= 0 && x < W ? data[base + y * W + x] : -1);
  for (let z = 0; z < D; z++) {
    const base = z * H * W;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const [py, px] = [i - ch - d.shiftH, j - cw - d.shiftW];
        const sy = cos * py + sin * px + ch;
        const sx = -sin * py + cos * px + cw;
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const [fy, fx] = [sy - y0, sx - x0];
        const v =
          (1 - fy) * ((1 - fx) * at(base, y0, x0) + fx * at(base, y0, x0 + 1)) + fy * ((1 - fx) * at(base, y0 + 1, x0) + fx * at(base, y0 + 1, x0 + 1));
        out[base + i * W + j] = d.gain === 1 ? v : 2 * Math.min(1, (d.gain * (v + 1)) / 2) - 1;
      }
    }
  }
  return out;
}
