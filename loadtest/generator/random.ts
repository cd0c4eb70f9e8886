/**
 * Seeded randomness for the traffic generator: the same seed gives the same programme, the same
 * timeline and therefore the same ground truth, so a failing run can be replayed and the
 * generator can be unit-tested without servers.
 */
import { prng } from '../lib/traffic.ts';

/** A seeded random source with the draws the generator needs. */
export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)] as T;
  }

  /** Exponentially distributed with the given mean (inter-arrival times, delays). */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** A decimal amount in [min, max] with `places` decimals, as text (`"12.34"`): money never goes through a float sum. */
  amount(min: number, max: number, places = 2): string {
    const scale = 10 ** places;
    const units = this.int(Math.round(min * scale), Math.round(max * scale));
    const whole = Math.floor(units / scale);
    return places === 0 ? String(whole) : `${whole}.${String(units % scale).padStart(places, '0')}`;
  }
}

/** A weighted choice over fixed weights, drawn in O(log n). */
export class Weighted<T> {
  private readonly cumulative: number[] = [];
  private readonly total: number;

  constructor(
    private readonly items: readonly T[],
    weights: readonly number[],
  ) {
    let sum = 0;
    for (const w of weights) this.cumulative.push((sum += w));
    this.total = sum;
  }

  draw(rng: Rng): T {
    const x = rng.float() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cumulative[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo] as T;
  }
}

/** Zipf weights 1/k^s for ranks 1…n: a few affiliates bring most of the traffic, as in every real programme. */
export function zipfWeights(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
}
