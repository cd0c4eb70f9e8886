/**
 * The sub-IDs of postback jobs' clicks (sub2…sub10 are not in a job), from ClickHouse `clicks`:
 * one query for all the clicks of a fetched batch of jobs, narrowed to the months the click ids'
 * own timestamps fall in (the table is partitioned by month), and a bounded cache so a job's
 * retries do not ask again.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { isClickId, timeOfClickId } from '../../schema/clickId.ts';
import { quote } from '../../schema/clickhouse/client.ts';
import type { ClickSubs } from './render.ts';

/** Clicks remembered. */
const CACHE_SIZE = 20_000;
/** A click row's time is its id's, give or take the edge's clock: a day either side is plenty. */
const SLACK_S = 86_400;
/** A lookup slower than this fails (the jobs come back later): the consumer's ack wait must not run out. */
const LOOKUP_TIMEOUT_MS = 10_000;

const SUBS = Array.from({ length: 10 }, (_, i) => `sub${i + 1}`);

/** Looks clicks' sub-IDs up. */
export class ClickSubsLookup {
  private readonly cache = new Map<string, ClickSubs>();

  constructor(private readonly ch: ClickHouseClient) {}

  /**
   * sub1…sub10 of every click in `clickIds` that ClickHouse holds (ids that are not click ids of
   * ours are never looked up). Throws when ClickHouse does not answer.
   */
  async lookup(clickIds: Iterable<string>): Promise<Map<string, ClickSubs>> {
    const out = new Map<string, ClickSubs>();
    const missing = new Set<string>();
    for (const id of clickIds) {
      const hit = this.cache.get(id);
      if (hit) out.set(id, hit);
      else if (isClickId(id)) missing.add(id);
    }
    if (missing.size === 0) return out;
    const times = [...missing].map((id) => Math.floor(timeOfClickId(id) / 1000));
    const rs = await this.ch.query({
      query: `SELECT click_id, ${SUBS.join(', ')} FROM clicks
              WHERE ts >= toDateTime(${Math.max(0, Math.min(...times) - SLACK_S)}) AND ts <= toDateTime(${Math.max(...times) + SLACK_S})
                AND click_id IN (${[...missing].map(quote).join(',')})
              LIMIT 1 BY click_id`,
      format: 'JSONEachRow',
      abort_signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    });
    for (const r of await rs.json<Record<string, string>>()) {
      const subs = SUBS.map((s) => r[s] ?? '');
      out.set(r.click_id as string, subs);
      this.remember(r.click_id as string, subs);
    }
    return out;
  }

  private remember(id: string, subs: ClickSubs): void {
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(id, subs);
  }
}
