// Seeded, counter-based random numbers (Threefry-2x32-20, Salmon et al. 2011,
// "Parallel random numbers: as easy as 1, 2, 3").
//
// Every value is a pure function of (seed, stream, counter), computed in plain
// JavaScript with 32-bit integer ops, so the same seed gives bit-identical
// noise on every tfjs backend (cpu, wasm, webgpu, tensorflow) and in every
// runtime. Backends never generate noise themselves.

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];
const SKEIN_PARITY = 0x1bd11bda;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** Threefry-2x32 with 20 rounds: encrypts counter (c0, c1) under key (k0, k1). */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (SKEIN_PARITY ^ k0 ^ k1) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let round = 0; round < 20; round++) {
    x0 = (x0 + x1) >>> 0;
    x1 = rotl(x1, ROTATIONS[round % 8]) ^ x0;
    if (round % 4 === 3) {
      const s = (round + 1) / 4; // key injection every 4 rounds
      x0 = (x0 + ks[s % 3]) >>> 0;
      x1 = (x1 + ks[(s + 1) % 3] + s) >>> 0;
    }
  }
  return [x0 >>> 0, x1 >>> 0];
}

const TWO_POW_32 = 4294967296;
/** The largest float32 below 1: words above 2^32 - 129 would round to 1.0 in a Float32Array. */
const FLOAT32_BELOW_ONE = 1 - 2 ** -24;

/** Maps a 32-bit integer to a uniform in the open interval (0, 1). */
function toOpenUnit(u: number): number {
  // Stryker disable next-line ArithmeticOperator: u - 0.5 moves each value by 2^-32, below what float32 outputs resolve; only u = 0 would differ.
  return (u + 0.5) / TWO_POW_32;
}

/**
 * A stream of random numbers. `seed` is any safe integer; `stream` separates
 * independent streams under one seed (medsynth uses one stream per generated
 * image, so image i is the same whether it is generated alone or in a batch).
 * The counter advances as numbers are drawn; `state`/`fromState` save it.
 */
export class Rng {
  readonly seed: number;
  readonly stream: number;
  private counter: number;
  private readonly k0: number;
  private readonly k1: number;

  constructor(seed: number, stream = 0, counter = 0) {
    if (!Number.isSafeInteger(seed)) throw new Error(`rng: seed must be a safe integer, got ${seed}`);
    if (!Number.isSafeInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
      throw new Error(`rng: stream must be an integer in [0, 2^32), got ${stream}`);
    }
    this.seed = seed;
    this.stream = stream;
    this.counter = counter;
    // The key holds the seed's low and high 32 bits (negative seeds wrap).
    this.k0 = Number(BigInt.asUintN(32, BigInt(seed)));
    this.k1 = Number(BigInt.asUintN(32, BigInt(seed) >> 32n));
  }

  get state(): { seed: number; stream: number; counter: number } {
    return { seed: this.seed, stream: this.stream, counter: this.counter };
  }

  static fromState(s: { seed: number; stream: number; counter: number }): Rng {
    return new Rng(s.seed, s.stream, s.counter);
  }

  /** Two independent uint32 words per counter value. */
  private nextPair(): [number, number] {
    if (this.counter >= TWO_POW_32) throw new Error('rng: stream exhausted (2^32 draws)');
    return threefry2x32(this.k0, this.k1, this.counter++, this.stream);
  }

  /** n uniforms in (0, 1), also after rounding to float32. */
  uniform(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const [a, b] = this.nextPair();
      out[i] = Math.min(toOpenUnit(a), FLOAT32_BELOW_ONE);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: a write past a typed array's end is a no-op, so `true`, `<=` and `i - 1 < n` in the condition are equivalent.
      if (i + 1 < n) out[i + 1] = Math.min(toOpenUnit(b), FLOAT32_BELOW_ONE);
    }
    return out;
  }

  /** n standard normals by the Box-Muller transform (both outputs used). */
  normal(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const [a, b] = this.nextPair();
      const r = Math.sqrt(-2 * Math.log(toOpenUnit(a)));
      const theta = 2 * Math.PI * toOpenUnit(b);
      out[i] = r * Math.cos(theta);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: a write past a typed array's end is a no-op, so `true`, `<=` and `i - 1 < n` in the condition are equivalent.
      if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
    }
    return out;
  }

  /** One uniform integer in [0, n) (n <= 2^24: uniform's float32 values are below 1 by at least 2^-24). */
  int(n: number): number {
    return Math.floor(this.uniform(1)[0] * n);
  }
}
