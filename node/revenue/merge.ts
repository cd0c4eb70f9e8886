/**
 * The merge of a revenue import into the commission books (docs/commissions.md, “Revenue
 * imports”): once an import is done, every affiliate with players or live activity on its days is
 * told, per day, what its commissionable players had there by the platform's books and what the
 * live layer counted; its commission actor adjusts RevShare from that (workers/actors/commission.ts
 * `RevenueImported`). The figures go through the affiliates' partition streams like the operators'
 * commands, and the call waits for the workers' answers, given once the lines are committed.
 *
 * Which figures:
 * - **days**: the import's covered days (`revenue_imports`) that are over in the brand's time zone;
 *   a day still running is not authoritative yet and is left out.
 * - **imported**: per player and day, the row of that day's current import (`revenue_current`,
 *   whichever import that is — merging an import superseded since sends the figures that supersede
 *   it), summed per affiliate. A player counts for its affiliate (its binding in `events`) on the
 *   days before its first uncommissionable event (held by a fraud rule, or attributed through
 *   traffic that was not commissionable, from the start): the day it is held counts nothing.
 * - **live**: the NGR of the affiliate's commissionable events of the day, as the player actors
 *   computed it (`events.ngr`, `commissionable = 1`).
 * - every affiliate whose players appear in any import of those days (an earlier one included) is
 *   told, with zeros where it has nothing now: a corrected file that drops a player takes back what
 *   the earlier one gave.
 *
 * Absolute figures, so a replay, a second call or a corrected import overwrites rather than adds;
 * line ids are deterministic (UUIDv5 of period, import and count), so a replay of the stream makes
 * the same lines.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../../schema/catalogStore.ts';
import { quote, selectOrUnavailable, timeRange } from '../../schema/clickhouse/client.ts';
import type { CommandResult, ImportedRevenue, RevenueBatch } from '../../schema/commissions.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { encodeRevenue, revenueId } from '../../schema/eventWire.ts';
import { parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import { dayEnd } from '../../workers/commissions/periods.ts';
import { byPartition, publishAnswered, type PartitionMessage, type PartitionSendDeps } from '../commissions/partitionMessages.ts';
import type { RevenueImportSummary } from './import.ts';

/** What the merge needs. */
export interface RevenueMergeDeps extends PartitionSendDeps {
  ch: ClickHouseClient;
  catalog: Catalog;
}

/** What a merge did. */
export interface RevenueMergeResult {
  importId: string;
  brandId: string;
  /** The days merged, ascending. */
  days: string[];
  /** The import's days not over yet in the brand's time zone: not merged. */
  notOver: string[];
  /** Affiliates told. */
  affiliates: number;
  /** Lines the merge made: adjustments of closed periods (and the lines of an open period one of its days closed). */
  lines: CommandResult[];
  /** Every affiliate's actor answered in time; false: the figures are durable in the stream and will apply. */
  applied: boolean;
}

/** One affiliate's figure of one day, from one of the merge's queries (absent figures are 0). */
export interface DayFigure {
  affiliate: string;
  day: string;
  imported?: string;
  live?: string;
}

const DAY_MS = 86_400_000;

/** Day entries of one partition message: a few hundred kB of msgpack, well inside NATS's 1 MB. */
const MAX_DAYS_PER_MESSAGE = 5_000;

const select = <T>(ch: ClickHouseClient, query: string): Promise<T[]> => selectOrUnavailable<T>(ch, query, 'revenue figures');

const money = (v: string | undefined): Money => (v === undefined ? 0n : (parseMoney(v) as Money));

/**
 * The figures per affiliate, as its actor is told them: days ascending, every figure summed and
 * written with 4 places. `id` (the answer's) is `<importId>.<affiliateId>`; `at` the merge's time.
 */
export function revenueItems(importId: string, brandId: string, at: number, figures: readonly DayFigure[]): Array<{ affiliateId: string; revenue: ImportedRevenue }> {
  const byAffiliate = new Map<string, Map<string, { imported: Money; live: Money }>>();
  for (const f of figures) {
    let days = byAffiliate.get(f.affiliate);
    if (!days) byAffiliate.set(f.affiliate, (days = new Map()));
    const d = days.get(f.day) ?? { imported: 0n, live: 0n };
    days.set(f.day, { imported: d.imported + money(f.imported), live: d.live + money(f.live) });
  }
  return [...byAffiliate].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([affiliateId, days]) => ({
    affiliateId,
    revenue: {
      id: `${importId}.${affiliateId}`, importId, brandId, at,
      days: [...days].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, d]) => ({ day, imported: toDecimalText(d.imported), live: toDecimalText(d.live) })),
    },
  }));
}

/**
 * The figures of `days` (`YYYY-MM-DD` in `tz`, ascending) of brand `brandId`, from ClickHouse: per
 * affiliate and day, its commissionable players' NGR in the days' current imports, its
 * commissionable live NGR, and a zero figure for each affiliate whose players any import of those
 * days has. Throws `unavailable`.
 */
export async function dayFigures(ch: ClickHouseClient, brandId: string, tz: string, days: readonly string[]): Promise<DayFigure[]> {
  const b = quote(brandId);
  const z = quote(tz);
  const dayList = days.map((d) => `toDate(${quote(d)})`).join(', ');
  // Every player of any import of these days, with its affiliate and the day it stopped being commissionable.
  const players = `
    SELECT player_id, any(affiliate_id) AS affiliate, countIf(commissionable = 0) AS held_events, formatDateTime(minIf(ts, commissionable = 0), '%Y-%m-%d', ${z}) AS held_day
    FROM events
    WHERE brand_id = ${b} AND affiliate_id != '' AND player_id IN (SELECT player_id FROM revenue_rows WHERE brand_id = ${b} AND day IN (${dayList}))
    GROUP BY player_id`;
  // The live side is read from two days before the first day's end (a day is 23 to 25 hours long), filtered by day.
  const figures = await Promise.all([
    select<DayFigure>(ch, `
      SELECT affiliate, d AS day, toString(sum(ngr)) AS imported
      FROM (SELECT player_id, toString(day) AS d, ngr FROM revenue_current WHERE brand_id = ${b} AND day IN (${dayList}))
      ALL INNER JOIN (${players}) USING player_id
      WHERE held_events = 0 OR held_day > d
      GROUP BY affiliate, d`),
    select<DayFigure>(ch, `
      SELECT DISTINCT affiliate, d AS day
      FROM (SELECT player_id, toString(day) AS d FROM revenue_rows WHERE brand_id = ${b} AND day IN (${dayList}))
      ALL INNER JOIN (${players}) USING player_id`),
    select<DayFigure>(ch, `
      SELECT affiliate_id AS affiliate, formatDateTime(ts, '%Y-%m-%d', ${z}) AS day, toString(sumIf(ngr, commissionable = 1)) AS live
      FROM events
      WHERE brand_id = ${b} AND affiliate_id != '' AND ${timeRange('ts', dayEnd(days[0] as string, tz) - 2 * DAY_MS, dayEnd(days[days.length - 1] as string, tz))}
      GROUP BY affiliate, day
      HAVING day IN (${days.map(quote).join(', ')})`),
  ]);
  return figures.flat();
}

/**
 * Merge import `importId` of `brandId` (done: its rows are all written) into the commission books,
 * and wait for the workers' answers. Throws `unknown_brand`, `not_found` (no such finished import),
 * `unavailable` (ClickHouse or NATS).
 */
export async function publishRevenueAdjustments(deps: RevenueMergeDeps, brandId: string, importId: string): Promise<RevenueMergeResult> {
  const brand = deps.catalog.brands.get(brandId);
  if (!brand) throw new AffstreamError('unknown_brand', `no brand ${brandId}`);
  const tz = brand.timezone;
  const [found] = await select<{ covered: string[] }>(
    deps.ch,
    `SELECT arrayMap(x -> toString(x), any(covered_days)) AS covered FROM revenue_imports
     WHERE brand_id = ${quote(brandId)} AND id = ${quote(importId)} AND status = 'done' GROUP BY id`,
  );
  if (!found) throw new AffstreamError('not_found', `no finished import ${importId} of brand ${brandId}`);
  const at = Date.now();
  const covered = [...found.covered].sort();
  const days = covered.filter((d) => dayEnd(d, tz) <= at);
  const notOver = covered.filter((d) => dayEnd(d, tz) > at);
  if (days.length === 0) return { importId, brandId, days, notOver, affiliates: 0, lines: [], applied: true };

  const items = revenueItems(importId, brandId, at, await dayFigures(deps.ch, brandId, tz, days));
  const batchId = uuidv7();
  const messages = byPartition(items, deps.partitions, (i) => i.revenue.days.length, MAX_DAYS_PER_MESSAGE).map(({ partition, items: list }, k): PartitionMessage => ({
    partition, kind: 'revenue', answers: list.length,
    encode: (replyTo) => {
      const batch: RevenueBatch = { id: `${batchId}.${k}`, replyTo, items: list };
      return { msgId: revenueId(batch.id), data: encodeRevenue(batch) };
    },
  }));
  const answers = await publishAnswered(deps, messages, `the figures of import ${importId} could not be queued (NATS)`);
  return { importId, brandId, days, notOver, affiliates: items.length, lines: (answers ?? []).flatMap((a) => a.results), applied: answers !== null };
}

/** Why a finished import's merge could not be done: the import stays done; importing the same file again merges it. */
export interface RevenueMergeFailure {
  error: { code: string; message: string };
}

/** The `merge` part of an import's answer: what the merge did, or why it failed. */
export type RevenueMergeSummary = Omit<RevenueMergeResult, 'importId' | 'brandId'> | RevenueMergeFailure;

/** An import's summary with its merge, as the CLI prints it and the API answers it (docs/protocol.md, “Revenue import”). */
export interface MergedImportSummary extends RevenueImportSummary {
  merge: RevenueMergeSummary;
}

/** Whether a merge failed. */
export const mergeFailed = (m: RevenueMergeSummary): m is RevenueMergeFailure => 'error' in m;

/**
 * Merge the finished import `summary` tells of (a duplicate too: the merge's figures are absolute,
 * so merging again is how a failed merge, or days that were not over at the first import, get
 * merged). Never throws: the import is done whatever happens here, and a failure is the answer's
 * `merge.error`, saying how to retry; `log` gets a failure that is not an `AffstreamError`.
 */
export async function mergeImport(deps: RevenueMergeDeps, summary: RevenueImportSummary, log: (err: unknown) => void): Promise<MergedImportSummary> {
  try {
    const { days, notOver, affiliates, lines, applied } = await publishRevenueAdjustments(deps, summary.brandId, summary.importId);
    return { ...summary, merge: { days, notOver, affiliates, lines, applied } };
  } catch (err) {
    if (!(err instanceof AffstreamError)) log(err);
    const code = err instanceof AffstreamError ? err.code : 'unavailable';
    const message = `import ${summary.importId} is done but its merge into the commission books failed (${(err as Error).message}): import the same file again to merge it`;
    return { ...summary, merge: { error: { code, message } } };
  }
}
