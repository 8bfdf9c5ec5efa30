// Parameter declaration and seeded initialisation, shared by every model.
//
// A model lists its parameters once (name, shape, how to initialise) from its
// config; init() turns that list into tensors and apply() reads them back by
// name. Keeping the list separate from apply() lets loaders check a
// checkpoint's tensors against the config without running the network.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.ts';
import type { InitKind, Params, ParamSpec } from './types.ts';


/** Collects a model's parameter list; the helpers name tensors the way layers.ts reads them. */
export class ParamList {
  readonly specs: ParamSpec[] = [];
  private readonly names = new Set<string>();

  add(name: string, shape: number[], init: InitKind, fanIn = 1): void {
    if (this.names.has(name)) throw new Error(`model definition declares parameter "${name}" twice`);
    this.names.add(name);
    this.specs.push({ name, shape, init, fanIn });
  }

  /** A k x k convolution: `${name}.w` [k, k, cin, cout], `${name}.b` [cout]. */
  conv(name: string, k: number, cin: number, cout: number, zeroInit = false): void {
    this.add(`${name}.w`, [k, k, cin, cout], zeroInit ? 'zeros' : 'normal', k * k * cin);
    this.add(`${name}.b`, [cout], 'zeros');
  }

  /** A dense layer: `${name}.w` [cin, cout], `${name}.b` [cout]. */
  dense(name: string, cin: number, cout: number, zeroInit = false): void {
    this.add(`${name}.w`, [cin, cout], zeroInit ? 'zeros' : 'normal', cin);
    this.add(`${name}.b`, [cout], 'zeros');
  }

  /** A GroupNorm affine: `${name}.g` [c] (ones), `${name}.b` [c] (zeros). */
  norm(name: string, c: number): void {
    this.add(`${name}.g`, [c], 'ones');
    this.add(`${name}.b`, [c], 'zeros');
  }
}

/**
 * Tensors for `specs`, deterministic in `seed`: parameter i draws from RNG
 * stream i, so values are bit-identical on every backend.
 */
export function initParams(specs: readonly ParamSpec[], seed: number): Params {
  const params: Params = new Map();
  specs.forEach((s, i) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (s.init === 'normal') {
      const std = 1 / Math.sqrt(s.fanIn);
      data = new Rng(seed, i).normal(size).map((v) => v * std);
    } else {
      data = new Float32Array(size).fill(s.init === 'ones' ? 1 : 0);
    }
    params.set(s.name, tf.tensor(data, s.shape, 'float32'));
  });
  return params;
}

/** The parameter `name`, or an error naming it (a checkpoint/config mismatch). */
export function param(params: Params, name: string): tf.Tensor {
  const p = params.get(name);
  if (!p) throw new Error(`model parameter "${name}" is missing`);
  return p;
}

/** The entries of `params` under `prefix`, with the prefix removed (same tensors, not copies): one network's of a checkpoint holding several. */
export function paramsUnder(params: Params, prefix: string): Params {
  const out: Params = new Map();
  for (const [k, v] of params) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}
