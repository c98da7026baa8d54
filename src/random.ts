import { randomInt } from 'node:crypto';

/**
 * mulberry32: a tiny 32-bit PRNG. Good enough to decide faults, and — unlike Math.random — it can
 * be seeded, so a run with `--seed N` injects the same faults for the same request sequence.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for runs that did not ask for one; logged so the run can be reproduced. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}

export class SeededRandom {
  private next: () => number;

  constructor(private readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** Starts the sequence over, as if freshly seeded. */
  restart(): void {
    this.next = mulberry32(this.seed);
  }

  /** A number in [0, 1). */
  float(): number {
    return this.next();
  }

  /**
   * True with probability `p`. Always consumes one draw, whatever `p` is, so changing one knob
   * does not shift the decisions of the others.
   */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
