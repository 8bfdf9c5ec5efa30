// AdamW (Loshchilov and Hutter 2019, Algorithm 2) with global-norm gradient
// clipping (Pascanu et al. 2013). Weight decay is decoupled from the adaptive
// step and applied only to weight matrices and filters (rank >= 2): decaying
// biases and norm gains only hurts.
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
}

export class AdamW {
  /** First and second moment estimates, by parameter name. */
  readonly m = new Map<string, tf.Tensor>();
  readonly v = new Map<string, tf.Tensor>();
  /** Updates applied so far (for bias correction). */
  step = 0;

  constructor(readonly config: AdamWConfig) {}

  /**
   * One update with learning rate `lr`: each entry of `params` is replaced by
   * its updated tensor (the old one is disposed). The caller still owns
   * `grads`. Returns the gradient norm before clipping.
   */
  update(params: Map<string, tf.Tensor>, grads: Map<string, tf.Tensor>, lr: number): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.config;
    const norm = Math.sqrt(
      tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]),
    );
    if (!Number.isFinite(norm)) throw new Error(`non-finite gradient norm (${norm}) at step ${this.step + 1}: lower the learning rate`);
    const clip = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step++;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue; // a parameter this loss does not reach
      const [m, v] = tf.tidy(() => {
        const gc = tf.mul(g, clip);
        const m0 = this.m.get(name) ?? tf.zerosLike(p);
        const v0 = this.v.get(name) ?? tf.zerosLike(p);
        return [tf.add(tf.mul(m0, beta1), tf.mul(gc, 1 - beta1)), tf.add(tf.mul(v0, beta2), tf.mul(tf.square(gc), 1 - beta2))];
      });
      tf.dispose([this.m.get(name), this.v.get(name)]);
      this.m.set(name, m);
      this.v.set(name, v);
      const next = tf.tidy(() => {
        const adam = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decay = p.rank >= 2 && weightDecay > 0 ? tf.mul(p, weightDecay) : undefined;
        return tf.sub(p, tf.mul(decay ? tf.add(adam, decay) : adam, lr));
      });
      p.dispose();
      params.set(name, next);
    }
    return norm;
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
    this.m.clear();
    this.v.clear();
  }
}

/** Linear warm-up to `lr`, then cosine decay to `lr * minFraction` at `total` steps. */
export function learningRate(step: number, lr: number, warmup: number, total: number, minFraction = 0.1): number {
  if (warmup > 0 && step < warmup) return (lr * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return lr * (minFraction + (1 - minFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
