/**
 * Outbound postbacks' shared shapes (docs/commissions.md, “Outbound postbacks”): the state of an
 * affiliate's endpoint, kept in a KV bucket that every worker and edge sees; the rule that counts
 * failed attempts and disables an endpoint; and the rows of the attempt log and of endpoint events.
 */

/**
 * The state of one affiliate's postback endpoint. An affiliate without an entry is enabled, with
 * no failures.
 */
export interface EndpointState {
  affiliateId: string;
  enabled: boolean;
  /** Failed attempts since the last success (or since an operator enabled the endpoint). */
  consecutiveFailures: number;
  /** When the latest of those failures happened (ms), oldest first, at most `disableAfter` of them. */
  recentFailures: number[];
  /** The latest failure's error ('' after a success). */
  lastError: string;
  /** When the endpoint was last disabled or enabled (ms; 0 = never). */
  since: number;
  /** Who did that: `dispatcher` (disabled on failures) or `admin` (an operator enabled it); '' = never. */
  by: string;
  /** Why. */
  reason: string;
}

/** When failures disable an endpoint: `disableAfter` consecutive ones within `disableWindowMs`. */
export interface DisableRule {
  disableAfter: number;
  disableWindowMs: number;
}

/** The state of an endpoint nothing has happened to. */
export function freshEndpoint(affiliateId: string): EndpointState {
  return { affiliateId, enabled: true, consecutiveFailures: 0, recentFailures: [], lastError: '', since: 0, by: '', reason: '' };
}

/**
 * The state after an attempt at `at`: a success resets the count; a failure counts, and the one
 * that makes `disableAfter` consecutive failures within `disableWindowMs` (a sliding window over
 * the run's latest failures, so an old failure of a long run no longer counts) disables the
 * endpoint. Only an operator enables it again: while disabled, a late success (a request that was
 * in flight) changes nothing. Returns `state` itself when nothing changes, so the caller writes
 * nothing.
 */
export function afterAttempt(state: EndpointState, outcome: { ok: true } | { ok: false; error: string }, at: number, rule: DisableRule): EndpointState {
  if (outcome.ok) {
    if (!state.enabled || state.consecutiveFailures === 0) return state;
    return { ...state, consecutiveFailures: 0, recentFailures: [], lastError: '' };
  }
  const recentFailures = [...state.recentFailures, at].slice(-rule.disableAfter);
  const next = { ...state, consecutiveFailures: state.consecutiveFailures + 1, recentFailures, lastError: outcome.error };
  const oldest = recentFailures[0] as number;
  if (state.enabled && recentFailures.length >= rule.disableAfter && at - oldest <= rule.disableWindowMs) {
    const hours = Math.round(rule.disableWindowMs / 3_600_000);
    return { ...next, enabled: false, since: at, by: 'dispatcher', reason: `${rule.disableAfter} consecutive failed attempts within ${hours} h; last: ${outcome.error}` };
  }
  return next;
}

/** The state once an operator (`by`) enabled the endpoint at `at`: a fresh run of failures starts. */
export function enabledEndpoint(state: EndpointState, at: number, by: string, reason: string): EndpointState {
  return { ...state, enabled: true, consecutiveFailures: 0, recentFailures: [], lastError: '', since: at, by, reason };
}

/** An endpoint disabled or enabled: announced on the alerts subject and stored as an endpoint-event row. */
export interface PostbackEndpointEvent {
  affiliateId: string;
  event: 'disabled' | 'enabled';
  /** `dispatcher` or the operator. */
  by: string;
  reason: string;
  /** Consecutive failures at the time (before the enable reset them). */
  failures: number;
  lastError: string;
  /** ms. */
  at: number;
}

/** The event of `state`'s latest change, `failures` and `lastError` as they stood before it. */
export function endpointEvent(before: EndpointState, after: EndpointState): PostbackEndpointEvent {
  return {
    affiliateId: after.affiliateId, event: after.enabled ? 'enabled' : 'disabled', by: after.by, reason: after.reason,
    failures: after.enabled ? before.consecutiveFailures : after.consecutiveFailures,
    lastError: after.enabled ? before.lastError : after.lastError, at: after.since,
  };
}

/** A row of `postback_endpoint_events` (schema/clickhouse/migrations/007_postbacks.sql). */
export interface EndpointEventRow {
  at: number;
  at_ms: number;
  affiliate_id: string;
  event: string;
  actor: string;
  reason: string;
  failures: number;
  last_error: string;
}

/** The ClickHouse row of an endpoint event. */
export function endpointEventRow(e: PostbackEndpointEvent): EndpointEventRow {
  return {
    at: Math.floor(e.at / 1000), at_ms: e.at % 1000, affiliate_id: e.affiliateId, event: e.event, actor: e.by,
    reason: e.reason, failures: e.failures, last_error: e.lastError,
  };
}

/**
 * What became of one attempt: `ok` (a 2xx), `failed` (retried later), `gave_up` (failed, and the
 * job's retry time is over), `skipped` (the affiliate has no `postbackUrl`: nothing to send).
 */
export type AttemptResult = 'ok' | 'failed' | 'gave_up' | 'skipped';

/**
 * A row of `postback_attempts`. `attempt` counts the requests of the job, from 1; a row without a
 * request (`skipped`, or `gave_up` while the endpoint was disabled) has attempt 0 and status code 0.
 */
export interface PostbackAttemptRow {
  /** Seconds; the request's start. */
  at: number;
  at_ms: number;
  job_id: string;
  commission_id: string;
  version: number;
  brand_id: string;
  affiliate_id: string;
  /** The commission status the postback announces. */
  status: string;
  url: string;
  /** The HTTP status; 0 when no answer came (timeout, refused, DNS…). */
  status_code: number;
  latency_ms: number;
  error: string;
  attempt: number;
  result: AttemptResult;
}
