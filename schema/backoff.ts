/**
 * Exponential pauses, one rule for everything that retries or restarts: outbound postbacks
 * (workers/postbacks/schedule.ts), a worker instance after a dead loop (workers/supervisor.ts) and
 * a process `affstream up` starts again (cli/commands/up.ts).
 */

/** The pause after the `n`-th failure in a row: `baseMs × 2^(n−1)`, at most `maxMs`. */
export function exponentialBackoff(n: number, baseMs: number, maxMs: number): number {
  // 2^n overflows to Infinity long before it matters; the cap keeps the result finite.
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
}

/** How a restarted thing is paced: a pause doubling from `baseMs` to `maxMs`, reset by a run of `stableMs`. */
export interface RestartPacing {
  baseMs: number;
  maxMs: number;
  stableMs: number;
}

/** Restarts of workers and processes: 1 s, doubling to 30 s while it keeps dying; a minute up starts over. */
export const RESTART_PACING: RestartPacing = { baseMs: 1_000, maxMs: 30_000, stableMs: 60_000 };

/** Failures in a row, counting this one, of a thing that ran `ranMs` after `before` failures in a row. */
export function failuresInARow(before: number, ranMs: number, pacing: RestartPacing): number {
  return ranMs >= pacing.stableMs ? 1 : before + 1;
}
