// The network's time and label path for a whole sampling grid at once.
//
// Every network call derives its conditioning (time embedding MLP, class
// embedding, each ResBlock's FiLM scale and shift) from (t, labels) alone.
// A sampler visits a fixed grid of times, so generate() computes them for all
// grid times in one batched Model.condition call per labels list and splits
// the result per time: the steps then run only the image path, with no
// conditioning kernels per step (on wasm each small op is a kernel launch,
// DESIGN §5). Calls at a time off the grid get undefined (the network then
// conditions itself).
import * as tf from '@tensorflow/tfjs-core';
import { disposeConditioned } from '../shared/models/unet.ts';
import type { Conditioned, Model, Params } from '../shared/models/types.ts';

export class GridConditioning {
  /** labels key -> network time -> conditioning for that batch. */
  private readonly byLabels = new Map<string, Map<number, Conditioned>>();

  /** The grid's distinct network times (Model.apply's t). */
  private readonly times: readonly number[];

  constructor(
    private readonly model: Model<unknown>,
    private readonly params: Params,
    times: readonly number[],
  ) {
    this.times = [...new Set(times)];
  }

  /** The conditioning of a call at network time t on `batch` examples with these labels (one per example, or none). */
  get(t: number, batch: number, labels?: readonly number[]): Conditioned | undefined {
    const key = labels ? labels.join(',') : `unlabelled x${batch}`;
    let perTime = this.byLabels.get(key);
    if (!perTime) {
      perTime = this.compute(batch, labels);
      this.byLabels.set(key, perTime);
    }
    return perTime.get(t);
  }

  /**
   * One condition() call on K * B rows (time-major), split into K per-time
   * batches of B. The first call comes from inside a denoiser's tidy, so the
   * kept pieces are marked tf.keep (they live until dispose()).
   */
  private compute(batch: number, labels?: readonly number[]): Map<number, Conditioned> {
    const times = this.times;
    const k = times.length;
    const t = tf.tensor1d(times.flatMap((v) => Array<number>(batch).fill(v)), 'float32'); // [K*B]
    const label = labels ? tf.tensor1d(times.flatMap(() => labels), 'int32') : undefined; // [K*B]
    let all: Conditioned;
    try {
      all = this.model.condition(this.params, t, label ? { label } : undefined); // per block: [K*B, C]
    } finally {
      tf.dispose([t, label]);
    }
    try {
      const split = (x: tf.Tensor2D) => tf.split(x, k, 0).map((piece) => tf.keep(piece as tf.Tensor2D));
      const parts = all.map((f) => ({ scale: split(f.scale), shift: split(f.shift) }));
      return new Map(times.map((v, i) => [v, parts.map((p) => ({ scale: p.scale[i], shift: p.shift[i] }))]));
    } finally {
      disposeConditioned(all);
    }
  }

  dispose(): void {
    for (const perTime of this.byLabels.values()) for (const c of perTime.values()) disposeConditioned(c);
    this.byLabels.clear();
  }
}
