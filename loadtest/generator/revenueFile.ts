/**
 * The ground truth of a reconciliation (docs/reports.md, `reconciliation`): from the live layer of a
 * set of generated players — their GGR, converted bonuses and NGR per day of their brand, booked by
 * the daily ledger (ledger.ts) — the revenue files a casino platform would send, differing from it
 * in known ways, and the (brand, affiliate, day) rows the report must flag and must not.
 *
 * The first file has a line per player and day with live activity, as the tracker saw it, except:
 * - **late bets**: one player's day has more GGR (and NGR) than the tracker saw: bets it never got;
 * - **a lost day**: a player has a day of play the tracker saw nothing of (present in the import only);
 * - **a missing player**: the platform left one player's day out (present live only);
 * - **a rounding difference**: one player's NGR is 0.0001 off (the platform rounded its tax
 *   elsewhere): the player explains a difference that stays under any threshold;
 * - **a corrected re-send**: the last day is wrong in the first file, and a second file for that
 *   day alone gives it right: once imported after the first, it supersedes it, nothing is flagged.
 * Each plant is on a (affiliate, day) row of its own; every other row matches to the cent.
 * Whether a row is flagged is decided here by the report's rule, exactly: |imported − live| NGR
 * above the threshold percent of |imported| (any difference when the imported NGR is 0).
 */
import { stringify } from 'csv-stringify/sync';
import { type Money, parseMoney, toDecimalText, UNIT } from '../../schema/mod.ts';
import { dayIn, dayStartIn, nextDay } from './calendar.ts';
import { Ledger, type AppliedEvent } from './ledger.ts';
import type { BrandPlan } from './programme.ts';
import { Rng } from './random.ts';

/** One player's live figures on one day of its brand (the brand's calendar day). */
export interface PlayerDay {
  brandId: string;
  day: string;
  playerId: string;
  affiliateId: string;
  ggr: Money;
  bonuses: Money;
  ngr: Money;
}

/** Books the live layer per player and brand day from the events the daily ledger applies ({@link Ledger} `onApplied`). */
export class PlayerDays {
  private readonly days = new Map<string, PlayerDay>();

  constructor(private readonly timezones: Readonly<Record<string, string>>) {}

  /** Books one applied event; events without GGR, bonus or NGR (a registration, a withdrawal) make no day. */
  add(e: AppliedEvent): void {
    if (e.ggr === 0n && e.bonus === 0n && e.ngr === 0n) return;
    const day = dayIn(e.ts, this.timezones[e.brandId] ?? 'UTC');
    const key = `${e.brandId}\u0000${day}\u0000${e.playerId}`;
    let d = this.days.get(key);
    if (!d) this.days.set(key, (d = { brandId: e.brandId, day, playerId: e.playerId, affiliateId: e.affiliateId, ggr: 0n, bonuses: 0n, ngr: 0n }));
    d.ggr += e.ggr;
    d.bonuses += e.bonus;
    d.ngr += e.ngr;
  }

  /** Every player-day, by brand, day and player. */
  list(): PlayerDay[] {
    return [...this.days.values()].sort((a, b) => a.brandId.localeCompare(b.brandId) || a.day.localeCompare(b.day) || a.playerId.localeCompare(b.playerId));
  }
}

/** A line of a revenue file (the fields of `affstream import revenue`, docs/protocol.md). */
export interface RevenueLine {
  playerId: string;
  day: string;
  ggr: Money;
  bonuses: Money;
  ngr: Money;
}

/** A revenue file, to be imported in the order given. */
export interface RevenueFile {
  name: string;
  lines: RevenueLine[];
}

/** How a player explains its row's difference, as the report's `presence` says it. */
export type Presence = 'live_only' | 'imported_only' | 'differs';

/** The known differences a file carries. */
export type PlantKind = 'late_bets' | 'lost_day' | 'missing_player' | 'rounding' | 'corrected_resend';

/** One planted difference: on this player's day, in this affiliate's row. */
export interface Plant {
  kind: PlantKind;
  affiliateId: string;
  day: string;
  playerId: string;
}

/** A (brand, affiliate, day) row of the report as it must read once every file is imported. */
export interface ExpectedRow {
  brandId: string;
  affiliateId: string;
  day: string;
  liveNgr: Money;
  importedNgr: Money;
  flagged: boolean;
  /** The players that explain its difference, by id. */
  players: { playerId: string; presence: Presence }[];
  /** The plant on this row, if any. */
  plant: PlantKind | null;
}

/** The files and what the report must show once they are imported. */
export interface RevenueGroundTruth {
  files: RevenueFile[];
  plants: Plant[];
  /** Rows that must be flagged, by day and affiliate. */
  flagged: ExpectedRow[];
  /** Rows that must not, by day and affiliate. */
  unflagged: ExpectedRow[];
}

const abs = (a: Money) => (a < 0n ? -a : a);
/** The rounding plant's difference: 0.0001. */
const ROUNDING: Money = 1n;

/**
 * The report's flag: |imported − live| > `thresholdPct` % of |imported| (at most 2 decimals), exactly.
 * With the imported NGR 0, any difference.
 */
export function exceedsThreshold(liveNgr: Money, importedNgr: Money, thresholdPct: string): boolean {
  const pct = parseMoney(thresholdPct);
  if (pct === undefined) throw new Error(`revenue file: threshold ${thresholdPct} is not a decimal`);
  return abs(importedNgr - liveNgr) * 100n * UNIT > pct * abs(importedNgr);
}

const rowKey = (affiliateId: string, day: string) => `${affiliateId}\u0000${day}`;
const lineKey = (day: string, playerId: string) => `${day}\u0000${playerId}`;
const byDayPlayer = (a: RevenueLine, b: RevenueLine) => a.day.localeCompare(b.day) || a.playerId.localeCompare(b.playerId);

/**
 * The revenue files of brand `brandId` for the days of `live` (its player-days, at least two days
 * of them, with enough rows for a plant each on a row of its own), and the rows the report must
 * flag with `thresholdPct` (the brand's `reconciliationThresholdPct`, as text) and those it must
 * not. Deterministic: the plants go to the first rows, by day and affiliate, that suit them.
 */
export function revenueFiles(live: readonly PlayerDay[], o: { brandId: string; thresholdPct: string }): RevenueGroundTruth {
  const mine = live.filter((p) => p.brandId === o.brandId);
  const days = [...new Set(mine.map((p) => p.day))].sort();
  const resendDay = days.at(-1);
  if (resendDay === undefined || days.length < 2) throw new Error(`revenue file: ${o.brandId} needs live activity on two days at least`);
  const affiliateOf = new Map(mine.map((p) => [p.playerId, p.affiliateId]));
  const rows = new Map<string, PlayerDay[]>();
  for (const p of mine) {
    const k = rowKey(p.affiliateId, p.day);
    rows.set(k, [...(rows.get(k) ?? []), p]);
  }
  const rowNgr = (k: string) => (rows.get(k) ?? []).reduce((s, p) => s + p.ngr, 0n);
  const lineOf = (p: PlayerDay): RevenueLine => ({ playerId: p.playerId, day: p.day, ggr: p.ggr, bonuses: p.bonuses, ngr: p.ngr });
  const first = new Map(mine.map((p) => [lineKey(p.day, p.playerId), lineOf(p)]));
  const plants: Plant[] = [];
  const used = new Set<string>();
  const rowOrder = [...rows.keys()].sort((a, b) => {
    const [aa = '', ad = ''] = a.split('\u0000');
    const [ba = '', bd = ''] = b.split('\u0000');
    return ad.localeCompare(bd) || aa.localeCompare(ba);
  });
  /** Plants `kind` on the first free row (of `onDay`, or before the re-sent day) where `target` finds a player. */
  const plant = (kind: PlantKind, target: (row: PlayerDay[], ngr: Money) => PlayerDay | undefined, onDay?: string): PlayerDay => {
    for (const k of rowOrder) {
      const row = rows.get(k) as PlayerDay[];
      const day = (row[0] as PlayerDay).day;
      if (used.has(k) || (onDay === undefined ? day === resendDay : day !== onDay)) continue;
      const p = target(row, rowNgr(k));
      if (!p) continue;
      used.add(k);
      plants.push({ kind, affiliateId: p.affiliateId, day, playerId: p.playerId });
      return p;
    }
    throw new Error(`revenue file: no row of ${o.brandId} suits the ${kind} plant`);
  };
  /** Far above any threshold under 50 %: |ngr + extra| < 2 × extra. */
  const extraFor = (ngr: Money): Money => 100n * UNIT + abs(ngr);
  const raise = (line: RevenueLine, by: Money) => {
    line.ggr += by;
    line.ngr += by;
  };

  const late = plant('late_bets', (row) => row[0]);
  raise(first.get(lineKey(late.day, late.playerId)) as RevenueLine, extraFor(rowNgr(rowKey(late.affiliateId, late.day))));

  const missing = plant('missing_player', (row, ngr) => {
    const biggest = [...row].sort((a, b) => (abs(b.ngr) > abs(a.ngr) ? 1 : abs(b.ngr) < abs(a.ngr) ? -1 : 0))[0];
    return biggest && exceedsThreshold(ngr, ngr - biggest.ngr, o.thresholdPct) ? biggest : undefined;
  });
  first.delete(lineKey(missing.day, missing.playerId));

  const rounded = plant('rounding', (row, ngr) => (exceedsThreshold(ngr, ngr + ROUNDING, o.thresholdPct) ? undefined : row[0]));
  (first.get(lineKey(rounded.day, rounded.playerId)) as RevenueLine).ngr += ROUNDING;

  // A lost day: a known player on a day it did not play, in a row no other plant has.
  const lost = (() => {
    for (const [playerId, affiliateId] of [...affiliateOf].sort(([a], [b]) => a.localeCompare(b))) {
      for (const day of days) {
        const k = rowKey(affiliateId, day);
        if (day === resendDay || used.has(k) || mine.some((p) => p.day === day && p.playerId === playerId)) continue;
        used.add(k);
        plants.push({ kind: 'lost_day', affiliateId, day, playerId });
        const extra = extraFor(rowNgr(k));
        return { playerId, day, ggr: extra, bonuses: 0n, ngr: extra };
      }
    }
    throw new Error(`revenue file: no player of ${o.brandId} has a day without play for the lost_day plant`);
  })();
  first.set(lineKey(lost.day, lost.playerId), lost);

  const resent = plant('corrected_resend', (row) => row[0], resendDay);
  const corrected = mine.filter((p) => p.day === resendDay).map(lineOf).sort(byDayPlayer);
  raise(first.get(lineKey(resent.day, resent.playerId)) as RevenueLine, extraFor(rowNgr(rowKey(resent.affiliateId, resent.day))));

  const whole: RevenueFile = { name: `${o.brandId}-revenue-${days[0]}-${resendDay}.csv`, lines: [...first.values()].sort(byDayPlayer) };
  const files = [whole, { name: `${o.brandId}-revenue-${resendDay}-corrected.csv`, lines: corrected }];
  // What is current once both are in: the second file for its day, the first for the others.
  const imported = [...whole.lines.filter((l) => l.day !== resendDay), ...corrected];
  const expected = expectedRows(o.brandId, mine, imported, affiliateOf, o.thresholdPct, plants);
  return { files, plants, flagged: expected.filter((r) => r.flagged), unflagged: expected.filter((r) => !r.flagged) };
}

/** Every row of live ∪ imported, compared per player; imported players the tracker never saw are under ''. */
function expectedRows(
  brandId: string,
  live: readonly PlayerDay[],
  imported: readonly RevenueLine[],
  affiliateOf: ReadonlyMap<string, string>,
  thresholdPct: string,
  plants: readonly Plant[],
): ExpectedRow[] {
  type Side = { ggr: Money; bonuses: Money; ngr: Money };
  const players = new Map<string, { affiliateId: string; day: string; playerId: string; live?: Side; imported?: Side }>();
  const entry = (day: string, playerId: string) => {
    const k = lineKey(day, playerId);
    let e = players.get(k);
    if (!e) players.set(k, (e = { affiliateId: affiliateOf.get(playerId) ?? '', day, playerId }));
    return e;
  };
  for (const p of live) entry(p.day, p.playerId).live = p;
  for (const l of imported) entry(l.day, l.playerId).imported = l;
  const zero: Side = { ggr: 0n, bonuses: 0n, ngr: 0n };
  const rows = new Map<string, ExpectedRow>();
  for (const e of [...players.values()].sort((a, b) => a.playerId.localeCompare(b.playerId))) {
    const k = rowKey(e.affiliateId, e.day);
    let r = rows.get(k);
    if (!r) {
      const plant = plants.find((p) => p.affiliateId === e.affiliateId && p.day === e.day)?.kind ?? null;
      rows.set(k, (r = { brandId, affiliateId: e.affiliateId, day: e.day, liveNgr: 0n, importedNgr: 0n, flagged: false, players: [], plant }));
    }
    const l = e.live ?? zero;
    const i = e.imported ?? zero;
    r.liveNgr += l.ngr;
    r.importedNgr += i.ngr;
    if (l.ggr !== i.ggr || l.bonuses !== i.bonuses || l.ngr !== i.ngr) {
      r.players.push({ playerId: e.playerId, presence: !e.imported ? 'live_only' : !e.live ? 'imported_only' : 'differs' });
    }
  }
  for (const r of rows.values()) r.flagged = exceedsThreshold(r.liveNgr, r.importedNgr, thresholdPct);
  return [...rows.values()].sort((a, b) => a.day.localeCompare(b.day) || a.affiliateId.localeCompare(b.affiliateId));
}

/** A file as CSV, the header naming the fields: what `affstream import revenue` reads. */
export function revenueCsv(file: RevenueFile): string {
  return stringify(
    file.lines.map((l) => [l.playerId, l.day, toDecimalText(l.ggr), toDecimalText(l.bonuses), toDecimalText(l.ngr)]),
    { header: true, columns: ['player_id', 'day', 'ggr', 'bonuses', 'ngr'] },
  );
}

/** Options of {@link revenueActivity}. */
export interface ActivityOptions {
  /** Part of every id. */
  tag: string;
  seed: number;
  brand: BrandPlan;
  /** The affiliates, each with its link on the brand. */
  affiliates: readonly { id: string; code: string }[];
  /** The brand's days the players play on (`YYYY-MM-DD` in its time zone), oldest first. */
  days: readonly string[];
  playersPerAffiliate: number;
}

/** A generated player: the click it comes through, then its events in the order they are sent. */
export interface ActivityPlayer {
  playerId: string;
  affiliateId: string;
  /** The link it clicks, the sub-ID (one per player: no sub-ID converts suspiciously) and the address it clicks from. */
  code: string;
  sub1: string;
  ip: string;
  /** Its events' fields (docs/protocol.md); the registration first, its `click_id` to be filled in by the sender. */
  events: Record<string, string | number | boolean>[];
}

/**
 * Players with activity on several days of their brand, to book through the ledger and send
 * through an edge: each registers at the start of the first day, then plays on some of the days —
 * bets (the first 30 s after local midnight, the last a minute before the next: a day cut in the
 * wrong zone shows), now and then a converted bonus or a deposit (its payment fee is NGR too).
 */
export function revenueActivity(o: ActivityOptions): ActivityPlayer[] {
  const rng = new Rng(o.seed);
  const tz = o.brand.timezone;
  const currency = o.brand.currency;
  const firstDay = o.days[0];
  if (firstDay === undefined) throw new Error('revenue activity: no days');
  const players: ActivityPlayer[] = [];
  for (const [ai, a] of o.affiliates.entries()) {
    for (let k = 0; k < o.playersPerAffiliate; k++) {
      const n = players.length + 1;
      const playerId = `${o.tag}-p${n}`;
      let e = 0;
      const ev = (fields: Record<string, string | number | boolean>) => ({ event_id: `${playerId}-e${++e}`, player_id: playerId, ...fields });
      const events = [ev({ type: 'registration', ts: dayStartIn(firstDay, tz) + 10_000, device_id: `${playerId}-d`, ip: `198.51.${100 + ai}.${k + 1}` })];
      const playDays = o.days.filter(() => rng.chance(0.6));
      for (const day of playDays.length > 0 ? playDays : [rng.pick(o.days)]) {
        const start = dayStartIn(day, tz);
        const length = dayStartIn(nextDay(day), tz) - start;
        const bets = rng.int(2, 5);
        for (let b = 0; b < bets; b++) {
          const at = b === 0 ? start + 30_000 : b === bets - 1 ? start + length - 60_000 : start + rng.int(60_000, length - 120_000);
          events.push(ev({ type: 'bet', ts: at, stake: rng.amount(1, 50), win: rng.chance(0.5) ? '0' : rng.amount(0, 80), currency, game: 'starburst', category: 'slots' }));
        }
        if (rng.chance(0.3)) events.push(ev({ type: 'bonus', ts: start + rng.int(60_000, length - 120_000), action: 'converted', amount: rng.amount(5, 20, 0), currency, bonus_id: `${playerId}-b${e}` }));
        if (rng.chance(0.4)) events.push(ev({ type: 'deposit', ts: start + rng.int(60_000, length - 120_000), amount: rng.amount(10, 200), currency }));
      }
      players.push({ playerId, affiliateId: a.id, code: a.code, sub1: `${o.tag}-s${n}`, ip: `198.51.${100 + ai}.${k + 1}`, events });
    }
  }
  return players;
}

/**
 * The live layer of `players` as the contract books it: each clicks its link at `clickedAt` (a
 * valid click: its registration binds to it), then its events go through the daily ledger.
 */
export function liveLayer(brand: BrandPlan, players: readonly ActivityPlayer[], clickedAt: number): PlayerDay[] {
  const book = new PlayerDays({ [brand.id]: brand.timezone });
  const ledger = new Ledger([brand], {}, { clickFloodRule: false, onApplied: (e) => book.add(e) });
  for (const p of players) {
    const ref = ledger.click({ ts: clickedAt, code: p.code, brandId: brand.id, affiliateId: p.affiliateId, ip: p.ip, bot: false, geoBlocked: false, sub1: p.sub1 });
    for (const fields of p.events) ledger.event(brand.id, fields, fields.type === 'registration' ? ref : undefined);
  }
  return book.list();
}
