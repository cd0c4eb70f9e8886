/** When postbacks are tried and when endpoints are disabled (docs/commissions.md, “Outbound postbacks”): pure rules. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../schema/config.ts';
import { afterAttempt, enabledEndpoint, endpointEvent, freshEndpoint } from '../../schema/postbacks.ts';
import { backoffMs, BUSY_RETRY_MS, nextStep, retryAfterFailure, type JobProgress } from '../../workers/postbacks/schedule.ts';
import { describeFailure } from '../../workers/postbacks/send.ts';

const H = 3_600_000;
const cfg = loadConfig({}, {}).postbacks;

describe('backoff', () => {
  it('doubles from the base after each failure, capped', () => {
    const c = { backoffBaseMs: 30_000, backoffMaxMs: H };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, c))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, H]);
    expect(backoffMs(5000, c)).toBe(H);
  });

  it('retries until the retry time is over, the last attempt right at its end', () => {
    const c = { backoffBaseMs: 1000, backoffMaxMs: 8000, retryForMs: 20_000 };
    const at: number[] = [0];
    for (let n = 1; ; n++) {
      const next = retryAfterFailure(n, at[at.length - 1] as number, 0, c);
      if (next === null) break;
      at.push(next);
    }
    expect(at).toEqual([0, 1000, 3000, 7000, 15_000, 20_000]);
  });

  it('the defaults retry for 24 h', () => {
    expect(cfg).toMatchObject({ retryForMs: 24 * H, disableAfter: 10, disableWindowMs: 72 * H });
    expect(retryAfterFailure(3, 24 * H - 1, 0, cfg)).toBe(24 * H);
    expect(retryAfterFailure(3, 24 * H, 0, cfg)).toBeNull();
  });
});

describe('nextStep', () => {
  const at = { now: 10_000, hasUrl: true, enabled: true, endpointBusy: false };
  const retried: JobProgress = { attempts: 2, since: 1000, retryAt: 9000, done: false };

  it('sends a new job as attempt 1, its retry time starting now', () => {
    expect(nextStep(undefined, at, cfg)).toEqual({ kind: 'send', attempt: 1, since: 10_000 });
  });

  it('sends a due retry as the next attempt, keeping its retry time', () => {
    expect(nextStep(retried, at, cfg)).toEqual({ kind: 'send', attempt: 3, since: 1000 });
  });

  it('waits for a retry delivered early', () => {
    expect(nextStep({ ...retried, retryAt: 12_500 }, at, cfg)).toEqual({ kind: 'wait', delayMs: 2500 });
  });

  it('acknowledges a job already done, and skips one without postbackUrl', () => {
    expect(nextStep({ ...retried, done: true }, at, cfg).kind).toBe('done');
    expect(nextStep(undefined, { ...at, hasUrl: false }, cfg).kind).toBe('skip');
  });

  it("holds a disabled endpoint's job within its retry time, then gives it up", () => {
    const c = { retryForMs: 60_000, disabledRecheckMs: 5000 };
    expect(nextStep(undefined, { ...at, enabled: false }, c)).toEqual({ kind: 'hold', delayMs: 5000, since: 10_000 });
    expect(nextStep(retried, { ...at, enabled: false, now: 59_000 }, c)).toEqual({ kind: 'hold', delayMs: 2000, since: 1000 });
    expect(nextStep(retried, { ...at, enabled: false, now: 61_000 }, c).kind).toBe('give_up');
  });

  it('puts a busy endpoint off without an attempt', () => {
    expect(nextStep(retried, { ...at, endpointBusy: true }, cfg)).toEqual({ kind: 'busy', delayMs: BUSY_RETRY_MS });
  });
});

describe('endpoint state', () => {
  const rule = { disableAfter: 3, disableWindowMs: 10_000 };
  const fail = (error = 'HTTP 500') => ({ ok: false as const, error });

  it('disables at the n-th consecutive failure within the window', () => {
    let s = freshEndpoint('a1');
    s = afterAttempt(s, fail(), 1000, rule);
    s = afterAttempt(s, fail(), 2000, rule);
    expect(s).toMatchObject({ enabled: true, consecutiveFailures: 2 });
    const before = s;
    s = afterAttempt(s, fail('timeout'), 3000, rule);
    expect(s).toMatchObject({ enabled: false, consecutiveFailures: 3, since: 3000, by: 'dispatcher', lastError: 'timeout' });
    expect(s.reason).toContain('3 consecutive failed attempts');
    expect(endpointEvent(before, s)).toMatchObject({ affiliateId: 'a1', event: 'disabled', failures: 3, lastError: 'timeout', at: 3000 });
  });

  it('a success resets the count; nothing to reset writes nothing', () => {
    let s = freshEndpoint('a1');
    expect(afterAttempt(s, { ok: true }, 1, rule)).toBe(s);
    s = afterAttempt(afterAttempt(s, fail(), 1000, rule), fail(), 2000, rule);
    s = afterAttempt(s, { ok: true }, 2500, rule);
    expect(s).toMatchObject({ enabled: true, consecutiveFailures: 0, recentFailures: [] });
    s = afterAttempt(afterAttempt(s, fail(), 3000, rule), fail(), 4000, rule);
    expect(s.enabled).toBe(true);
  });

  it('failures spread wider than the window do not disable; the run slides', () => {
    let s = freshEndpoint('a1');
    for (const t of [0, 6000, 12_000, 18_000]) s = afterAttempt(s, fail(), t, rule);
    expect(s).toMatchObject({ enabled: true, consecutiveFailures: 4 });
    s = afterAttempt(s, fail(), 20_000, rule);
    expect(s.enabled).toBe(false);
  });

  it('only an operator enables again; a late success while disabled changes nothing', () => {
    let s = freshEndpoint('a1');
    for (const t of [1, 2, 3]) s = afterAttempt(s, fail(), t, rule);
    expect(afterAttempt(s, { ok: true }, 4, rule)).toBe(s);
    const on = enabledEndpoint(s, 5000, 'ops', 'fixed');
    expect(on).toMatchObject({ enabled: true, consecutiveFailures: 0, since: 5000, by: 'ops', reason: 'fixed' });
    expect(endpointEvent(s, on)).toMatchObject({ event: 'enabled', by: 'ops', failures: 3, at: 5000 });
  });
});

describe('describeFailure', () => {
  it('names timeouts, refusals and DNS failures in stable words', () => {
    expect(describeFailure({ code: 'UND_ERR_HEADERS_TIMEOUT', message: 'Headers Timeout Error' }, 2000)).toBe('timeout: no response headers within 2000 ms (UND_ERR_HEADERS_TIMEOUT)');
    expect(describeFailure(Object.assign(new Error('aborted'), { name: 'TimeoutError' }), 2000)).toMatch(/^timeout: /);
    expect(describeFailure({ message: 'fetch failed', cause: { code: 'ECONNREFUSED' } }, 2000)).toBe('connection refused (ECONNREFUSED)');
    expect(describeFailure({ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND x' }, 2000)).toBe('DNS: host not found (ENOTFOUND)');
  });
});
