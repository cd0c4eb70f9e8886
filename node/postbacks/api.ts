/**
 * The outbound postback API (docs/api.md, “Outbound postbacks”):
 * - `GET /api/v1/postbacks?affiliate=&commission=&from=&to=&limit=` — the attempt log, newest first;
 * - `GET /api/v1/postbacks/endpoints` — each affiliate endpoint's state (enabled or disabled,
 *   consecutive failures, since when);
 * - `POST /api/v1/postbacks/endpoints/{affiliateId}/enable` (`{"reason", "by"}`, both optional) — an
 *   operator re-enabling a disabled endpoint: audited in ClickHouse first, then written to the
 *   endpoints bucket, where every worker's dispatcher sees it; the jobs that waited go out within
 *   `postbacks.disabledRecheckMs`.
 * The admin token sees everything and alone may enable; an affiliate API key sees only its own.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { NatsConnection } from '@nats-io/transport-node';
import { checkId } from '../../schema/catalog.ts';
import type { Catalog } from '../../schema/catalogStore.ts';
import { quote } from '../../schema/clickhouse/client.ts';
import type { ClusterConfig } from '../../schema/config.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { PostbackEndpoints } from '../../schema/postbackEndpoints.ts';
import { enabledEndpoint, endpointEvent, endpointEventRow, type EndpointState } from '../../schema/postbacks.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { requestScope, type Scope } from '../auth.ts';
import { json, type Reply, type Request } from '../http.ts';
import { idParam, limitParam, scopedAffiliate, timeParam } from '../queryParams.ts';

/** What the postback API needs. */
export interface PostbackApiDeps {
  ch: ClickHouseClient;
  nc: NatsConnection;
  cfg: ClusterConfig;
  names: NatsNames;
  catalog: Catalog;
  adminToken: string;
  onError: (err: unknown) => void;
}

const MAX_ATTEMPTS = 10_000;
/** Without `from`, a week back: a job is retried for a day, so its whole story fits with room to spare. */
const DEFAULT_SPAN_MS = 7 * 86_400_000;

/** An endpoint as the API shows it. */
function endpointView(s: EndpointState, postbackUrl: string | null) {
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  return {
    affiliate_id: s.affiliateId,
    postback_url: postbackUrl,
    enabled: s.enabled,
    consecutive_failures: s.consecutiveFailures,
    last_failure_at: iso(s.recentFailures[s.recentFailures.length - 1]),
    last_error: s.lastError,
    since: iso(s.since),
    by: s.by,
    reason: s.reason,
  };
}

/** The optional text fields of an enable body. */
function enableBody(req: Request): { reason: string; by: string } {
  if (req.body.length === 0) return { reason: '', by: 'admin' };
  let b: unknown;
  try {
    b = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AffstreamError('invalid_json', 'body must be JSON: {"reason": "...", "by": "..."}');
  }
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new AffstreamError('invalid_json', 'body must be a JSON object');
  const field = (name: string, max: number): string => {
    const v = (b as Record<string, unknown>)[name];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string' || v.length > max) throw new AffstreamError('invalid_field', `${name}: must be a string of at most ${max} characters`);
    return v;
  };
  return { reason: field('reason', 1000), by: field('by', 64) || 'admin' };
}

/** The postback API's handlers; `close` stops the endpoints watch (opened on first use). */
export function postbacksApi(d: PostbackApiDeps) {
  let opened: Promise<PostbackEndpoints> | undefined;
  const endpoints = async (): Promise<PostbackEndpoints> => {
    opened ??= PostbackEndpoints.open(d.nc, d.cfg, d.onError);
    try {
      return await opened;
    } catch (err) {
      opened = undefined;
      throw new AffstreamError('unavailable', 'postback endpoint states are unavailable (NATS)', { cause: err });
    }
  };

  const visible = (scope: Scope, affiliateId: string) => scope.all || scope.affiliateId === affiliateId;

  return {
    async attempts(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      const q = new URLSearchParams(req.query);
      const to = timeParam('to', q.get('to'), Date.now() + 60_000);
      const from = timeParam('from', q.get('from'), to - DEFAULT_SPAN_MS);
      const affiliate = scopedAffiliate(scope, q.get('affiliate'));
      const commission = idParam('commission', q.get('commission'));
      const limit = limitParam(q.get('limit'), 1000, MAX_ATTEMPTS);
      const where = [
        `at >= toDateTime(${Math.max(0, Math.floor(from / 1000))}) AND at < toDateTime(${Math.max(0, Math.ceil(to / 1000))})`,
        affiliate ? `affiliate_id = ${quote(affiliate)}` : '',
        commission ? `commission_id = ${quote(commission)}` : '',
      ].filter(Boolean);
      let rows: Array<Record<string, unknown>>;
      try {
        // FINAL: a batch inserted twice (a retried insert that had landed) shows its rows once.
        const rs = await d.ch.query({
          query: `SELECT toUInt64(at) * 1000 + at_ms AS ms, job_id, commission_id, version, brand_id, affiliate_id, status, url, status_code,
                         latency_ms, error, attempt, result
                  FROM postback_attempts FINAL WHERE ${where.join(' AND ')}
                  ORDER BY ms DESC, job_id, attempt DESC LIMIT ${limit}`,
          format: 'JSONEachRow',
          clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
        });
        rows = await rs.json<Record<string, unknown>>();
      } catch (err) {
        throw new AffstreamError('unavailable', 'postback attempts are unavailable (ClickHouse)', { cause: err });
      }
      return json(200, rows.map(({ ms, ...r }) => ({ at: new Date(Number(ms)).toISOString(), ...r })));
    },

    async endpoints(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      const eps = await endpoints();
      const ids = new Set<string>();
      for (const a of d.catalog.affiliates.values()) if (a.postbackUrl) ids.add(a.id);
      for (const s of eps.list()) ids.add(s.affiliateId);
      const list = [...ids].filter((id) => visible(scope, id)).sort();
      return json(200, list.map((id) => endpointView(eps.get(id), d.catalog.affiliates.get(id)?.postbackUrl ?? null)));
    },

    async enable(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      if (!scope.all) throw new AffstreamError('forbidden', 'only an operator (admin token) can enable a postback endpoint');
      const affiliateId = checkId(req.params[0] ?? '', 'affiliateId');
      const { reason, by } = enableBody(req);
      const eps = await endpoints();
      const current = eps.get(affiliateId);
      if (current.enabled) {
        if (!d.catalog.affiliates.has(affiliateId)) throw new AffstreamError('not_found', `no affiliate ${affiliateId}`);
        throw new AffstreamError('conflict', `the postback endpoint of ${affiliateId} is not disabled`);
      }
      const event = endpointEvent(current, enabledEndpoint(current, Date.now(), by, reason));
      try {
        await d.ch.insert({ table: 'postback_endpoint_events', values: [endpointEventRow(event)], format: 'JSONEachRow' });
      } catch (err) {
        throw new AffstreamError('unavailable', 'the enable cannot be audited now (ClickHouse); nothing was changed', { cause: err });
      }
      let after: EndpointState;
      try {
        ({ after } = await eps.update(affiliateId, (s) => (s.enabled ? s : enabledEndpoint(s, event.at, by, reason))));
      } catch (err) {
        throw new AffstreamError('unavailable', 'the enable was audited but could not be applied (NATS); try again', { cause: err });
      }
      // Announced like a disable; nobody may be listening, which is fine (the row is the record).
      try {
        d.nc.publish(d.names.postbackAlerts, JSON.stringify(event));
      } catch (err) {
        d.onError(err);
      }
      return json(200, { ok: true, endpoint: endpointView(after, d.catalog.affiliates.get(affiliateId)?.postbackUrl ?? null) });
    },

    close(): void {
      void opened?.then((eps) => eps.close(), () => undefined);
    },
  };
}
