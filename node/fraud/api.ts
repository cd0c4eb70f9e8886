/**
 * The fraud API (docs/fraud.md, “Alerts and pauses”): `GET /api/v1/fraud/alerts` (from ClickHouse),
 * `GET /api/v1/fraud/pauses` (the pauses in force, from the edge's mirror of the fraud bucket) and
 * `POST /api/v1/fraud/pauses/{id}/lift` with `{"reason": "…"}` (or
 * `DELETE /api/v1/fraud/pauses/{id}?reason=…`) — an operator lifting a pause: audited in ClickHouse
 * first, then told to the affiliate's actor through its partition (so it forgets the pause and
 * starts the sub-ID's windows afresh), then removed from the bucket (every edge stops marking
 * clicks). The admin token sees and lifts everything; an affiliate's API key sees only its own
 * rows.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { AffstreamError } from '../../schema/errors.ts';
import type { Catalog } from '../../schema/catalogStore.ts';
import { quote } from '../../schema/clickhouse/client.ts';
import { encodeLift, KIND_HEADER } from '../../schema/eventWire.ts';
import { RULE_OF } from '../../schema/fraud.ts';
import { partitionOf } from '../../schema/shard.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { requestScope } from '../auth.ts';
import { idParam, limitParam, oneOfParam, scopedAffiliate, timeParam } from '../queryParams.ts';
import { json, type Reply, type Request } from '../http.ts';
import type { FraudPauses } from './pauses.ts';

/** What the fraud API needs. */
export interface FraudApiDeps {
  ch: ClickHouseClient;
  js: JetStreamClient;
  names: NatsNames;
  partitions: number;
  catalog: Catalog;
  pauses: FraudPauses;
  adminToken: string;
}

const RULES = [...new Set<string>(Object.values(RULE_OF))];
const MAX_ALERTS = 10_000;

/** The fraud API's handlers. */
export function fraudApi(d: FraudApiDeps) {
  return {
    async alerts(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      const q = new URLSearchParams(req.query);
      const to = timeParam('to', q.get('to'), Date.now() + 60_000);
      const from = timeParam('from', q.get('from'), to - 86_400_000);
      const affiliate = scopedAffiliate(scope, q.get('affiliate'));
      const brand = idParam('brand', q.get('brand'));
      const rule = oneOfParam('rule', q.get('rule'), RULES);
      const limit = limitParam(q.get('limit'), 1000, MAX_ALERTS);
      const where = [
        `ts >= toDateTime(${Math.floor(from / 1000)}) AND ts < toDateTime(${Math.ceil(to / 1000)})`,
        affiliate ? `affiliate_id = ${quote(affiliate)}` : '',
        brand ? `brand_id = ${quote(brand)}` : '',
        rule ? `rule = ${quote(rule)}` : '',
      ].filter(Boolean);
      let rows: Array<Record<string, unknown>>;
      try {
        const rs = await d.ch.query({
          query: `SELECT id, toUInt64(ts) * 1000 + ts_ms AS at, brand_id, affiliate_id, sub_id, player_id, rule, action, score, evidence
                  FROM fraud_alerts WHERE ${where.join(' AND ')} ORDER BY at DESC, id LIMIT ${limit}`,
          format: 'JSONEachRow',
          clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
        });
        rows = await rs.json<Record<string, unknown>>();
      } catch (err) {
        throw new AffstreamError('unavailable', 'fraud alerts are unavailable (ClickHouse)', { cause: err });
      }
      return json(200, rows.map(({ at, evidence, ...r }) => ({ ...r, ts: new Date(Number(at)).toISOString(), evidence: JSON.parse(String(evidence)) })));
    },

    async pauses(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      const q = new URLSearchParams(req.query);
      const affiliate = scopedAffiliate(scope, q.get('affiliate'));
      // Only the pauses whose triggering event came at or after `from`: what a watcher has not seen yet.
      const from = timeParam('from', q.get('from'), -Infinity);
      return json(200, d.pauses.list().filter((p) => (affiliate === '' || p.affiliate_id === affiliate) && Date.parse(p.since) >= from));
    },

    async lift(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      if (!scope.all) throw new AffstreamError('forbidden', 'only an operator (admin token) can lift a pause');
      const pause = d.pauses.byId(req.params[0] ?? '');
      if (!pause) throw new AffstreamError('not_found', `no pause ${req.params[0]} in force`);
      let reason = new URLSearchParams(req.query).get('reason') ?? '';
      if (req.body.length > 0) {
        let body: unknown;
        try {
          body = JSON.parse(req.body.toString('utf8'));
        } catch {
          throw new AffstreamError('invalid_json', 'body must be JSON: {"reason": "..."}');
        }
        const r = (body as { reason?: unknown }).reason;
        if (r !== undefined && (typeof r !== 'string' || r.length > 1000)) throw new AffstreamError('invalid_field', 'reason: must be a string of at most 1000 characters');
        reason = (r as string | undefined) ?? reason;
      }
      const row = {
        ts: Math.floor(Date.now() / 1000), pause_id: pause.id, brand_id: pause.brand_id, affiliate_id: pause.affiliate_id, sub_id: pause.sub_id,
        rule: pause.rule, action: pause.action, operator: 'admin', reason,
      };
      try {
        await d.ch.insert({ table: 'fraud_audit', values: [row], format: 'JSONEachRow' });
      } catch (err) {
        throw new AffstreamError('unavailable', 'the lift cannot be audited now (ClickHouse); nothing was changed', { cause: err });
      }
      const h = natsHeaders();
      h.set(KIND_HEADER, 'lifted');
      const lift = { affiliateId: pause.affiliate_id, subId: pause.sub_id, pauseId: pause.id };
      try {
        await d.js.publish(d.names.partitionSubject(partitionOf(pause.affiliate_id, d.partitions)), encodeLift(lift), { msgID: `lift.${pause.id}`, headers: h });
        await d.pauses.remove(pause);
      } catch (err) {
        throw new AffstreamError('unavailable', 'the lift was audited but could not be applied (NATS); try again', { cause: err });
      }
      return json(200, { ok: true, lifted: pause, reason });
    },
  };
}
