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
import { equalities, selectOrUnavailable, timeRange } from '../../schema/clickhouse/client.ts';
import type { ClusterConfig } from '../../schema/config.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { PostbackEndpoints } from '../../schema/postbackEndpoints.ts';
import { enabledEndpoint, endpointEvent, endpointEventRow, type EndpointState } from '../../schema/postbacks.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { requestScope, type Scope } from '../auth.ts';
import { json, type Reply, type Request } from '../http.ts';
import { idParam, jsonBody, limitParam, scopedAffiliate, textField, timeParam } from '../requestParams.ts';

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
  const b = jsonBody(req, { optional: true, example: '{"reason": "...", "by": "..."}' });
  return { reason: textField(b, 'reason', 1000), by: textField(b, 'by', 64) || 'admin' };
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
      const where = [timeRange('at', from, to), ...equalities({ affiliate_id: affiliate, commission_id: commission })];
      // FINAL: a batch inserted twice (a retried insert that had landed) shows its rows once.
      const rows = await selectOrUnavailable<Record<string, unknown>>(
        d.ch,
        `SELECT toUInt64(at) * 1000 + at_ms AS ms, job_id, commission_id, version, brand_id, affiliate_id, status, url, status_code,
                latency_ms, error, attempt, result
         FROM postback_attempts FINAL WHERE ${where.join(' AND ')}
         ORDER BY ms DESC, job_id, attempt DESC LIMIT ${limit}`,
        'postback attempts',
      );
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
