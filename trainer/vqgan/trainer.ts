// Training the 3D VQ-GAN (Medical Diffusion, Khader et al. 2022, §3.1, after
// TATS, Ge et al. 2022): autoencoder and discriminators with separate Adam
// states, the codebook by EMA, and the whole state saved for exact resume.
//
// One step on a batch x:
//  1. z = E(x); zq = nearest codes (current codebook); x^ = G(z + sg(zq - z)).
//  2. Autoencoder loss l1Weight |x - x^| + beta |z - sg(zq)|^2, and from
//     step discStart on: hinge generator losses of a 2D PatchGAN on one
//     random depth slice per volume and a 3D PatchGAN on the volume, plus
//     feature matching against the real inputs' discriminator features;
//     optionally a perceptual term on the slices. One Adam step.
//  3. EMA codebook update with this batch's z and assignments; dead codes restarted.
//  4. From discStart on: discriminator hinge loss on x and (the same,
//     detached) x^, one Adam step. (TATS re-runs the autoencoder for this
//     step, which also repeats the EMA update; reusing x^ saves that pass.)
//
// Everything random (slice positions, codebook init and restarts) comes from
// counter-based RNG streams under one seed, so runs are deterministic on every
// backend and a resumed run continues bit-identically on the same backend.
import '@tensorflow/tfjs'; // registers the gradients of tfjs's ops (DESIGN §5)
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, type CheckpointSource } from '../../shared/checkpoint/index.ts';
import { ConfigError } from '../../shared/config.ts';
import { depthSlices } from '../../shared/models/layers3d.ts';
import { initParams, ParamList } from '../../shared/models/params.ts';
import type { Params } from '../../shared/models/types.ts';
import { CODEBOOK, straightThrough, vqgan3d, type Vqgan3d } from '../../shared/models/vqgan3d/index.ts';
import { Rng } from '../../shared/rng.ts';
import { AdamW } from '../optim/adamw.ts';
import { loadState, saveState, type StateFormat } from '../training-state.ts';
import { CodebookEma, perplexity } from './codebook-ema.ts';
import { parseVqganTrainConfig, type VqganTrainConfig } from './config.ts';
import { declarePatchGan, patchGan, type PatchGanConfig } from './discriminator.ts';
import { commitmentLoss, featureMatchingLoss, hingeDiscriminatorLoss, hingeGeneratorLoss, l1Loss } from './losses.ts';

/**
 * A perceptual distance between real and reconstructed depth slices
 * ([B, H, W, C], values in [-1, 1]), e.g. LPIPS (Zhang et al. 2018) over a
 * pretrained network, which Medical Diffusion uses with weight 4. None ships:
 * pretrained weights cannot be downloaded here, so the term is off unless
 * one is passed. It must return a differentiable scalar and dispose its own
 * intermediates (it runs inside the autoencoder's gradient tape).
 */
export type PerceptualLoss = (real: tf.Tensor4D, fake: tf.Tensor4D) => tf.Scalar;

export interface VqganOptions {
  perceptual?: PerceptualLoss;
}

/**
 * One step's numbers. Terms are as defined, before their weights, except
 * where the weight belongs to the term: aeLoss = l1Weight * recon + commitment
 * + gAdv + featureMatchingWeight * featureMatching + perceptualWeight * perceptual.
 */
export interface VqganMetrics {
  step: number;
  /** mean |x - x^|. */
  recon: number;
  /** beta * mean (z - sg(zq))^2. */
  commitment: number;
  /** imageGanWeight * -E[D2(x^ slice)] + volumeGanWeight * -E[D3(x^)]; 0 before discStart. */
  gAdv: number;
  /** Feature matching (losses.ts), 2D + 3D; 0 before discStart. */
  featureMatching: number;
  /** The perceptual term (0 without one). */
  perceptual: number;
  aeLoss: number;
  /** Discriminators' hinge loss, weighted as gAdv; 0 before discStart. */
  dLoss: number;
  /** exp(entropy) of this batch's code usage. */
  perplexity: number;
  /** Codes restarted by this step (EMA cluster size below restartThreshold). */
  deadCodes: number;
  ganActive: boolean;
}

/** Latents of a batch: quantised code embeddings [B, d, h, w, E] and the code indices [B*d*h*w]. */
export interface EncodedVolumes {
  shape: [number, number, number, number, number];
  latents: Float32Array;
  indices: Int32Array;
}

const STATE_FORMAT = 'medsynth-vqgan-train-state';
/** RNG streams above the parameter-init streams (initParams uses stream i for parameter i). */
const STREAM = { slices: 0x4000_0001, codebook: 0x4000_0002 } as const;
const PREFIX = { ae: 'ae/', disc: 'disc/', aeM: 'adam.ae.m/', aeV: 'adam.ae.v/', discM: 'adam.disc.m/', discV: 'adam.disc.v/', codebook: 'codebook-ema/' } as const;
const D2 = 'disc2d';
const D3 = 'disc3d';

interface SavedState {
  format: typeof STATE_FORMAT;
  config: VqganTrainConfig;
  seed: number;
  step: number;
  aeOptStep: number;
  discOptStep: number;
  codebookInitialised: boolean;
  rng: { slices: number; codebook: number };
}

const byName = (m: Params): Params => new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export class VqganTrainer {
  readonly model: Vqgan3d;
  readonly disc: PatchGanConfig;
  /** Autoencoder parameters (encoder, codebook, decoder), in name order. */
  ae: Params;
  /** Discriminator parameters (`disc2d.*`, `disc3d.*`), in name order. */
  discParams: Params;
  readonly aeOpt: AdamW;
  readonly discOpt: AdamW;
  readonly codebook: CodebookEma;
  step = 0;
  private sliceRng: Rng;
  private codebookRng: Rng;

  private constructor(
    readonly config: VqganTrainConfig,
    readonly seed: number,
    readonly options: VqganOptions,
    params?: { ae: Params; disc: Params },
  ) {
    this.model = vqgan3d(config.model);
    this.disc = { channels: config.discChannels, layers: config.discLayers, groups: config.discGroups };
    const discSpecs = new ParamList();
    declarePatchGan(discSpecs, D2, 2, config.model.channels, this.disc);
    declarePatchGan(discSpecs, D3, 3, config.model.channels, this.disc);
    if (params) {
      this.ae = byName(params.ae);
      this.discParams = byName(params.disc);
    } else {
      // One list, so every parameter has its own RNG stream under the seed.
      const all = initParams([...this.model.paramSpecs, ...discSpecs.specs], seed);
      const isDisc = (n: string) => n.startsWith(`${D2}.`) || n.startsWith(`${D3}.`);
      this.ae = byName(new Map([...all].filter(([n]) => !isDisc(n))));
      this.discParams = byName(new Map([...all].filter(([n]) => isDisc(n))));
    }
    const adam = { beta1: config.beta1, beta2: config.beta2, eps: config.adamEps, weightDecay: 0, clipNorm: config.clipNorm };
    this.aeOpt = new AdamW(adam);
    this.discOpt = new AdamW(adam);
    const { nCodes, embeddingDim } = config.model;
    const decay = config.codebookDecay;
    this.codebook = new CodebookEma(nCodes, embeddingDim, { decay, eps: config.laplaceEps, restartThreshold: config.restartThreshold }, this.ae.get(CODEBOOK)!.dataSync() as Float32Array);
    this.sliceRng = new Rng(seed, STREAM.slices);
    this.codebookRng = new Rng(seed, STREAM.codebook);
  }

  static create(config: unknown, seed: number, options: VqganOptions = {}): VqganTrainer {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`vqgan trainer: seed must be a non-negative integer, got ${seed}`);
    return new VqganTrainer(parseVqganTrainConfig(config), seed, options);
  }

  /** Volumes ([D, H, W, C] row-major each, values in [-1, 1]) -> x [B, D, H, W, C]. */
  private batch(volumes: readonly Float32Array[]): tf.Tensor5D {
    if (volumes.length === 0) throw new Error('vqgan trainer: empty batch');
    const shape = [...this.config.shape, this.config.model.channels];
    const per = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(volumes.length * per);
    volumes.forEach((v, i) => {
      if (v.length !== per) throw new Error(`vqgan trainer: volume ${i} has ${v.length} values, expected ${per} for [${shape}]`);
      data.set(v, i * per);
    });
    return tf.tensor5d(data, [volumes.length, ...shape] as [number, number, number, number, number]);
  }

  private d2(params: Params, x: tf.Tensor4D) {
    return patchGan(params, D2, 2, x, this.disc);
  }

  private d3(params: Params, x: tf.Tensor5D) {
    return patchGan(params, D3, 3, x, this.disc);
  }

  private setCodebook(): void {
    const { nCodes, embeddingDim } = this.config.model;
    this.ae.get(CODEBOOK)!.dispose();
    this.ae.set(CODEBOOK, tf.tensor2d(this.codebook.embeddings, [nCodes, embeddingDim]));
  }

  /** One autoencoder + discriminator step on a batch of volumes. */
  trainStep(volumes: readonly Float32Array[]): VqganMetrics {
    const c = this.config;
    const x = this.batch(volumes);
    const gan = this.step >= c.discStart;
    const useImage = gan && c.imageGanWeight > 0;
    const useVolume = gan && c.volumeGanWeight > 0;
    const perceptual = c.perceptualWeight > 0 ? this.options.perceptual : undefined;
    // Drawn every step, so the stream's position depends on the step count only.
    const slice = Array.from({ length: volumes.length }, () => this.sliceRng.int(c.shape[0]));
    const held: tf.Tensor[] = [x];
    try {
      if (!this.codebook.initialised) {
        const z = this.model.encode(this.ae, x);
        this.codebook.init(z.dataSync() as Float32Array, this.codebookRng);
        z.dispose();
        this.setCodebook();
      }
      const realSlices = depthSlices(x, slice);
      held.push(realSlices);
      // The real inputs' discriminator features: targets of feature matching, outside the tape.
      const real2 = useImage ? tf.tidy(() => this.d2(this.discParams, realSlices).features) : [];
      const real3 = useVolume ? tf.tidy(() => this.d3(this.discParams, x).features) : [];
      held.push(...real2, ...real3);

      // 1-2. Autoencoder step.
      const names = [...this.ae.keys()].filter((n) => n !== CODEBOOK);
      let z: tf.Tensor | undefined;
      let fake: tf.Tensor5D | undefined;
      let terms: tf.Tensor1D | undefined;
      let indices: Int32Array = new Int32Array(0);
      const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
        const p = new Map(this.ae);
        names.forEach((n, i) => p.set(n, ps[i]));
        const zz = this.model.encode(p, x);
        const q = this.model.quantize(p, zz);
        indices = q.indices;
        const xr = this.model.decode(p, straightThrough(zz, q.zq) as tf.Tensor5D);
        const zero = tf.scalar(0);
        const recon = l1Loss(x, xr);
        const commitment = tf.mul(commitmentLoss(zz, q.zq), c.commitmentWeight);
        const fakeSlices = useImage || perceptual ? depthSlices(xr, slice) : undefined;
        const adv: tf.Tensor[] = [];
        const fm: tf.Tensor[] = [];
        if (useImage) {
          const d = this.d2(this.discParams, fakeSlices!);
          adv.push(tf.mul(hingeGeneratorLoss(d.logits), c.imageGanWeight));
          fm.push(featureMatchingLoss(d.features, real2));
        }
        if (useVolume) {
          const d = this.d3(this.discParams, xr);
          adv.push(tf.mul(hingeGeneratorLoss(d.logits), c.volumeGanWeight));
          fm.push(featureMatchingLoss(d.features, real3));
        }
        const gAdv = adv.length ? tf.addN(adv) : zero;
        const featureMatching = fm.length ? tf.addN(fm) : zero;
        const perc = perceptual ? perceptual(realSlices, fakeSlices!) : zero;
        z = tf.keep(zz);
        fake = tf.keep(xr);
        terms = tf.keep(tf.stack([recon, commitment, gAdv, featureMatching, perc]) as tf.Tensor1D);
        return tf.addN([tf.mul(recon, c.l1Weight), commitment, gAdv, tf.mul(featureMatching, c.featureMatchingWeight), tf.mul(perc, c.perceptualWeight)]) as tf.Scalar;
      })(names.map((n) => this.ae.get(n)!));
      held.push(value, z!, fake!, terms!);
      const aeGrads = new Map(names.map((n, i) => [n, grads[i]]));
      try {
        this.aeOpt.update(this.ae, aeGrads, c.lr);
      } finally {
        tf.dispose(grads);
      }
      const aeLoss = value.dataSync()[0];
      const [recon, commitment, gAdv, featureMatching, perc] = terms!.dataSync();
      if (!Number.isFinite(aeLoss)) throw new Error(`vqgan: autoencoder loss became ${aeLoss} at step ${this.step + 1}: lower the learning rate`);

      // 3. Codebook EMA (after quantising with the old codebook, as TATS).
      const { deadCodes } = this.codebook.update(z!.dataSync() as Float32Array, indices, this.codebookRng);
      this.setCodebook();

      // 4. Discriminator step on x and the detached x^.
      let dLoss = 0;
      if (useImage || useVolume) {
        const fakeSlices = depthSlices(fake!, slice);
        held.push(fakeSlices);
        // Only the active discriminators' parameters (a weight-0 one gets no gradient and is left as it is).
        const dNames = [...this.discParams.keys()].filter((n) => (useImage && n.startsWith(`${D2}.`)) || (useVolume && n.startsWith(`${D3}.`)));
        const { value: dv, grads: dg } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
          const p = new Map(this.discParams);
          dNames.forEach((n, i) => p.set(n, ps[i]));
          const parts: tf.Tensor[] = [];
          if (useImage) parts.push(tf.mul(hingeDiscriminatorLoss(this.d2(p, realSlices).logits, this.d2(p, fakeSlices).logits), c.imageGanWeight));
          if (useVolume) parts.push(tf.mul(hingeDiscriminatorLoss(this.d3(p, x).logits, this.d3(p, fake!).logits), c.volumeGanWeight));
          return tf.addN(parts) as tf.Scalar;
        })(dNames.map((n) => this.discParams.get(n)!));
        held.push(dv);
        const dGrads = new Map(dNames.map((n, i) => [n, dg[i]]));
        try {
          this.discOpt.update(this.discParams, dGrads, c.lr);
        } finally {
          tf.dispose(dg);
        }
        dLoss = dv.dataSync()[0];
      }
      this.step++;
      return {
        step: this.step,
        recon,
        commitment,
        gAdv,
        featureMatching,
        perceptual: perc,
        aeLoss,
        dLoss,
        perplexity: perplexity(indices, c.model.nCodes),
        deadCodes,
        ganActive: gan,
      };
    } finally {
      tf.dispose(held);
    }
  }

  /** Encodes and quantises one volume at a time (no codebook update). */
  private *perVolume(volumes: readonly Float32Array[]): Generator<{ z: tf.Tensor5D; zq: tf.Tensor5D; indices: Int32Array; x: tf.Tensor5D }> {
    for (const v of volumes) {
      const x = this.batch([v]);
      const z = this.model.encode(this.ae, x);
      const { zq, indices } = this.model.quantize(this.ae, z);
      try {
        yield { x, z, zq, indices };
      } finally {
        tf.dispose([x, z, zq]);
      }
    }
  }

  /**
   * Reconstructions (clipped to the data range [-1, 1]), their PSNR in dB
   * against the inputs, 10 log10(2^2 / MSE) with peak-to-peak range 2, and
   * each volume's code indices (codebook usage).
   */
  evaluate(volumes: readonly Float32Array[]): { recon: Float32Array[]; psnr: number[]; indices: Int32Array[] } {
    const recon: Float32Array[] = [];
    const psnr: number[] = [];
    const codes: Int32Array[] = [];
    for (const { zq, indices } of this.perVolume(volumes)) {
      codes.push(indices);
      const y = this.model.decode(this.ae, zq);
      const out = (y.dataSync() as Float32Array).map((v) => Math.min(1, Math.max(-1, v)));
      y.dispose();
      const input = volumes[recon.length];
      const mse = out.reduce((s, v, i) => s + (v - input[i]) ** 2, 0) / out.length;
      recon.push(out);
      psnr.push(10 * Math.log10(4 / mse));
    }
    return { recon, psnr, indices: codes };
  }

  /** The latents the latent diffusion trains on: quantised code embeddings, [B, d, h, w, embeddingDim]. */
  encode(volumes: readonly Float32Array[]): EncodedVolumes {
    const [d, h, w] = this.model.latentShape(this.config.shape);
    const e = this.config.model.embeddingDim;
    const per = d * h * w;
    const latents = new Float32Array(volumes.length * per * e);
    const indices = new Int32Array(volumes.length * per);
    let i = 0;
    for (const q of this.perVolume(volumes)) {
      latents.set(q.zq.dataSync() as Float32Array, i * per * e);
      indices.set(q.indices, i * per);
      i++;
    }
    return { shape: [volumes.length, d, h, w, e], latents, indices };
  }

  /**
   * The autoencoder's parameters (live tensors, owned by the trainer):
   * decoder (`post_vq.*`, `dec.*`) and `codebook.embeddings` are what
   * sampling needs; the encoder (`enc.*`, `pre_vq.*`) maps volumes to latents.
   */
  exportParams(): Params {
    return this.ae;
  }

  /** The whole training state as checkpoint files (fp32, exact). */
  async save(): Promise<Map<string, Uint8Array>> {
    const c = this.config;
    const groups = { [PREFIX.ae]: this.ae, [PREFIX.disc]: this.discParams, [PREFIX.aeM]: this.aeOpt.m, [PREFIX.aeV]: this.aeOpt.v, [PREFIX.discM]: this.discOpt.m, [PREFIX.discV]: this.discOpt.v };
    const codebook = new Map([
      [`${PREFIX.codebook}clusterSize`, { shape: [c.model.nCodes], data: Float32Array.from(this.codebook.clusterSize) }],
      [`${PREFIX.codebook}embedSum`, { shape: [c.model.nCodes, c.model.embeddingDim], data: Float32Array.from(this.codebook.embedSum) }],
    ]);
    const state: SavedState = {
      format: STATE_FORMAT,
      config: c,
      seed: this.seed,
      step: this.step,
      aeOptStep: this.aeOpt.step,
      discOptStep: this.discOpt.step,
      codebookInitialised: this.codebook.initialised,
      rng: { slices: this.sliceRng.state.counter, codebook: this.codebookRng.state.counter },
    };
    const meta = {
      name: 'vqgan3d-training-state',
      kind: this.model.kind,
      modality: c.modality,
      model: c.model,
      schedule: {},
      sampler: { name: 'none', steps: 1 },
      data: { shape: [...c.shape], channels: c.model.channels, spacing: [1, 1, 1], intensity: { kind: 'linear' as const, low: -1, high: 1, unit: '' } },
    };
    return saveState(groups, codebook, meta, { ...state });
  }

  /**
   * A trainer from save()'s files, continuing exactly where it stopped;
   * `overrides` may change training settings (lr, loss weights, discStart),
   * not the networks or the volume shape.
   */
  static async load(source: CheckpointSource, options: VqganOptions = {}, overrides: Record<string, unknown> = {}): Promise<VqganTrainer> {
    const { state, file, tensors, group: pick } = await loadState<SavedState>(source, STATE);
    if (typeof state.codebookInitialised !== 'boolean') throw new CheckpointError(file, 'training.state.codebookInitialised must be a boolean');
    const fixed = ['model', 'shape', 'discChannels', 'discLayers', 'discGroups'].find((k) => Object.hasOwn(overrides, k));
    if (fixed) throw new ConfigError(`vqgan.${fixed}`, 'a resumed run keeps its networks and volume shape');
    const config = parseVqganTrainConfig({ ...state.config, ...overrides });
    const trainer = new VqganTrainer(config, state.seed, options, { ae: pick(PREFIX.ae), disc: pick(PREFIX.disc) });
    const expected = [...trainer.model.paramSpecs.map((s) => s.name)].sort().join();
    if ([...trainer.ae.keys()].join() !== expected) throw new CheckpointError(file, 'autoencoder tensors do not match the model config');
    for (const [k, v] of pick(PREFIX.aeM)) trainer.aeOpt.m.set(k, v);
    for (const [k, v] of pick(PREFIX.aeV)) trainer.aeOpt.v.set(k, v);
    for (const [k, v] of pick(PREFIX.discM)) trainer.discOpt.m.set(k, v);
    for (const [k, v] of pick(PREFIX.discV)) trainer.discOpt.v.set(k, v);
    const cluster = tensors.get(`${PREFIX.codebook}clusterSize`);
    const sums = tensors.get(`${PREFIX.codebook}embedSum`);
    if (!cluster || !sums || cluster.data.length !== config.model.nCodes || sums.data.length !== config.model.nCodes * config.model.embeddingDim) {
      throw new CheckpointError(file, 'codebook EMA buffers are missing or the wrong size');
    }
    trainer.codebook.clusterSize.set(cluster.data);
    trainer.codebook.embedSum.set(sums.data);
    trainer.codebook.initialised = state.codebookInitialised;
    trainer.step = state.step;
    trainer.aeOpt.step = state.aeOptStep;
    trainer.discOpt.step = state.discOptStep;
    trainer.sliceRng = new Rng(state.seed, STREAM.slices, state.rng.slices);
    trainer.codebookRng = new Rng(state.seed, STREAM.codebook, state.rng.codebook);
    return trainer;
  }

  dispose(): void {
    tf.dispose([...this.ae.values(), ...this.discParams.values()]);
    this.aeOpt.dispose();
    this.discOpt.dispose();
  }
}

const STATE: StateFormat = {
  format: STATE_FORMAT,
  counters: ['seed', 'step', 'aeOptStep', 'discOptStep', 'rng.slices', 'rng.codebook'],
  what: 'a VQ-GAN training checkpoint',
};
