// The codebook learned by exponential moving averages (van den Oord et al.
// 2017, appendix A.1; Razavi et al. 2019, VQ-VAE-2) with data-driven init and
// dead-code restart, as TATS's `Codebook` does it. Host-side (Float32Array
// state, float64 arithmetic): the work is O(rows x width) and it keeps every
// backend bit-identical for the same encoder outputs.
import { Rng } from '../../shared/rng.ts';

export interface CodebookEmaConfig {
  /** EMA decay gamma (0.99). */
  decay: number;
  /** Laplace smoothing epsilon of the cluster sizes (TATS 1e-7). */
  eps: number;
  /** Codes whose EMA cluster size falls below this are restarted (TATS 1.0); 0 = never. */
  restartThreshold: number;
}

/**
 * `count` rows drawn without replacement from z [M, E] tiled to at least
 * nCodes rows, as TATS's `_tile` + randperm: when M < nCodes the tiled copies
 * get N(0, (0.01 / sqrt(E))^2) noise so repeated rows differ.
 */
export function randomRows(z: Float32Array, dim: number, count: number, nCodes: number, rng: Rng): Float32Array {
  const m = z.length / dim;
  const tiled = m < nCodes;
  const total = tiled ? Math.ceil(nCodes / m) * m : m;
  if (count > total) throw new Error(`randomRows: ${count} rows requested from ${total}`);
  const perm = Int32Array.from({ length: total }, (_, i) => i);
  const out = new Float32Array(count * dim);
  const std = 0.01 / Math.sqrt(dim);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(total - i); // partial Fisher-Yates
    [perm[i], perm[j]] = [perm[j], perm[i]];
    const row = perm[i] % m;
    const noise = tiled ? rng.normal(dim) : undefined;
    for (let e = 0; e < dim; e++) out[i * dim + e] = z[row * dim + e] + (noise ? noise[e] * std : 0);
  }
  return out;
}

/** exp(-sum_k p_k log p_k) of the code usage p over a batch: nCodes when uniform, 1 when collapsed. */
export function perplexity(indices: Int32Array, nCodes: number): number {
  const counts = new Float64Array(nCodes);
  for (const k of indices) counts[k]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / indices.length) * Math.log(c / indices.length);
  return Math.exp(h);
}

export class CodebookEma {
  /** e [K, E]: the codebook the quantiser reads. */
  readonly embeddings: Float32Array;
  /** N [K]: EMA of how many rows each code was assigned. */
  readonly clusterSize: Float32Array;
  /** m [K, E]: EMA of the sum of the rows assigned to each code. */
  readonly embedSum: Float32Array;
  /** False until the first batch has initialised the codes. */
  initialised = false;

  constructor(
    readonly nCodes: number,
    readonly dim: number,
    readonly config: CodebookEmaConfig,
    embeddings: Float32Array,
  ) {
    if (embeddings.length !== nCodes * dim) throw new Error(`codebook: ${embeddings.length} values for ${nCodes} x ${dim}`);
    this.embeddings = Float32Array.from(embeddings);
    this.clusterSize = new Float32Array(nCodes);
    this.embedSum = Float32Array.from(embeddings);
  }

  /** Data-driven init (TATS `_init_embeddings`): codes = random encoder outputs z [M, E]; N = 1, m = e. */
  init(z: Float32Array, rng: Rng): void {
    const rows = randomRows(z, this.dim, this.nCodes, this.nCodes, rng);
    this.embeddings.set(rows);
    this.embedSum.set(rows);
    this.clusterSize.fill(1);
    this.initialised = true;
  }

  /**
   * One EMA step for rows z [M, E] assigned to codes `indices` [M]:
   *   N_k <- gamma N_k + (1 - gamma) n_k,   m_k <- gamma m_k + (1 - gamma) sum_{i: k_i = k} z_i,
   *   e_k = m_k / N~_k with Laplace-smoothed sizes N~_k = (N_k + eps) / (n + K eps) * n, n = sum_k N_k.
   * Then every code with N_k below the threshold is restarted at a random row
   * of this batch (m and N are left as they are, as in TATS: a dead code keeps
   * being re-drawn until it gathers enough rows to stay).
   */
  update(z: Float32Array, indices: Int32Array, rng: Rng): { deadCodes: number } {
    const { nCodes: K, dim: E } = this;
    const { decay, eps, restartThreshold } = this.config;
    if (indices.length * E !== z.length) throw new Error(`codebook: ${indices.length} indices for ${z.length / E} rows`);
    const counts = new Float64Array(K);
    const sums = new Float64Array(K * E);
    indices.forEach((k, i) => {
      counts[k]++;
      for (let e = 0; e < E; e++) sums[k * E + e] += z[i * E + e];
    });
    let n = 0;
    for (let k = 0; k < K; k++) {
      this.clusterSize[k] = decay * this.clusterSize[k] + (1 - decay) * counts[k];
      n += this.clusterSize[k];
      for (let e = 0; e < E; e++) this.embedSum[k * E + e] = decay * this.embedSum[k * E + e] + (1 - decay) * sums[k * E + e];
    }
    const dead: number[] = [];
    for (let k = 0; k < K; k++) {
      const size = ((this.clusterSize[k] + eps) / (n + K * eps)) * n;
      for (let e = 0; e < E; e++) this.embeddings[k * E + e] = this.embedSum[k * E + e] / size;
      if (this.clusterSize[k] < restartThreshold) dead.push(k);
    }
    if (dead.length) {
      const rows = randomRows(z, E, dead.length, K, rng);
      dead.forEach((k, i) => this.embeddings.set(rows.subarray(i * E, (i + 1) * E), k * E));
    }
    return { deadCodes: dead.length };
  }
}
