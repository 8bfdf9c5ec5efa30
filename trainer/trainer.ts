// The training state and one optimiser step of a diffusion network, DDPM (2D
// and 3D) or VDM alike: the objective (losses/index.ts) supplies the loss.
//
// Everything random comes from counter-based RNG streams under one seed
// (data order, noise, times, label dropout, validation noise), and the whole
// state (parameters, AdamW moments, EMA, RNG counters, step) is saved, so a
// resumed run continues exactly as an uninterrupted one would.
import '@tensorflow/tfjs'; // registers the gradients of tfjs's ops (tfjs-core alone has none, DESIGN §5)
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, type CheckpointSource } from '../shared/checkpoint/index.ts';
import { loadState, saveState, type StateFormat } from './training-state.ts';
import { createModel } from '../shared/models/index.ts';
import type { Model, Params } from '../shared/models/types.ts';
import { Rng } from '../shared/rng.ts';
import type { BackendName } from '../sampler/backend.ts';
import { loadModel } from '../sampler/load.ts';
import { splitCount } from '../sampler/node/pool.ts';
import { initScheduleParams, parseScheduleConfig, type ScheduleConfig } from '../shared/schedules/index.ts';
import { parseTrainConfig, type TrainConfig } from './config.ts';
import type { ExportMeta } from './export.ts';
import { objectiveFor, type Objective } from './losses/index.ts';
import { AdamW, learningRate } from './optim/adamw.ts';
import { Ema } from './optim/ema.ts';
import { batchGradients, batchRows, type BatchGradients, type HostBatch } from './gradients.ts';
import { GradientThreads, parameterValues } from './parallel/gradient-threads.ts';
import { applyAffine, affineAt } from './preprocess/affine.ts';
import { flip, flipsAt } from './preprocess/augment.ts';
import { canonicalJson } from './preprocess/cache.ts';

/** One training example in model space: values in [-1, 1], row-major over the dataset's shape. */
export interface Example {
  x: Float32Array;
  label?: number;
}

/** Training or held-out examples, all of one shape. */
export interface ExampleSet {
  /** Per-example shape, e.g. [H, W, C] or [D, H, W, C]. */
  readonly shape: number[];
  readonly size: number;
  get(index: number): Example;
}

/** Held-out loss; for a VDM also bits/dim and its three terms (bits/dim each). */
export interface HeldOutLoss {
  loss: number;
  bpd?: number;
  terms?: { recon: number; latent: number; diffusion: number };
}

/** "0.10125" or "3.215 bits/dim (recon 2.9, latent 1e-4, diffusion 0.31)": a held-out loss for a log line. */
export function heldOutLine(v: HeldOutLoss): string {
  if (v.bpd === undefined) return v.loss.toFixed(5);
  const t = v.terms;
  const fmt = (x: number) => (Math.abs(x) >= 0.01 ? x.toFixed(3) : x.toExponential(1));
  return `${v.loss.toFixed(5)}, ${v.bpd.toFixed(3)} bits/dim${t ? ` (recon ${fmt(t.recon)}, latent ${fmt(t.latent)}, diffusion ${fmt(t.diffusion)})` : ''}`;
}

export interface StepMetrics {
  step: number;
  /** DDPM: mean L1/L2 error; VDM: bits per dimension. */
  loss: number;
  gradNorm: number;
  lr: number;
  /** VDM: the three terms in bits per dimension. */
  terms?: { recon: number; latent: number; diffusion: number };
}

/** What a training run is: the network, its schedule and the data description for export. */
export interface TrainSpec {
  kind: string;
  model: Record<string, unknown>;
  meta: ExportMeta;
}

const STREAM = { data: 1, noise: 2, validation: 3 } as const;
const PREFIX = { param: 'param/', ema: 'ema/', m: 'adam.m/', v: 'adam.v/' } as const;
const STATE_FORMAT = 'medsynth-train-state';

interface SavedState {
  format: typeof STATE_FORMAT;
  spec: TrainSpec;
  config: TrainConfig;
  step: number;
  optStep: number;
  emaUpdates: number;
  rng: { data: number; noise: number };
  /** Seconds spent in trainStep, and the backends that ran it (absent in states saved before they were recorded). */
  seconds?: number;
  backends?: string[];
  /** A warm-started run: the exported checkpoint its parameters began from. */
  init?: WarmStart;
}

/** Where a warm-started run's parameters came from, and the training they had already had. */
export interface WarmStart {
  from: string;
  name: string;
  steps: number;
  seconds: number;
}

export class Trainer {
  readonly model: Model<unknown>;
  readonly schedule: ScheduleConfig;
  readonly objective: Objective;
  params: Params;
  readonly opt: AdamW;
  readonly ema: Ema;
  step = 0;
  /** Wall time spent in trainStep over the whole run (resumes included), and the backends that ran it. */
  seconds = 0;
  readonly backends = new Set<string>();
  /** Set when the parameters began from an exported checkpoint (Trainer.warmStart). */
  init?: WarmStart;
  private dataRng: Rng;
  private noiseRng: Rng;
  /** Helper threads that take rows of every batch (useThreads). */
  private helpers?: GradientThreads;

  private constructor(
    readonly spec: TrainSpec,
    readonly config: TrainConfig,
    params: Params | undefined,
  ) {
    this.model = createModel(spec.kind, spec.model);
    this.schedule = parseScheduleConfig(spec.meta.schedule);
    this.objective = objectiveFor(spec.kind, this.model, this.schedule, config);
    // One canonical (sorted) order, so reductions over parameters (the gradient
    // norm) add in the same order in a fresh and in a resumed run.
    this.params = new Map([...(params ?? this.initParams())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    this.opt = new AdamW({ beta1: config.beta1, beta2: config.beta2, eps: config.adamEps, weightDecay: config.weightDecay, clipNorm: config.clipNorm });
    this.ema = new Ema(config.emaDecay);
    this.dataRng = new Rng(config.seed, STREAM.data);
    this.noiseRng = new Rng(config.seed, STREAM.noise);
  }

  static create(spec: TrainSpec, config: unknown = {}): Trainer {
    return new Trainer(spec, parseTrainConfig(config), undefined);
  }

  /**
   * A new run whose parameters (and EMA) start from an exported checkpoint's
   * weights, e.g. a shipped int8 model whose full training state is gone.
   * The checkpoint must be the same kind of network with the same config and
   * parameters. The optimiser moments start at zero (warm-up covers that).
   * `from` is how the run records the source (default: its location).
   */
  static async warmStart(spec: TrainSpec, config: unknown, source: CheckpointSource, from = source.location): Promise<Trainer> {
    const settings = parseTrainConfig(config);
    // loadModel checks the checkpoint against its own manifest (exactly its parameters, shapes, schedule weights).
    const m = await loadModel(source);
    try {
      const file = `${m.location}/manifest.json`;
      if (m.manifest.kind !== spec.kind) throw new CheckpointError(file, `holds a ${m.manifest.kind} model, this run trains ${spec.kind}`);
      const want = canonicalJson(createModel(spec.kind, spec.model).config);
      const have = canonicalJson(m.model.config);
      if (have !== want) throw new CheckpointError(file, `its model config ${have} differs from this run's ${want}`);
      const [haveSchedule, wantSchedule] = [m.manifest.schedule, spec.meta.schedule].map((c) => canonicalJson(parseScheduleConfig(c)));
      if (haveSchedule !== wantSchedule) throw new CheckpointError(file, `its schedule ${haveSchedule} differs from this run's ${wantSchedule}`);
    } catch (e) {
      m.dispose();
      throw e;
    }
    const trainer = new Trainer(spec, settings, m.params);
    const done = m.manifest.training as { steps?: unknown; seconds?: unknown } | undefined;
    const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
    trainer.init = { from, name: m.manifest.name, steps: count(done?.steps), seconds: count(done?.seconds) };
    return trainer;
  }

  private initParams(): Params {
    const params = this.model.init(this.config.seed);
    for (const [k, v] of initScheduleParams(this.schedule, this.config.seed)) params.set(k, v);
    return params;
  }

  private get numClasses(): number {
    return (this.model.config as { numClasses?: number }).numClasses ?? 0;
  }

  /**
   * Data-parallel steps: `threads` threads in all (this one and threads - 1
   * helpers on the same backend, gradient-threads.ts) share the rows of every
   * batch. The result is a one-thread run's up to float rounding; the state
   * does not depend on it, so a run may resume with another count.
   */
  async useThreads(threads: number): Promise<void> {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new Error(`threads: expected an integer in 1..64, got ${threads}`);
    await this.helpers?.close();
    this.helpers = threads > 1 ? await GradientThreads.start(threads - 1, { kind: this.spec.kind, model: this.spec.model, schedule: this.spec.meta.schedule }, this.config, tf.getBackend() as BackendName, this.params) : undefined;
  }

  /** Threads that compute each batch's gradients (1 + helpers). */
  get threads(): number {
    return 1 + (this.helpers?.size ?? 0);
  }

  /**
   * Stacks examples into x [B, ...shape] and labels [B] (absent for
   * unconditional models). Training batches (`augment`) get random flips
   * and affine transforms drawn from (seed, step, position), and labels
   * dropped to the null label, so a resumed run augments alike.
   */
  private batch(data: ExampleSet, indices: number[], augment: false | { offset: number }): Omit<HostBatch, 'draws'> {
    const per = data.shape.reduce((a, b) => a * b, 1);
    const xs = new Float32Array(indices.length * per);
    const labels: number[] = [];
    const spatial = data.shape.slice(0, -1);
    const shape3 = (spatial.length === 2 ? [1, ...spatial] : spatial) as [number, number, number];
    if (augment && (this.config.flip.length || this.config.affine) && data.shape[data.shape.length - 1] !== 1) {
      throw new Error('flip and affine augmentation need single-channel examples');
    }
    indices.forEach((i, j) => {
      const e = data.get(i);
      if (e.x.length !== per) throw new Error(`dataset example ${i} has ${e.x.length} values, expected ${per} for shape [${data.shape}]`);
      const flips = augment && this.config.flip.length ? flipsAt(this.config.seed, this.step, augment.offset + j, { axes: this.config.flip }) : [];
      let x = flips.length ? flip(e.x, shape3, flips) : e.x;
      if (augment && this.config.affine) x = applyAffine(x, shape3, affineAt(this.config.seed, this.step, augment.offset + j, this.config.affine, [shape3[1], shape3[2]]));
      xs.set(x, j * per);
      if (this.numClasses > 0) {
        if (e.label === undefined || e.label < 0 || e.label >= this.numClasses) {
          throw new Error(`dataset example ${i}: label ${e.label} is not in 0..${this.numClasses - 1}`);
        }
        const drop = augment && this.noiseRng.uniform(1)[0] < this.config.pUncond;
        labels.push(drop ? this.numClasses : e.label);
      }
    });
    return { shape: [indices.length, ...data.shape], x: xs, ...(labels.length ? { labels: Int32Array.from(labels) } : {}) };
  }

  /** The loss, terms and gradients of one batch, its rows shared between this thread and the helpers. */
  private async gradients(names: string[], batch: HostBatch): Promise<BatchGradients> {
    const b = batch.shape[0];
    const parts = splitCount(b, this.threads);
    if (parts.length === 1) return batchGradients(this.objective, names, this.params, batch);
    const values = parameterValues(this.params, names);
    const rows = parts.map(([from, n]) => batchRows(batch, from, from + n));
    const theirs = rows.slice(1).map((r, k) => this.helpers!.gradients(k, values, r));
    let answers;
    let mine: BatchGradients | undefined;
    try {
      mine = batchGradients(this.objective, names, this.params, rows[0]);
      answers = await Promise.all(theirs);
    } catch (e) {
      await Promise.allSettled(theirs);
      tf.dispose(mine?.grads);
      throw e;
    }
    // Each part's loss is a mean over its rows: weighted by its share of them, the parts sum to the batch's.
    const w = parts.map(([, n]) => n / b);
    const own = mine;
    const grads = tf.tidy(() =>
      names.map((n, i) => answers.reduce((sum, a, k) => tf.add(sum, tf.mul(tf.tensor(a.grads[i], this.params.get(n)!.shape), w[k + 1])), tf.mul(own.grads[i], w[0]))),
    );
    tf.dispose(own.grads);
    const all = [own, ...answers];
    const weighted = (f: (g: { loss: number; terms?: number[] }) => number) => all.reduce((sum, g, k) => sum + w[k] * f(g), 0);
    const terms = own.terms ? own.terms.map((_, j) => weighted((g) => g.terms![j])) : undefined;
    return { loss: weighted((g) => g.loss), ...(terms ? { terms } : {}), grads };
  }

  /** One optimiser step over batchSize * accumulate examples drawn from `data`. */
  async trainStep(data: ExampleSet): Promise<StepMetrics> {
    if (data.size === 0) throw new Error('the training set is empty');
    const started = performance.now();
    this.backends.add(tf.getBackend());
    const c = this.config;
    const names = [...this.params.keys()];
    const sums = new Map<string, tf.Tensor>();
    let lossSum = 0;
    const termSums = [0, 0, 0];
    for (let a = 0; a < c.accumulate; a++) {
      const indices = Array.from({ length: c.batchSize }, () => this.dataRng.int(data.size));
      const rows = this.batch(data, indices, { offset: a * c.batchSize });
      const { loss, terms, grads } = await this.gradients(names, { ...rows, draws: this.objective.draw(rows.shape, this.noiseRng) });
      lossSum += loss;
      terms?.forEach((v, i) => (termSums[i] += v));
      names.forEach((n, i) => {
        const prev = sums.get(n);
        sums.set(n, prev ? tf.add(prev, grads[i]) : grads[i]);
        if (prev) tf.dispose([prev, grads[i]]);
      });
    }
    if (c.accumulate > 1) for (const [n, g] of sums) sums.set(n, tf.tidy(() => tf.div(g, c.accumulate)) as tf.Tensor), g.dispose();
    const lr = learningRate(this.step, c.lr, c.warmup, c.steps, c.minLrFraction);
    let gradNorm: number;
    try {
      gradNorm = this.opt.update(this.params, sums, lr);
    } finally {
      tf.dispose([...sums.values()]);
    }
    this.ema.update(this.params);
    this.step++;
    this.seconds += (performance.now() - started) / 1000;
    const loss = lossSum / c.accumulate;
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${this.step}: lower the learning rate`);
    const metrics: StepMetrics = { step: this.step, loss, gradNorm, lr };
    if (this.objective.bitsPerDim) {
      const [recon, latent, diffusion] = termSums.map((v) => v / c.accumulate);
      metrics.terms = { recon, latent, diffusion };
    }
    return metrics;
  }

  /**
   * Held-out loss with the EMA weights on the first `batches` batches of
   * `data`, with the same noise every call (so values are comparable across
   * steps). VDM also reports bits/dim, and its three terms in bits/dim.
   */
  evaluate(data: ExampleSet, batches = this.config.validationBatches): HeldOutLoss {
    const rng = new Rng(this.config.seed, STREAM.validation);
    const weights = this.ema.shadow.size ? this.ema.shadow : this.params;
    let total = 0;
    let n = 0;
    const termSums = [0, 0, 0];
    for (let b = 0; b < batches && b * this.config.batchSize < data.size; b++) {
      const indices = Array.from({ length: Math.min(this.config.batchSize, data.size - b * this.config.batchSize) }, (_, j) => b * this.config.batchSize + j);
      const rows = this.batch(data, indices, false);
      const x = tf.tensor(rows.x, rows.shape);
      const label = rows.labels ? tf.tensor1d(rows.labels, 'int32') : undefined;
      try {
        const { loss, terms } = this.objective.loss(weights, x, label, this.objective.draw(rows.shape, rng));
        total += loss.dataSync()[0] * indices.length;
        terms?.dataSync().forEach((v, i) => (termSums[i] += v * indices.length));
        n += indices.length;
        tf.dispose([loss, terms]);
      } finally {
        tf.dispose([x, label]);
      }
    }
    if (n === 0) throw new Error('the validation set is empty');
    const loss = total / n;
    if (!this.objective.bitsPerDim) return { loss };
    const [recon, latent, diffusion] = termSums.map((v) => v / n);
    return { loss, bpd: loss, terms: { recon, latent, diffusion } };
  }

  /**
   * `evaluate` for weights from outside a run (an exported checkpoint's, which
   * `params` must hold, gamma.* included for a learned schedule), under the
   * training settings it records. The caller keeps owning `params`.
   */
  static evaluateWeights(spec: TrainSpec, params: Params, config: unknown, data: ExampleSet, batches: number): HeldOutLoss {
    const t = new Trainer(spec, parseTrainConfig(config), params);
    try {
      return t.evaluate(data, batches);
    } finally {
      t.opt.dispose();
      t.ema.dispose();
    }
  }

  /** The EMA weights (or the raw ones before any step), as the parameters to export. */
  exportParams(): Params {
    return this.ema.shadow.size ? this.ema.shadow : this.params;
  }

  /** The manifest's `training` record of an export from the EMA weights: steps, time, backends, settings. */
  trainingRecord(): Record<string, unknown> {
    const init = this.init;
    // A warm-started run counts the steps and time its starting weights had had.
    const steps = this.step + (init?.steps ?? 0);
    const seconds = Math.round(this.seconds + (init?.seconds ?? 0));
    return { steps, seconds, backends: [...this.backends], seed: this.config.seed, weights: 'ema', config: this.config, ...(init ? { warmStart: { ...init, runSteps: this.step } } : {}) };
  }

  /** The whole training state as checkpoint files (fp32, exact). */
  async save(): Promise<Map<string, Uint8Array>> {
    const groups = { [PREFIX.param]: this.params, [PREFIX.ema]: this.ema.shadow, [PREFIX.m]: this.opt.m, [PREFIX.v]: this.opt.v };
    const state: SavedState = {
      format: STATE_FORMAT,
      spec: this.spec,
      config: this.config,
      step: this.step,
      optStep: this.opt.step,
      emaUpdates: this.ema.updates,
      rng: { data: this.dataRng.state.counter, noise: this.noiseRng.state.counter },
      seconds: this.seconds,
      backends: [...this.backends],
      ...(this.init ? { init: this.init } : {}),
    };
    return saveState(groups, new Map(), { ...this.spec.meta, kind: this.spec.kind, model: this.model.config as Record<string, unknown> }, { ...state });
  }

  /** A trainer from save()'s files; `overrides` may change settings such as the total steps. */
  static async load(source: CheckpointSource, overrides: Record<string, unknown> = {}): Promise<Trainer> {
    const { state, file, group: pick } = await loadState<SavedState>(source, STATE);
    checkState(state, file);
    const trainer = new Trainer(state.spec, parseTrainConfig({ ...state.config, ...overrides }), pick(PREFIX.param));
    for (const [k, v] of pick(PREFIX.ema)) trainer.ema.shadow.set(k, v);
    for (const [k, v] of pick(PREFIX.m)) trainer.opt.m.set(k, v);
    for (const [k, v] of pick(PREFIX.v)) trainer.opt.v.set(k, v);
    trainer.step = state.step;
    trainer.opt.step = state.optStep;
    trainer.ema.updates = state.emaUpdates;
    trainer.seconds = state.seconds ?? 0;
    for (const b of state.backends ?? []) trainer.backends.add(b);
    trainer.init = state.init;
    trainer.dataRng = new Rng(trainer.config.seed, STREAM.data, state.rng.data);
    trainer.noiseRng = new Rng(trainer.config.seed, STREAM.noise, state.rng.noise);
    return trainer;
  }

  dispose(): void {
    void this.helpers?.close();
    tf.dispose([...this.params.values()]);
    this.opt.dispose();
    this.ema.dispose();
  }
}

const STATE: StateFormat = { format: STATE_FORMAT, counters: ['step', 'optStep', 'emaUpdates', 'rng.data', 'rng.noise'], what: 'a training checkpoint' };

/** The diffusion state's own fields beyond the counters loadState checks. */
function checkState(state: SavedState, file: string): void {
  if (state.seconds !== undefined && !(Number.isFinite(state.seconds) && state.seconds >= 0)) throw new CheckpointError(file, 'training.state.seconds must be a non-negative number');
  if (state.backends !== undefined && !(Array.isArray(state.backends) && state.backends.every((b) => typeof b === 'string'))) {
    throw new CheckpointError(file, 'training.state.backends must be a list of backend names');
  }
  const init = state.init;
  if (init !== undefined && !(typeof init.from === 'string' && typeof init.name === 'string' && Number.isFinite(init.steps) && Number.isFinite(init.seconds))) {
    throw new CheckpointError(file, 'training.state.init must be { from, name, steps, seconds }');
  }
}
