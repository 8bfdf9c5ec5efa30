// Exponential moving average of the parameters (Polyak averaging), the
// weights DDPMs are sampled with (Ho et al. 2020, §4). The decay ramps up as
// min(decay, (1 + n) / (10 + n)) so early averages are not dominated by the
// random init.
import * as tf from '@tensorflow/tfjs-core';

export class Ema {
  readonly shadow = new Map<string, tf.Tensor>();
  updates = 0;

  constructor(readonly decay: number) {}

  update(params: Map<string, tf.Tensor>): void {
    const d = Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
    this.updates++;
    for (const [name, p] of params) {
      const old = this.shadow.get(name);
      this.shadow.set(name, old ? tf.tidy(() => tf.add(tf.mul(old, d), tf.mul(p, 1 - d))) : tf.clone(p));
      old?.dispose();
    }
  }

  dispose(): void {
    tf.dispose([...this.shadow.values()]);
    this.shadow.clear();
  }
}
