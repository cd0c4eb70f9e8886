/**
 * Per-minute aggregates, computed by the worker from the rows of one flush, not by materialized
 * views (docs/architecture.md, “Exactly once, by construction”, 4). One row per partition and key
 * (minute, brand, affiliate, sub1, campaign, country), tagged with the partition's last message
 * sequence in the flush, so the landed-rows check that protects the raw logs protects these too.
 * Money sums are exact (bigint).
 *
 * The sums are kept up to date as messages are consumed ({@link MinuteSums.add}) rather than
 * computed from the queued rows when the flush starts: a flush then only turns a few sums into
 * rows, instead of walking every row it writes in one synchronous step of the worker's loop.
 */
import { parseMoney, toDecimalText } from '../../schema/money.ts';
import type { ClickLookupRow, ClickRow } from './clickRow.ts';
import type { EventRow } from './eventRow.ts';
import type { CreditPart } from './creditRow.ts';

/** An aggregate row as written (decimal columns as text). */
export type AggregateRow = Record<string, string | number>;

const minuteOf = (secs: number) => secs - (secs % 60);

/** How one aggregate table sums its source rows. */
interface SumSpec<R, A> {
  keyOf(r: R): string;
  init(r: R): A;
  add(a: A, r: R): void;
  /** The row's columns other than `partition` and `seq`. */
  row(a: A): AggregateRow;
}

/** One aggregate table's sums for one flush, per partition and key. */
export class MinuteSums<R, A> {
  private readonly sums = new Map<number, Map<string, A>>();

  constructor(private readonly spec: SumSpec<R, A>) {}

  /** Sum the rows one message of `partition` produced. */
  add(partition: number, rows: readonly R[]): void {
    if (rows.length === 0) return;
    let byKey = this.sums.get(partition);
    if (!byKey) this.sums.set(partition, (byKey = new Map()));
    for (const r of rows) {
      const k = this.spec.keyOf(r);
      let a = byKey.get(k);
      if (!a) byKey.set(k, (a = this.spec.init(r)));
      this.spec.add(a, r);
    }
  }

  /**
   * The rows, each tagged with its partition's last sequence in the flush (one insert covers
   * them all); partitions for which `skip` says so are left out. Made one at a time as they are
   * read: with a sub-ID per click there is about a row per event, and making them all in one step
   * stopped the worker's loop for 20–40 ms per flush at 1,000 events/s.
   */
  *rows(lastSeqs: ReadonlyMap<number, number>, skip: (partition: number, seq: number) => boolean = () => false): Generator<AggregateRow> {
    for (const [partition, byKey] of this.sums) {
      const seq = lastSeqs.get(partition) as number;
      if (skip(partition, seq)) continue;
      for (const a of byKey.values()) yield { partition, seq, ...this.spec.row(a) };
    }
  }
}

interface ClickMinute {
  row: AggregateRow & { clicks: number; unique_clicks: number; bot_clicks: number; geo_blocked_clicks: number };
}

/** `click_minutes`: clicks, unique, bot and geo-blocked clicks. */
export function clickMinutes(): MinuteSums<ClickRow, ClickMinute> {
  return new MinuteSums<ClickRow, ClickMinute>({
    keyOf: (r) => `${minuteOf(r.ts)}\u0000${r.brand_id}\u0000${r.affiliate_id}\u0000${r.sub1}\u0000${r.campaign}\u0000${r.country}`,
    init: (r) => ({
      row: { minute: minuteOf(r.ts), brand_id: r.brand_id, affiliate_id: r.affiliate_id, sub1: r.sub1, campaign: r.campaign, country: r.country, clicks: 0, unique_clicks: 0, bot_clicks: 0, geo_blocked_clicks: 0 },
    }),
    add: (a, r) => {
      a.row.clicks++;
      a.row.unique_clicks += r.is_unique;
      a.row.bot_clicks += r.bot;
      a.row.geo_blocked_clicks += r.geo_blocked;
    },
    row: (a) => a.row,
  });
}

const EVENT_MONEY = ['ftd_amount', 'deposit_amount', 'withdrawal_amount', 'ggr', 'bonus_amount', 'chargeback_amount', 'ngr'] as const;

interface EventMinute {
  row: AggregateRow & { registrations: number; ftds: number; deposits: number };
  money: Record<(typeof EVENT_MONEY)[number], bigint>;
}

/** `event_minutes`: registrations, FTDs and money per minute, by the click country of attributed players. */
export function eventMinutes(): MinuteSums<EventRow, EventMinute> {
  const m = (s: string | number) => parseMoney(s) as bigint;
  return new MinuteSums<EventRow, EventMinute>({
    keyOf: (r) => `${minuteOf(r.ts as number)}\u0000${r.brand_id}\u0000${r.affiliate_id}\u0000${r.sub1}\u0000${r.campaign}\u0000${r.click_country || r.country}`,
    init: (r) => ({
      row: { minute: minuteOf(r.ts as number), brand_id: r.brand_id as string, affiliate_id: r.affiliate_id as string, sub1: r.sub1 as string, campaign: r.campaign as string, country: (r.click_country || r.country) as string, registrations: 0, ftds: 0, deposits: 0 },
      money: { ftd_amount: 0n, deposit_amount: 0n, withdrawal_amount: 0n, ggr: 0n, bonus_amount: 0n, chargeback_amount: 0n, ngr: 0n },
    }),
    add: (a, r) => {
      if (r.type === 'registration') a.row.registrations++;
      if (r.type === 'deposit') {
        a.row.deposits++;
        a.money.deposit_amount += m(r.amount as string);
      }
      if (r.is_ftd === 1) {
        a.row.ftds++;
        a.money.ftd_amount += m(r.amount as string);
      }
      if (r.type === 'withdrawal') a.money.withdrawal_amount += m(r.amount as string);
      a.money.ggr += m(r.ggr as string);
      a.money.bonus_amount += m(r.bonus_cost as string);
      a.money.chargeback_amount += m(r.chargeback as string);
      a.money.ngr += m(r.ngr as string);
    },
    row: (a) => ({ ...a.row, ...Object.fromEntries(EVENT_MONEY.map((k) => [k, toDecimalText(a.money[k])])) }),
  });
}

interface CreditMinute {
  row: AggregateRow;
  registrations_bp: number;
  ftds_bp: number;
  ftd_amount: bigint;
  deposit_amount: bigint;
  ngr: bigint;
}

/** `credit_minutes`: the touches' shares of events summed per minute, affiliate and rules version (money exact). */
export function creditMinutes(): MinuteSums<CreditPart, CreditMinute> {
  return new MinuteSums<CreditPart, CreditMinute>({
    keyOf: (r) => `${minuteOf(r.ts)}\u0000${r.brand_id}\u0000${r.affiliate_id}\u0000${r.sub1}\u0000${r.campaign}\u0000${r.rules_version}`,
    init: (r) => ({
      row: { minute: minuteOf(r.ts), brand_id: r.brand_id, affiliate_id: r.affiliate_id, sub1: r.sub1, campaign: r.campaign, rules_version: r.rules_version },
      registrations_bp: 0, ftds_bp: 0, ftd_amount: 0n, deposit_amount: 0n, ngr: 0n,
    }),
    add: (a, r) => {
      a.registrations_bp += r.registrations_bp;
      a.ftds_bp += r.ftds_bp;
      a.ftd_amount += r.ftd_amount;
      a.deposit_amount += r.deposit_amount;
      a.ngr += r.ngr;
    },
    row: (a) => ({
      ...a.row, registrations_bp: a.registrations_bp, ftds_bp: a.ftds_bp,
      ftd_amount: toDecimalText(a.ftd_amount), deposit_amount: toDecimalText(a.deposit_amount), ngr: toDecimalText(a.ngr),
    }),
  });
}

/** The attribution columns of a click's row (`click_lookup` and `visitor_clicks` hold the same). */
export const lookupRow = (r: ClickRow): ClickLookupRow => ({
  click_id: r.click_id, partition: r.partition, ts: r.ts, ts_ms: r.ts_ms, code: r.code, brand_id: r.brand_id, affiliate_id: r.affiliate_id,
  campaign: r.campaign, sub1: r.sub1, country: r.country, bot: r.bot, geo_blocked: r.geo_blocked, affiliate_status: r.affiliate_status,
  visitor_id: r.visitor_id, ip: r.ip, fraud_score: r.fraud_score, flagged: r.flagged, sub_status: r.sub_status,
});

/** Whether a click goes into `visitor_clicks`: attributable (not bot, not geo-blocked) and of an identified visitor, for multi-touch attribution. */
export const isVisitorTouch = (r: ClickRow): boolean => r.visitor_id !== '' && r.bot === 0 && r.geo_blocked === 0;
