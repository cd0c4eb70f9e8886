/**
 * The commission API (docs/commissions.md, “Lifecycle API”):
 * - `GET /api/v1/commissions?brand=&affiliate=&status=&kind=&period=&from=&to=&limit=` — lines as
 *   they stand (the latest ledger version of each), newest first; an affiliate key sees its own.
 * - `GET /api/v1/commissions/{id}` — one line with its history: every change, who made it, when.
 * - `POST /api/v1/commissions/{id}/approve|hold|reject|pay` (`{"reason"}` for hold and reject,
 *   `{"reference"}` for pay, optional `{"by"}`: who) — admin only.
 * - `POST /api/v1/commissions/approve-due` — approves every pending line whose hold period has
 *   passed and whose checks are clean.
 *
 * A transition is not written here: it is a command put into the partition of the affiliate's
 * commission actor, which applies it in order with everything else that line sees (a chargeback
 * arriving at the same time, a fraud hold) and answers once the change is in ClickHouse. The API
 * checks the lifecycle first so a forbidden transition answers `409 invalid_transition` at once;
 * the actor checks again, and its word is final.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { v7 as uuidv7 } from 'uuid';
import { AffstreamError } from '../../schema/errors.ts';
import type { Catalog } from '../../schema/catalogStore.ts';
import { equalities, quote, selectOrUnavailable, timeRange } from '../../schema/clickhouse/client.ts';
import {
  COMMISSION_STATUSES, transition,
  type CommandBatch, type CommandResult, type Commission, type CommissionAction, type CommissionCommand, type CommissionKind, type CommissionStatus,
} from '../../schema/commissions.ts';
import { commandsId, encodeCommands } from '../../schema/eventWire.ts';
import { requestScope } from '../auth.ts';
import { json, type Reply, type Request } from '../http.ts';
import { badParam, idParam, jsonBody, limitParam, oneOfParam, scopedAffiliate, textField, timeParam, type JsonBody } from '../requestParams.ts';
import { byPartition, publishAnswered, type PartitionMessage, type PartitionSendDeps } from './partitionMessages.ts';

/** What the commission API needs; `answerTimeoutMs` is how long a transition waits for the worker's answer before answering 202 (the command is durable and will apply). */
export interface CommissionApiDeps extends PartitionSendDeps {
  ch: ClickHouseClient;
  catalog: Catalog;
  adminToken: string;
}

const KINDS: readonly CommissionKind[] = ['cpa', 'revshare', 'subaffiliate'];
const MAX_LINES = 10_000;
/** Candidates approve-due sends in one call; more are left for the next call (the answer says so). */
const MAX_DUE = 50_000;
const PERIOD = /^\d{4}-\d{2}$/;
const ID = /^[0-9a-f-]{36}$/;

/**
 * The columns of a line as it stands: the latest version's, under names of their own (aliases are
 * global in ClickHouse 18.16: an alias named like a column would shadow it inside argMax).
 */
const CURRENT = `id, max(version) AS v, any(brand_id) AS brand, any(affiliate_id) AS affiliate, any(player_id) AS player, any(kind) AS k,
  any(period) AS per, toString(argMax(amount, version)) AS amt, any(currency) AS cur, argMax(status, version) AS st, argMax(reason, version) AS why,
  any(plan_version) AS plan, any(source_event_id) AS source, toUInt64(min(created_at)) * 1000 + any(created_at_ms) AS created,
  toUInt64(max(at)) * 1000 + argMax(at_ms, version) AS updated`;

interface CurrentRow {
  id: string;
  v: number;
  brand: string;
  affiliate: string;
  player: string;
  k: CommissionKind;
  per: string;
  amt: string;
  cur: string;
  st: CommissionStatus;
  why: string;
  plan: string;
  source: string;
  created: number;
  updated: number;
}

function commissionOf(r: CurrentRow): Commission {
  return {
    id: r.id, brandId: r.brand, affiliateId: r.affiliate, playerId: r.player, kind: r.k, period: r.per, amount: r.amt, currency: r.cur,
    status: r.st, reason: r.why, planVersion: r.plan, sourceEventId: r.source,
    createdAt: new Date(Number(r.created)).toISOString(), updatedAt: new Date(Number(r.updated)).toISOString(),
  };
}

const select = <T>(ch: ClickHouseClient, query: string): Promise<T[]> => selectOrUnavailable<T>(ch, query, 'commissions');

/** What each action needs in its body. */
const NEEDS: Record<CommissionAction, 'reason' | 'reference' | null> = { approve: null, hold: 'reason', reject: 'reason', pay: 'reference' };

/** The commission API's handlers. */
export function commissionApi(d: CommissionApiDeps) {
  const admin = (req: Request) => {
    const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
    if (!scope.all) throw new AffstreamError('forbidden', 'only an operator (admin token) changes commissions');
  };

  const line = async (id: string): Promise<CurrentRow> => {
    if (!ID.test(id)) throw new AffstreamError('invalid_id', 'a commission id is a UUID');
    const [r] = await select<CurrentRow>(d.ch, `SELECT ${CURRENT} FROM commission_ledger WHERE id = ${quote(id)} GROUP BY id`);
    if (!r) throw new AffstreamError('not_found', `no commission ${id}`);
    return r;
  };

  /**
   * Put `commands` (affiliate → command) into their partitions and wait for every answer; results
   * by line id, or null when the worker did not answer within the timeout (the commands stay durable).
   */
  const send = async (commands: ReadonlyMap<string, CommissionCommand>): Promise<Map<string, CommandResult> | null> => {
    const batchId = uuidv7();
    const messages = byPartition([...commands].map(([affiliateId, c]) => ({ affiliateId, command: c })), d.partitions).map(({ partition, items }): PartitionMessage => ({
      partition, kind: 'commands', answers: items.length,
      encode: (replyTo) => {
        const b: CommandBatch = { id: `${batchId}.${partition}`, replyTo, items };
        return { msgId: commandsId(b.id), data: encodeCommands(b) };
      },
    }));
    const answers = await publishAnswered(d, messages, 'the command could not be queued (NATS); nothing was changed');
    // Not every worker answered in time: the commands are in the stream and will be applied.
    return answers && new Map(answers.flatMap((a) => a.results.map((r): [string, CommandResult] => [r.commissionId, r])));
  };

  const command = (action: CommissionCommand['action'], ids: string[], b: JsonBody): CommissionCommand => ({
    id: uuidv7(), action, commissionIds: ids, at: Date.now(),
    reason: textField(b, 'reason', 1000, NEEDS[action as CommissionAction] === 'reason'),
    reference: textField(b, 'reference', 256, NEEDS[action as CommissionAction] === 'reference'),
    by: textField(b, 'by', 64) || 'admin',
  });

  return {
    async list(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      const q = new URLSearchParams(req.query);
      const affiliate = scopedAffiliate(scope, q.get('affiliate'));
      const brand = idParam('brand', q.get('brand'));
      const status = oneOfParam('status', q.get('status'), COMMISSION_STATUSES);
      const kind = oneOfParam('kind', q.get('kind'), KINDS);
      const period = q.get('period') ?? '';
      if (period && !PERIOD.test(period)) throw badParam('period', 'YYYY-MM');
      const from = timeParam('from', q.get('from'), 0);
      const to = timeParam('to', q.get('to'), Date.now() + 86_400_000);
      const limit = limitParam(q.get('limit'), 1000, MAX_LINES);
      const where = [timeRange('created_at', from, to), ...equalities({ affiliate_id: affiliate, brand_id: brand, kind, period })];
      const rows = await select<CurrentRow>(
        d.ch,
        `SELECT ${CURRENT} FROM commission_ledger WHERE ${where.join(' AND ')} GROUP BY id ${status ? `HAVING st = ${quote(status)}` : ''}
         ORDER BY created DESC, id LIMIT ${limit}`,
      );
      return json(200, rows.map(commissionOf));
    },

    async get(req: Request): Promise<Reply> {
      const scope = requestScope(req.headers.authorization, d.adminToken, d.catalog);
      const r = await line(req.params[0] ?? '');
      if (!scope.all && scope.affiliateId !== r.affiliate) throw new AffstreamError('not_found', `no commission ${r.id}`);
      const history = await select<{ version: number; status: string; reason: string; amount_text: string; by: string; reference: string; ms: number }>(
        d.ch,
        `SELECT version, status, reason, toString(amount) AS amount_text, changed_by AS by, reference, toUInt64(at) * 1000 + at_ms AS ms FROM commission_ledger WHERE id = ${quote(r.id)} ORDER BY version`,
      );
      return json(200, { ...commissionOf(r), history: history.map(({ ms, amount_text, ...h }) => ({ ...h, amount: amount_text, at: new Date(Number(ms)).toISOString() })) });
    },

    /** The handler of one action on one line. */
    transition(action: CommissionAction) {
      return async (req: Request): Promise<Reply> => {
        admin(req);
        const b = jsonBody(req, { optional: true });
        const r = await line(req.params[0] ?? '');
        transition(r.st, action);
        const results = await send(new Map([[r.affiliate, command(action, [r.id], b)]]));
        if (results === null) return json(202, { ok: true, applied: false, message: 'accepted; the worker has not confirmed yet, the change will apply' });
        const result = results.get(r.id);
        if (result?.error) throw new AffstreamError(result.error.code, result.error.message);
        return json(200, commissionOf(await line(r.id)));
      };
    },

    async approveDue(req: Request): Promise<Reply> {
      admin(req);
      const b = jsonBody(req, { optional: true });
      const q = new URLSearchParams(req.query);
      const affiliate = idParam('affiliate', q.get('affiliate'));
      const brand = idParam('brand', q.get('brand'));
      const now = Date.now();
      const where = equalities({ affiliate_id: affiliate, brand_id: brand });
      const due = await select<{ id: string; affiliate: string }>(
        d.ch,
        `SELECT id, any(affiliate_id) AS affiliate FROM commission_ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         GROUP BY id HAVING argMax(status, version) = 'pending' AND toUInt64(argMax(hold_until, version)) * 1000 + argMax(hold_until_ms, version) <= ${now}
         LIMIT ${MAX_DUE + 1}`,
      );
      const more = due.length > MAX_DUE;
      const ids = new Map<string, string[]>();
      for (const r of due.slice(0, MAX_DUE)) ids.set(r.affiliate, [...(ids.get(r.affiliate) ?? []), r.id]);
      if (ids.size === 0) return json(200, { approved: 0, skipped: [], more: false });
      const commands = new Map([...ids].map(([a, list]) => [a, command('approve-due', list, b)]));
      const results = await send(commands);
      if (results === null) return json(202, { ok: true, applied: false, candidates: Math.min(due.length, MAX_DUE), more, message: 'accepted; the workers have not confirmed yet' });
      const all = [...results.values()];
      return json(200, {
        approved: all.filter((r) => r.ok).length,
        skipped: all.filter((r) => !r.ok).map((r) => ({ id: r.commissionId, reason: r.error?.message ?? '' })),
        more,
      });
    },
  };
}
