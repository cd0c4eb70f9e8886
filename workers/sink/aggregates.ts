/**
 * Per-minute aggregates, computed by the worker from the rows of one flush (DESIGN.md: workers
 * flush aggregates to ClickHouse). One row per partition and key (minute, brand, affiliate, sub1,
 * campaign, country), tagged with the partition's last message sequence in the flush, so the
 * landed-rows check that protects the raw logs protects these too. Money sums are exact (bigint).
 */
import { parseMoney, toDecimalText } from '../../schema/money.ts';
import type { ClickLookupRow, ClickRow } from './clickRow.ts';
import type { EventRow } from './eventRow.ts';
import type { CreditPart } from './creditRow.ts';

/** The rows of one message, as the sink queues them. */
interface Rows {
  partition: number;
  seq: number;
  clicks: ClickRow[];
  events: EventRow[];
  creditParts: CreditPart[];
}

const minuteOf = (secs: number) => secs - (secs % 60);

/** The last message sequence of each partition among `messages`. */
export function lastSeqs(messages: ReadonlyArray<{ partition: number; seq: number }>): Map<number, number> {
  const last = new Map<number, number>();
  for (const m of messages) last.set(m.partition, Math.max(last.get(m.partition) ?? 0, m.seq));
  return last;
}

function group<R, A extends { partition: number; seq: number }>(
  messages: Rows[],
  rowsOf: (m: Rows) => R[],
  keyOf: (r: R) => string,
  init: (p: number, r: R) => A,
  add: (a: A, r: R) => void,
): A[] {
  const out = new Map<string, A>();
  for (const m of messages) {
    for (const r of rowsOf(m)) {
      const k = `${m.partition}\u0000${keyOf(r)}`;
      let a = out.get(k);
      if (!a) out.set(k, (a = init(m.partition, r)));
      add(a, r);
    }
  }
  // Every row of a partition carries the partition's last sequence in the flush, as one insert covers them all.
  const last = lastSeqs(messages);
  return [...out.values()].map((a) => ({ ...a, seq: last.get(a.partition) as number }));
}

/** `click_minutes` rows of a flush. */
export function clickMinuteRows(messages: Rows[]): Array<Record<string, string | number>> {
  return group(
    messages,
    (m) => m.clicks,
    (r) => `${minuteOf(r.ts)}\u0000${r.brand_id}\u0000${r.affiliate_id}\u0000${r.sub1}\u0000${r.campaign}\u0000${r.country}`,
    (partition, r) => ({
      partition, seq: 0, minute: minuteOf(r.ts), brand_id: r.brand_id, affiliate_id: r.affiliate_id, sub1: r.sub1, campaign: r.campaign, country: r.country,
      clicks: 0, unique_clicks: 0, bot_clicks: 0, geo_blocked_clicks: 0,
    }),
    (a, r) => {
      a.clicks++;
      a.unique_clicks += r.is_unique;
      a.bot_clicks += r.bot;
      a.geo_blocked_clicks += r.geo_blocked;
    },
  );
}

interface EventMinute {
  partition: number;
  seq: number;
  row: Record<string, string | number>;
  money: Record<string, bigint>;
}

const MONEY = ['ftd_amount', 'deposit_amount', 'withdrawal_amount', 'ggr', 'bonus_amount', 'chargeback_amount', 'ngr'] as const;

/** `event_minutes` rows of a flush (money as decimal text). */
export function eventMinuteRows(messages: Rows[]): Array<Record<string, string | number>> {
  const m = (s: string | number) => parseMoney(s) as bigint;
  return group<EventRow, EventMinute>(
    messages,
    (x) => x.events,
    (r) => `${minuteOf(r.ts as number)}\u0000${r.brand_id}\u0000${r.affiliate_id}\u0000${r.sub1}\u0000${r.campaign}\u0000${r.click_country || r.country}`,
    (partition, r) => ({
      partition, seq: 0,
      row: { minute: minuteOf(r.ts as number), brand_id: r.brand_id as string, affiliate_id: r.affiliate_id as string, sub1: r.sub1 as string, campaign: r.campaign as string, country: (r.click_country || r.country) as string, registrations: 0, ftds: 0, deposits: 0 },
      money: Object.fromEntries(MONEY.map((k) => [k, 0n])),
    }),
    (a, r) => {
      const row = a.row as Record<string, number>;
      if (r.type === 'registration') row.registrations = (row.registrations as number) + 1;
      if (r.type === 'deposit') {
        row.deposits = (row.deposits as number) + 1;
        a.money.deposit_amount = (a.money.deposit_amount as bigint) + m(r.amount as string);
      }
      if (r.is_ftd === 1) {
        row.ftds = (row.ftds as number) + 1;
        a.money.ftd_amount = (a.money.ftd_amount as bigint) + m(r.amount as string);
      }
      if (r.type === 'withdrawal') a.money.withdrawal_amount = (a.money.withdrawal_amount as bigint) + m(r.amount as string);
      a.money.ggr = (a.money.ggr as bigint) + m(r.ggr as string);
      a.money.bonus_amount = (a.money.bonus_amount as bigint) + m(r.bonus_cost as string);
      a.money.chargeback_amount = (a.money.chargeback_amount as bigint) + m(r.chargeback as string);
      a.money.ngr = (a.money.ngr as bigint) + m(r.ngr as string);
    },
  ).map((a) => ({ partition: a.partition, seq: a.seq, ...a.row, ...Object.fromEntries(MONEY.map((k) => [k, toDecimalText(a.money[k] as bigint)])) }));
}

/** The attribution columns of a click's row (`click_lookup` and `visitor_clicks` hold the same). */
const lookupRow = (r: ClickRow): ClickLookupRow => ({
  click_id: r.click_id, partition: r.partition, ts: r.ts, ts_ms: r.ts_ms, code: r.code, brand_id: r.brand_id, affiliate_id: r.affiliate_id,
  campaign: r.campaign, sub1: r.sub1, country: r.country, bot: r.bot, geo_blocked: r.geo_blocked, affiliate_status: r.affiliate_status,
  visitor_id: r.visitor_id, ip: r.ip, fraud_score: r.fraud_score, flagged: r.flagged, sub_status: r.sub_status,
});

/** `click_lookup` rows: the clicks by id, for attribution. */
export function clickLookupRows(messages: Rows[]): ClickLookupRow[] {
  return messages.flatMap((m) => m.clicks.map(lookupRow));
}

/** `visitor_clicks` rows: the attributable clicks (not bot, not geo-blocked) of identified visitors, for multi-touch attribution. */
export function visitorClickRows(messages: Rows[]): ClickLookupRow[] {
  return messages.flatMap((m) => m.clicks.filter((r) => r.visitor_id !== '' && r.bot === 0 && r.geo_blocked === 0).map(lookupRow));
}

interface CreditMinute {
  partition: number;
  seq: number;
  row: Record<string, string | number>;
  registrations_bp: number;
  ftds_bp: number;
  ftd_amount: bigint;
  deposit_amount: bigint;
  ngr: bigint;
}

/** `credit_minutes` rows of a flush: the touches' shares of events summed per minute (money as decimal text, exact). */
export function creditMinuteRows(messages: Rows[]): Array<Record<string, string | number>> {
  return group<CreditPart, CreditMinute>(
    messages,
    (m) => m.creditParts,
    (r) => `${minuteOf(r.ts)}\u0000${r.brand_id}\u0000${r.affiliate_id}\u0000${r.sub1}\u0000${r.campaign}\u0000${r.rules_version}`,
    (partition, r) => ({
      partition, seq: 0,
      row: { minute: minuteOf(r.ts), brand_id: r.brand_id, affiliate_id: r.affiliate_id, sub1: r.sub1, campaign: r.campaign, rules_version: r.rules_version },
      registrations_bp: 0, ftds_bp: 0, ftd_amount: 0n, deposit_amount: 0n, ngr: 0n,
    }),
    (a, r) => {
      a.registrations_bp += r.registrations_bp;
      a.ftds_bp += r.ftds_bp;
      a.ftd_amount += r.ftd_amount;
      a.deposit_amount += r.deposit_amount;
      a.ngr += r.ngr;
    },
  ).map((a) => ({
    partition: a.partition, seq: a.seq, ...a.row, registrations_bp: a.registrations_bp, ftds_bp: a.ftds_bp,
    ftd_amount: toDecimalText(a.ftd_amount), deposit_amount: toDecimalText(a.deposit_amount), ngr: toDecimalText(a.ngr),
  }));
}
