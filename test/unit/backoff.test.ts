/** Restart pacing (schema/backoff.ts): doubling pauses, reset by a stable run. */
import { describe, expect, it } from 'vitest';
import { exponentialBackoff, failuresInARow, RESTART_PACING } from '../../schema/backoff.ts';

describe('restart pacing', () => {
  it('doubles from the base to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => exponentialBackoff(n, RESTART_PACING.baseMs, RESTART_PACING.maxMs))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(exponentialBackoff(10_000, 1, 5)).toBe(5);
  });

  it('counts failures in a row until a run lasts the stable time', () => {
    expect(failuresInARow(3, 59_999, RESTART_PACING)).toBe(4);
    expect(failuresInARow(3, 60_000, RESTART_PACING)).toBe(1);
    expect(failuresInARow(0, 10, RESTART_PACING)).toBe(1);
  });
});
