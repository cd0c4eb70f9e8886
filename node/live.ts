/**
 * `GET /api/v1/live/affiliates/{id}` (docs/api.md, “Live”): today's (UTC) counters of an affiliate,
 * summed over the partitions' fields of its Redis hash (workers/runtime/liveCounters.ts), at most a
 * flush interval old. The admin token sees any affiliate; an affiliate's API key only its own.
 */
import type { Redis } from 'ioredis';
import { AffstreamError } from '../schema/errors.ts';
import { checkId } from '../schema/catalog.ts';
import type { Catalog } from '../schema/catalogStore.ts';
import { parseMoney, toDecimalText } from '../schema/money.ts';
import { LIVE_COUNTS, LIVE_MONEY, liveKey } from '../schema/live.ts';
import { requestScope } from './auth.ts';
import { json, type Reply, type Request } from './http.ts';

/** Today's (UTC) live counters of an affiliate; 503 `unavailable` without Redis. */
export async function readLiveCounters(redis: Redis, namespace: string, id: string): Promise<Record<string, unknown>> {
  const day = new Date().toISOString().slice(0, 10);
  let fields: Record<string, string>;
  try {
    fields = await redis.hgetall(liveKey(namespace, id, day));
  } catch (err) {
    throw new AffstreamError('unavailable', 'live counters are unavailable (Redis)', { cause: err });
  }
  const counts = Object.fromEntries(LIVE_COUNTS.map((n) => [n, 0])) as Record<string, number>;
  const money = Object.fromEntries(LIVE_MONEY.map((n) => [n, 0n])) as Record<string, bigint>;
  for (const [field, value] of Object.entries(fields)) {
    const name = field.slice(field.indexOf(':') + 1);
    if (name in counts) counts[name] = (counts[name] as number) + Number(value);
    else if (name in money) money[name] = (money[name] as bigint) + (parseMoney(value) ?? 0n);
  }
  return {
    affiliate_id: id,
    day,
    ...counts,
    ...Object.fromEntries(Object.entries(money).map(([k, v]) => [k, toDecimalText(v)])),
  };
}

/** The live handler. */
export function liveApi(redis: Redis, namespace: string, catalog: Catalog, adminToken: string) {
  return async (req: Request): Promise<Reply> => {
    const scope = requestScope(req.headers.authorization, adminToken, catalog);
    const id = checkId(req.params[0] ?? '', 'affiliate id');
    if (!scope.all && scope.affiliateId !== id) throw new AffstreamError('forbidden', 'an affiliate API key sees only its own affiliate');
    if (!catalog.affiliates.has(id)) throw new AffstreamError('not_found', `no affiliate ${id}`);
    return json(200, await readLiveCounters(redis, namespace, id));
  };
}
