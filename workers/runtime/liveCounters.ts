/**
 * Today's live counters per affiliate (docs/architecture.md, “Live counters”), kept by each partition for the rows it
 * writes and published to Redis several times a second as absolute values — one hash per
 * affiliate and UTC day, one field per partition and counter, only the fields that changed — so a
 * replay after a crash rewrites the same numbers instead of adding them twice. The edge sums the
 * fields of a hash to answer `GET /api/v1/live/affiliates/{id}`.
 */
import type { ChainableCommander } from 'ioredis';
import { parseMoney, toDecimalText } from '../../schema/money.ts';
import type { ClickRow } from '../sink/clickRow.ts';
import type { EventRow } from '../sink/eventRow.ts';
import { LIVE_COUNTS, LIVE_MONEY, liveKey } from '../../schema/live.ts';

type CountName = (typeof LIVE_COUNTS)[number];
type MoneyName = (typeof LIVE_MONEY)[number];

/** Counters of one affiliate on one day in one partition. */
interface Counters {
  counts: Record<CountName, number>;
  money: Record<MoneyName, bigint>;
  /** Counters changed since they were last staged: only those are written (a click moves at most 4 of 10). */
  changed: Set<CountName | MoneyName>;
  /** When the hash's expiry was last pushed back (ms); -Infinity: never by this process. */
  expirySetAt: number;
}

/** How long a live hash lives after its last expiry refresh (2 days: today's counters, read until tomorrow). */
const EXPIRE_S = 2 * 86_400;
/** An expiry is refreshed at most this often: once per hash and hour is plenty against 2 days. */
const EXPIRY_REFRESH_MS = 3_600_000;

const dayOf = (secs: number) => new Date(secs * 1000).toISOString().slice(0, 10);

/** One partition's live counters. */
export class LiveCounters {
  private readonly byKey = new Map<string, Counters>();
  /** Keys with changed counters. */
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
        changed: new Set(),
        expirySetAt: -Infinity,
      };
      this.byKey.set(k, c);
    }
    return c;
  }

  /** Count a written click row. */
  click(r: ClickRow): void {
    const c = this.get(r.affiliate_id, dayOf(r.ts));
    this.add(c, 'clicks', 1);
    if (r.is_unique) this.add(c, 'unique_clicks', r.is_unique);
    if (r.bot) this.add(c, 'bot_clicks', r.bot);
    if (r.geo_blocked) this.add(c, 'geo_blocked_clicks', r.geo_blocked);
  }

  private add(c: Counters, name: CountName, n: number): void {
    c.counts[name] += n;
    c.changed.add(name);
  }

  private addMoney(c: Counters, name: MoneyName, amount: string | number | undefined): void {
    c.money[name] += parseMoney(amount as string) as bigint;
    c.changed.add(name);
  }

  /** Count a written event row (organic players are not an affiliate's). */
  event(r: EventRow): void {
    if (r.affiliate_id === '') return;
    const c = this.get(r.affiliate_id as string, dayOf(r.ts as number));
    if (r.type === 'registration') this.add(c, 'registrations', 1);
    if (r.type === 'deposit') {
      this.add(c, 'deposits', 1);
      this.addMoney(c, 'deposit_amount', r.amount);
    }
    if (r.is_ftd === 1) {
      this.add(c, 'ftds', 1);
      this.addMoney(c, 'ftd_amount', r.amount);
    }
    this.addMoney(c, 'ngr', r.ngr);
  }

  /** Set one affiliate's counters for a day from ClickHouse (recovery). */
  restore(affiliateId: string, day: string, counts: Partial<Counters['counts']>, money: Partial<Record<MoneyName, string>>): void {
    const c = this.get(affiliateId, day);
    for (const n of LIVE_COUNTS) {
      if (counts[n] === undefined) continue;
      c.counts[n] = counts[n];
      c.changed.add(n);
    }
    for (const n of LIVE_MONEY) {
      if (money[n] === undefined) continue;
      c.money[n] = parseMoney(money[n]) as bigint;
      c.changed.add(n);
    }
  }

  /** Forget days before `today` (UTC, `YYYY-MM-DD`): live counters are today's. */
  prune(today: string): void {
    for (const k of this.byKey.keys()) {
      if ((k.split('\u0000')[1] as string) >= today) continue;
      this.byKey.delete(k);
      this.changed.delete(k);
    }
  }

  /**
   * Add what changed since the last call to the pipeline `p` (absolute values of the changed
   * counters; a hash's expiry is pushed back at most hourly), and return what to call if the
   * pipeline fails: those go out again next time. Counts made during the round trip are in the
   * next call's changes. The worker sends every partition's changes in one pipeline: one round
   * trip per publish instead of one per partition.
   */
  stage(p: ChainableCommander, namespace: string, now = Date.now()): () => void {
    if (this.changed.size === 0) return () => {};
    const staged: Array<[string, Counters, Array<CountName | MoneyName>, number]> = [];
    for (const k of this.changed) {
      const c = this.byKey.get(k);
      if (!c || c.changed.size === 0) continue;
      const [aff, day] = k.split('\u0000') as [string, string];
      const key = liveKey(namespace, aff, day);
      const names = [...c.changed];
      c.changed.clear();
      const fields: Record<string, string> = {};
      for (const n of names) fields[`${this.partition}:${n}`] = n in c.money ? toDecimalText(c.money[n as MoneyName]) : String(c.counts[n as CountName]);
      p.hset(key, fields);
      const expirySetAt = c.expirySetAt;
      if (now - expirySetAt >= EXPIRY_REFRESH_MS) {
        p.expire(key, EXPIRE_S);
        c.expirySetAt = now;
      }
      staged.push([k, c, names, expirySetAt]);
    }
    this.changed.clear();
    return () => {
      for (const [k, c, names, expirySetAt] of staged) {
        this.changed.add(k);
        for (const n of names) c.changed.add(n);
        if (c.expirySetAt === now) c.expirySetAt = expirySetAt;
      }
    };
  }
}
