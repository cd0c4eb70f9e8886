/**
 * When a postback job is tried (docs/commissions.md, “Outbound postbacks”): pure decisions from the
 * job's progress, its endpoint and the clock, so that the dispatcher only carries them out.
 *
 * A job's retry time starts at its first attempt (or, when its endpoint was disabled then, when it
 * was first held) and lasts `retryForMs`. After the n-th failed attempt it waits
 * `backoffBaseMs × 2^(n−1)`, at most `backoffMaxMs`, and never past the end of its retry time: the
 * last attempt is made right at the end, and the job is given up when that one fails too.
 */
import { exponentialBackoff } from '../../schema/backoff.ts';
import type { PostbacksConfig } from '../../schema/config.ts';

/** What the dispatcher remembers of a job across deliveries (in the jobs KV bucket). */
export interface JobProgress {
  /** Requests made so far. */
  attempts: number;
  /** When the job's retry time started (ms). */
  since: number;
  /** Not to be tried before this (ms). */
  retryAt: number;
  /** Delivered, or given up: a redelivery only acknowledges it. */
  done: boolean;
}

/** How long a job waits after its `attempt`-th failed attempt (ms). */
export function backoffMs(attempt: number, cfg: Pick<PostbacksConfig, 'backoffBaseMs' | 'backoffMaxMs'>): number {
  return exponentialBackoff(attempt, cfg.backoffBaseMs, cfg.backoffMaxMs);
}

/** After a failed attempt at `now`: when to try again, or null when the job's retry time is over. */
export function retryAfterFailure(attempt: number, now: number, since: number, cfg: Pick<PostbacksConfig, 'backoffBaseMs' | 'backoffMaxMs' | 'retryForMs'>): number | null {
  const deadline = since + cfg.retryForMs;
  if (now >= deadline) return null;
  return Math.min(now + backoffMs(attempt, cfg), deadline);
}

/** What a delivered job calls for. */
export type Step =
  /** Already delivered or given up: acknowledge. */
  | { kind: 'done' }
  /** The affiliate has no postbackUrl: recorded, acknowledged. */
  | { kind: 'skip' }
  /** Its endpoint is disabled and its retry time is over: recorded, acknowledged. */
  | { kind: 'give_up' }
  /** Its endpoint is disabled: look again after `delayMs`, no attempt (`since` starts its retry time when it had none). */
  | { kind: 'hold'; delayMs: number; since: number }
  /** Delivered before its time (a redelivery after a restart): wait `delayMs`. */
  | { kind: 'wait'; delayMs: number }
  /** Its endpoint has all its requests of this process in flight: come back after `delayMs`. */
  | { kind: 'busy'; delayMs: number }
  /** Send attempt number `attempt`; `since` is the start of its retry time. */
  | { kind: 'send'; attempt: number; since: number };

/** A busy endpoint's job comes back this much later; short, since a slot frees within a request timeout. */
export const BUSY_RETRY_MS = 500;

/** What the situation of a delivered job calls for. */
export function nextStep(
  progress: JobProgress | undefined,
  at: { now: number; hasUrl: boolean; enabled: boolean; endpointBusy: boolean },
  cfg: Pick<PostbacksConfig, 'retryForMs' | 'disabledRecheckMs'>,
): Step {
  if (progress?.done) return { kind: 'done' };
  if (!at.hasUrl) return { kind: 'skip' };
  const since = progress?.since ?? at.now;
  if (!at.enabled) {
    const left = since + cfg.retryForMs - at.now;
    if (left <= 0) return { kind: 'give_up' };
    return { kind: 'hold', delayMs: Math.min(cfg.disabledRecheckMs, left), since };
  }
  if (progress && at.now < progress.retryAt) return { kind: 'wait', delayMs: progress.retryAt - at.now };
  if (at.endpointBusy) return { kind: 'busy', delayMs: BUSY_RETRY_MS };
  return { kind: 'send', attempt: (progress?.attempts ?? 0) + 1, since };
}
