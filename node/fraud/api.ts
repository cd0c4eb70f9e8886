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
import { equalities, selectOrUnavailable, timeRange } from '../../schema/clickhouse/client.ts';
import { encodeLift, KIND_HEADER } from '../../schema/eventWire.ts';
import { RULE_OF } from '../../schema/fraud.ts';
import { partitionOf } from '../../schema/shard.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { requestScope } from '../auth.ts';
import { idParam, jsonBody, limitParam, oneOfParam, scopedAffiliate, textField, timeParam } from '../requestParams.ts';
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
      const where = [timeRange('ts', from, to), ...equalities({ affiliate_id: affiliate, brand_id: brand, rule })];
      const rows = await selectOrUnavailable<Record<string, unknown>>(
        d.ch,
        `SELECT id, toUInt64(ts) * 1000 + ts_ms AS at, brand_id, affiliate_id, sub_id, player_id, rule, action, score, evidence
         FROM fraud_alerts WHERE ${where.join(' AND ')} ORDER BY at DESC, id LIMIT ${limit}`,
        'fraud alerts',
      );
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
      // The reason comes in the body (POST) or, for DELETE, in the query.
      const body = jsonBody(req, { optional: true, example: '{"reason": "..."}' });
      const reason = textField(body, 'reason', 1000) || (new URLSearchParams(req.query).get('reason') ?? '');
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
