/**
 * Seeded pseudo-random numbers whose whole state fits in four 32-bit words, so
 * a training run can save the state in a checkpoint and resume the exact same
 * sequence.
 *
 * The generator is xoshiro128** (Blackman and Vigna, 2018), seeded through
 * splitmix32 so that nearby seeds give unrelated streams.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const rng = new Rng(42);
 * const first = rng.next();
 * const again = Rng.fromState(new Rng(42).state()).next();
 * console.log(first === again); // true
 * ```
 * @module
 */

/** The four 32-bit words of a generator's state, as stored in checkpoints. */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seeded generator of uniform numbers in [0, 1) and of derived draws. */
export class Rng {
  #s: Uint32Array;

  /** Creates a generator from an integer seed; equal seeds give equal sequences. */
  constructor(seed: number) {
    const mix = splitmix32(seed);
    this.#s = new Uint32Array([mix(), mix(), mix(), mix()]);
    if (this.#s.every((word) => word === 0)) this.#s[0] = 1;
  }

  /** Recreates a generator from a state saved with {@linkcode Rng.state}. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.#s = Uint32Array.from(state);
    return rng;
  }

  /** Returns a copy of the current state. */
  state(): RngState {
    return [this.#s[0], this.#s[1], this.#s[2], this.#s[3]];
  }

  /** Returns the next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Returns a uniform number in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Returns a uniform number in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Returns a uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/**
 * Derives a seed for one purpose (for example epoch 3's augmentation) from a
 * run's seed, so each stream can be recreated without replaying the others.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x9e3779b1) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 0x85ebca77) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}
