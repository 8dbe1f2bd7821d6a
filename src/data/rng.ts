// The one JS-side random generator (docs/architecture.md §7): every JS-side random
// choice — shuffling, augmentation parameters, MixUp's λ — draws from an Rng
// seeded from the run's seed, so a run is reproducible and a checkpoint can
// hold the generator's state.
//
// xoshiro128** (Blackman & Vigna, 2018): 128 bits of state, 32-bit integer
// arithmetic only (fast in JS), period 2^128 − 1. The state is filled from the
// seed by splitmix32, as the authors recommend, so nearby seeds give
// unrelated streams.

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkInteger(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
    throw new TypeError(`${what}: expected a safe integer, got ${typeof x === 'number' ? x : typeof x}`);
  }
  return x;
}

/** Splits a safe integer (negative too) into its low and high 32-bit words. */
function words(x: number): [number, number] {
  const lo = x >>> 0; // ToUint32 is x mod 2^32, exact for safe integers
  const hi = Math.floor((x - lo) / TWO32) >>> 0; // negative x: two's complement of the high part
  return [lo, hi];
}

function checkFinite(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new TypeError(`${what}: expected a finite number, got ${String(x)}`);
  return x;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** A generator seeded by any safe integer (negative and > 2^32 too). */
  constructor(seed: number) {
    checkInteger(seed, 'Rng(seed)');
    const [lo, hi] = words(seed);
    // splitmix32 over a state that depends on both words of the seed.
    let z = (fmix32(hi ^ 0x6a09e667) ^ lo) >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      return fmix32(z);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // never the all-zero state
  }

  /** The next 32 random bits as an unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / TWO53;
  }

  /** A uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    checkFinite(lo, 'Rng.uniform(lo)');
    checkFinite(hi, 'Rng.uniform(hi)');
    if (!(hi >= lo)) throw new RangeError(`Rng.uniform: expected lo <= hi, got lo=${lo}, hi=${hi}`);
    const x = lo + (hi - lo) * this.random();
    return x < hi || hi === lo ? x : lo; // guard the rounding case x == hi
  }

  /** A uniform integer in [lo, hi), without modulo bias. */
  int(lo: number, hi: number): number {
    checkInteger(lo, 'Rng.int(lo)');
    checkInteger(hi, 'Rng.int(hi)');
    const n = hi - lo;
    if (!(n > 0)) throw new RangeError(`Rng.int: expected lo < hi, got lo=${lo}, hi=${hi}`);
    if (n <= TWO32) {
      // Rejection sampling on 32 bits: accept below the largest multiple of n.
      const limit = TWO32 - (TWO32 % n);
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return lo + (x % n);
      }
    }
    if (!Number.isSafeInteger(n)) throw new RangeError(`Rng.int: range [${lo}, ${hi}) is wider than 2^53`);
    const limit = TWO53 - (TWO53 % n);
    for (;;) {
      const x = this.random() * TWO53;
      if (x < limit) return lo + (x % n);
    }
  }

  /** A normal draw (Box–Muller; one pair of uniforms per draw, so the state stays the four words). */
  normal(mean = 0, std = 1): number {
    checkFinite(mean, 'Rng.normal(mean)');
    checkFinite(std, 'Rng.normal(std)');
    if (std < 0) throw new RangeError(`Rng.normal: std must be >= 0, got ${std}`);
    const u = 1 - this.random(); // (0, 1]: log is finite
    const v = this.random();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A Gamma(shape, 1) draw (Marsaglia & Tsang, 2000); shape < 1 by the boost Gamma(a+1)·U^(1/a). */
  gamma(shape: number): number {
    checkFinite(shape, 'Rng.gamma(shape)');
    if (!(shape > 0)) throw new RangeError(`Rng.gamma: shape must be > 0, got ${shape}`);
    if (shape < 1) {
      const g = this.gamma(shape + 1);
      const u = 1 - this.random(); // (0, 1]
      return g * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.random();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** A Beta(a, b) draw as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b) (MixUp's λ ~ Beta(α, α)). */
  beta(a: number, b: number): number {
    checkFinite(a, 'Rng.beta(a)');
    checkFinite(b, 'Rng.beta(b)');
    if (!(a > 0) || !(b > 0)) throw new RangeError(`Rng.beta: a and b must be > 0, got a=${a}, b=${b}`);
    const x = this.gamma(a);
    const y = this.gamma(b);
    const s = x + y;
    // Both gammas underflow only for tiny a and b, where Beta puts its mass at 0 and 1.
    if (s === 0) return this.random() < a / (a + b) ? 1 : 0;
    return x / s;
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    checkFinite(p, 'Rng.bernoulli(p)');
    if (p < 0 || p > 1) throw new RangeError(`Rng.bernoulli: p must be in [0, 1], got ${p}`);
    return this.random() < p;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    checkInteger(n, 'Rng.permutation(n)');
    if (n < 0 || n > 0x7fffffff) throw new RangeError(`Rng.permutation: n must be in [0, 2^31), got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Shuffles an array in place (Fisher–Yates) and returns it. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** The generator's state: four unsigned 32-bit words (JSON-safe, for checkpoints). */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Restores a state from getState(). */
  setState(s: number[]): void {
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO32)) {
      throw new TypeError(`Rng.setState: expected four unsigned 32-bit integers (from getState()), got ${JSON.stringify(s)}`);
    }
    if (s.every((w) => w === 0)) throw new RangeError('Rng.setState: the all-zero state is invalid for xoshiro128**');
    [this.s0, this.s1, this.s2, this.s3] = s.map((w) => w | 0);
  }

  /** An independent copy with the same state. */
  clone(): Rng {
    const r = new Rng(0);
    r.setState(this.getState());
    return r;
  }

  /**
   * A new seed for a sub-stream: derive(seed, epoch, worker, ...). Deterministic,
   * order-sensitive hash mixing of every word; the result is a non-negative safe
   * integer (53 bits) to pass to `new Rng(...)`.
   */
  static derive(seed: number, ...streams: number[]): number {
    checkInteger(seed, 'Rng.derive(seed)');
    streams.forEach((s, i) => checkInteger(s, `Rng.derive(stream ${i})`));
    // Two independent lanes, each absorbing every 32-bit word (murmur3-style).
    let a = 0x243f6a88;
    let b = 0x85a308d3;
    const absorb = (w: number): void => {
      a = fmix32((Math.imul(a ^ w, 0x9e3779b1) + 0x7f4a7c15) >>> 0);
      b = fmix32((Math.imul(b, 0x85ebca77) ^ w ^ 0x165667b1) >>> 0);
      b = (b + a) >>> 0;
    };
    for (const x of [seed, ...streams]) {
      const [lo, hi] = words(x);
      absorb(lo);
      absorb(hi);
    }
    absorb(streams.length); // derive(s) ≠ derive(s, 0)
    a = fmix32((a ^ b) >>> 0);
    b = fmix32((b + 0x3c6ef372) >>> 0);
    return (a >>> 11) * TWO32 + b; // 21 + 32 = 53 bits
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
