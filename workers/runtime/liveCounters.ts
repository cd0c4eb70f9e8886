/**
 * Today's live counters per affiliate (SPEC §10 "Live"), kept by each partition for the rows it
 * writes and published to Redis after every flush as absolute values — one hash per affiliate and
 * UTC day, one field per partition and counter — so a replay after a crash rewrites the same
 * numbers instead of adding them twice. The edge sums the fields of a hash to answer
 * `GET /api/v1/live/affiliates/{id}`.
 */
import type { ChainableCommander } from 'ioredis';
import { parseMoney, toDecimalText } from '../../schema/money.ts';
import type { ClickRow } from '../sink/clickRow.ts';
import type { EventRow } from '../sink/eventRow.ts';
import { LIVE_COUNTS, LIVE_MONEY, liveKey } from '../../schema/live.ts';

/** Counters of one affiliate on one day in one partition. */
interface Counters {
  counts: Record<(typeof LIVE_COUNTS)[number], number>;
  money: Record<(typeof LIVE_MONEY)[number], bigint>;
}

const dayOf = (secs: number) => new Date(secs * 1000).toISOString().slice(0, 10);

/** One partition's live counters. */
export class LiveCounters {
  private readonly byKey = new Map<string, Counters>();
  private readonly changed = new Set<string>();

  constructor(readonly partition: number) {}

  private get(affiliateId: string, day: string): Counters {
    const k = `${affiliateId}\u0000${day}`;
    this.changed.add(k);
    let c = this.byKey.get(k);
    if (!c) {
      c = {
        counts: Object.fromEntries(LIVE_COUNTS.map((n) => [n, 0])) as Counters['counts'],
        money: Object.fromEntries(LIVE_MONEY.map((n) => [n, 0n])) as Counters['money'],
      };
      this.byKey.set(k, c);
    }
    return c;
  }

  /** Count a written click row. */
  click(r: ClickRow): void {
    const c = this.get(r.affiliate_id, dayOf(r.ts)).counts;
    c.clicks++;
    c.unique_clicks += r.is_unique;
    c.bot_clicks += r.bot;
    c.geo_blocked_clicks += r.geo_blocked;
  }

  /** Count a written event row (organic players are not an affiliate's). */
  event(r: EventRow): void {
    if (r.affiliate_id === '') return;
    const c = this.get(r.affiliate_id as string, dayOf(r.ts as number));
    if (r.type === 'registration') c.counts.registrations++;
    if (r.type === 'deposit') {
      c.counts.deposits++;
      c.money.deposit_amount += parseMoney(r.amount) as bigint;
    }
    if (r.is_ftd === 1) {
      c.counts.ftds++;
      c.money.ftd_amount += parseMoney(r.amount) as bigint;
    }
    c.money.ngr += parseMoney(r.ngr) as bigint;
  }

  /** Set one affiliate's counters for a day from ClickHouse (recovery). */
  restore(affiliateId: string, day: string, counts: Partial<Counters['counts']>, money: Partial<Record<(typeof LIVE_MONEY)[number], string>>): void {
    const c = this.get(affiliateId, day);
    Object.assign(c.counts, counts);
    for (const n of LIVE_MONEY) if (money[n] !== undefined) c.money[n] = parseMoney(money[n]) as bigint;
  }

  /** Forget days before `today` (UTC, `YYYY-MM-DD`): live counters are today's. */
  prune(today: string): void {
    for (const k of this.byKey.keys()) if ((k.split('\u0000')[1] as string) < today) this.byKey.delete(k);
  }

  /**
   * Add what changed since the last call to the pipeline `p` (absolute values; keys expire after 2
   * days), and return what to call if the pipeline fails: those go out again next time. Counts made
   * during the round trip are in the next call's changes. The worker sends every partition's
   * changes in one pipeline: one round trip per publish instead of one per partition.
   */
  stage(p: ChainableCommander, namespace: string): () => void {
    if (this.changed.size === 0) return () => {};
    const changed = [...this.changed];
    this.changed.clear();
    for (const k of changed) {
      const c = this.byKey.get(k);
      if (!c) continue;
      const [aff, day] = k.split('\u0000') as [string, string];
      const key = liveKey(namespace, aff, day);
      const fields: Record<string, string> = {};
      for (const n of LIVE_COUNTS) fields[`${this.partition}:${n}`] = String(c.counts[n]);
      for (const n of LIVE_MONEY) fields[`${this.partition}:${n}`] = toDecimalText(c.money[n]);
      p.hset(key, fields);
      p.expire(key, 2 * 86_400);
    }
    return () => {
      for (const k of changed) this.changed.add(k);
    };
  }
}
