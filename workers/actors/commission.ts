/**
 * The commission actor (docs/commissions.md): one per affiliate id, in the same partition as the
 * affiliate actor (`shard(affiliateId)`). It keeps all of the affiliate's books, per brand, and
 * makes and moves its commission lines; the host writes each change to the ledger and sends its
 * postback. Amounts are exact (schema/money.ts), plan versions are taken at the time of the event
 * they apply to (`planVersionAt`), never retroactively, and every line records `planId@version`.
 *
 * **CPA** — one line per player, ever. A player starts towards it with an FTD made under a version
 * with CPA terms; from then on its deposits (less chargebacks) and stakes are counted, and each of
 * its events is checked against the CPA terms of the version in force at that event's time
 * (workers/commissions/cpa.ts): deposits ≥ `minDeposit`, KYC approved when `kycRequired`, stakes ≥
 * `minWagering`, country in `countries` (when it lists any), all within `withinDays` of the
 * registration. The event that completes it — the FTD itself, or a KYC a day later, or a bet a week
 * later — makes the line (`sourceEventId`, `createdAt` its time, amount the version's `cpa.amount`).
 * An event past the deadline ends the attempt for good; so does the daily sweep (on `TimePassed`,
 * which {@link commissionDeadline} asks for once a UTC day while books are kept) once the deadline
 * of the version in force has passed, or that version has no CPA terms. Progress is kept only
 * until the CPA is decided; bets before the FTD do not count towards `minWagering`.
 *
 * **RevShare** — accrues live per brand and period (`YYYY-MM` in the brand's time zone,
 * workers/commissions/periods.ts). The NGR of commissionable, unheld activity counts; the rest is
 * kept apart as `heldNgr`. The period's NGR is split by the plan version in force at each event's
 * time (a segment per version, usually one); every change of an open period's figures emits
 * `RevshareAccrued` with its running figures. A period closes when `TimePassed` reaches its end, or
 * when activity of a later period arrives for the brand; it then makes one line per segment
 * (workers/commissions/revshare.ts `settlePeriod`: flat tier chosen by the whole period's NGR or
 * FTDs, carry-in absorbed by the earliest segments first, carry-over per the version in force at
 * the end), `createdAt` = the period's end, `holdUntil` = end + `holdDays`. A period without
 * activity makes no line; a period with activity makes its lines even when they pay 0, so the
 * statement shows its NGR and carry-over. Activity of a period that is closed — or already over
 * when it arrives — counts in the brand's current open period (when none is open: the later of the
 * period after the last closed one and the period of the latest `TimePassed`), under the plan
 * version of its own time: a closed period is never reopened.
 *
 * **Revenue imports** — the platform's books, imported a day or more late, are authoritative for
 * RevShare. An import tells the actor, per day of the brand's calendar it covers, the NGR its
 * commissionable players had there and the NGR the live layer counted for that day
 * (`RevenueImported`, absolute figures); the actor keeps each day's difference (imported − live) in
 * the segment of the plan version in force at the day's last instant, replacing what an earlier
 * import said of that day — so a corrected import overwrites and the same import twice changes
 * nothing. In the open period the difference is part of its NGR (the accrual moves at once, the
 * close pays on it). A closed period keeps its books (segments, carry-in, what its lines paid): its
 * NGR becomes the NGR at the close plus its days' differences, and when what that pays differs from
 * what its lines paid so far, an adjustment line pays the difference — kind `revshare`, the period,
 * reason `revenue import <id>`, `sourceEventId` the import id, the last segment's plan version,
 * `createdAt` the import's time, `ngr` the change of NGR; never an edit of a line. The carry-over a
 * closed period passed on is not recomputed, nor are later periods: never retroactive. A period the
 * books never held (no activity, and over by the import's time) is closed by the import with no
 * carry-in; one closed before books were kept (`booksFrom`) is not adjusted.
 *
 * **Hybrid** — both of the above, from the same activity.
 *
 * **Sub-affiliates** — a line of this affiliate (made, or a reversal of it) and a rejection of one
 * are forwarded to its parent's actor (`ChildLineChanged`). There a `subaffiliate` line pays
 * `subAffiliatePct` percent of the child line (the parent's plan version at the child line's
 * `createdAt`, for its brand), once per child line; none when that pays 0. A child reversal
 * reverses it; a rejected child line rejects it unless paid. Sub-affiliate lines are not forwarded:
 * one level only. A child line made held makes its sub-affiliate line held, for the same reason.
 *
 * **Chargebacks** — a chargeback of a player whose CPA line exists, is not rejected and not yet
 * reversed appends a reversal: a new line of the same kind, −amount, status `reversed`,
 * `reversalOf` the original, reason `chargeback <eventId>`; the original is not changed, and can no
 * longer be rejected (its reversal already cancels it). RevShare nets chargebacks through NGR.
 *
 * **Holds** — a line made for uncommissionable activity, for a held player (`PlayerHeld`, or an
 * activity's `hold`), or while the context's `pauseOf(affiliate, sub1)` is in force is made `held`
 * with the alert id as its reason ('traffic not commissionable' for uncommissionable traffic).
 * RevShare and sub-affiliate lines have sub-ID '' (no click of their own). `PlayerHeld` and
 * `TrafficPaused` move the unpaid (pending or approved) lines they touch to held, by 'system'.
 *
 * **Commands** — approve, hold, reject and pay follow the lifecycle of schema/commissions.ts
 * (`transition`); a forbidden one answers `invalid_transition`, an unknown line `not_found`. Hold
 * and reject record the operator's reason, or 'no reason given' (the API asks for one; the ledger
 * always says something). Approve and pay clear the reason; pay records the `reference`.
 * `approve-due` approves each listed line that is pending, whose `holdUntil` has passed at the
 * command's time, whose traffic is not paused and — on a brand with `kycGating` — whose player's KYC
 * is approved (CPA lines: the other kinds have no player KYC of their own); the others are answered
 * `invalid_transition` with the reason they were skipped. A command id answered before is answered
 * again with the same results and changes nothing (the last {@link RECENT_COMMANDS} are kept).
 *
 * Deterministic: the handler reads only its state, the message and the context; times are the
 * messages' times and line ids are UUIDv5 of what makes a line unique, so a replay makes the same
 * lines with the same ids.
 */
import { v5 as uuidv5 } from 'uuid';
import {
  transition, type Commission, type CommissionAction, type CommissionCommand, type CommandResult, type CommissionStatus, type ImportedRevenue, type RevenueDay,
} from '../../schema/commissions.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import { planVersionAt, type Plan, type PlanVersion, type RevshareTerms } from '../../schema/plans.ts';
import { cpaOutcome, type CpaProgress } from '../commissions/cpa.ts';
import { dayEnd, nextPeriod, periodEnd, periodOf } from '../commissions/periods.ts';
import { percentOf, settlePeriod } from '../commissions/revshare.ts';
import type { Forward } from './forward.ts';
import type { Revenue } from './player.ts';

export type { CommissionCommand, CommandResult, ImportedRevenue };

const DAY_MS = 86_400_000;

/** Namespace of commission line ids: UUIDv5 of the line's identity under it. */
export const COMMISSION_NAMESPACE = 'ad5444ad-b363-450d-a7a2-ab5885d20958';

/** How many recent command ids an actor remembers, to answer a repeated command without acting twice. */
export const RECENT_COMMANDS = 256;

/** Reason of a line made for traffic that is not commissionable. */
export const NOT_COMMISSIONABLE = 'traffic not commissionable';

/** Reason of a parent's line rejected because its child line was. */
export const CHILD_REJECTED = 'child line rejected';

/** Reason recorded for a hold or rejection asked without one. */
export const NO_REASON = 'no reason given';

/**
 * A commission line as one change leaves it: one row of `commission_ledger` and one outbound
 * postback. The API's {@link Commission} fields, plus what the ledger and the postbacks need.
 */
export interface CommissionLine extends Commission {
  /** 1 for a new line, +1 per change. */
  version: number;
  /** Who made this change: 'system' or the command's `by`. */
  by: string;
  /** When this change happened (ms). */
  at: number;
  createdAtMs: number;
  updatedAtMs: number;
  /** From when (ms) `approve-due` may approve the line. */
  holdUntil: number;
  /** The click of the player's binding ('' for RevShare and sub-affiliate lines). */
  clickId: string;
  sub1: string;
  /** The line a reversal reverses ('' otherwise). */
  reversalOf: string;
  /** The NGR a RevShare line was computed from ('0.0000' for the other kinds). */
  ngr: string;
  /** The negative balance a RevShare period brought in (≤ 0; on its first line). */
  carryIn: string;
  /** The negative balance a RevShare period carries out (≤ 0; on its last line). */
  carryOut: string;
  /** The percentage used: the tier's for RevShare, `subAffiliatePct` for sub-affiliate lines, '' for CPA. */
  pct: string;
  planId: string;
  planVersionNo: number;
  /** The payment reference, once paid (''). */
  reference: string;
}

/** An open RevShare period's running figures for one plan version: what it would pay if it closed now. */
export interface RevshareAccrual {
  /** The id of the line this segment becomes when the period closes. */
  id: string;
  brandId: string;
  affiliateId: string;
  period: string;
  planId: string;
  planVersionNo: number;
  /** `planId@version`. */
  planVersion: string;
  currency: string;
  ngr: string;
  /** NGR of held or uncommissionable activity: not paid on. */
  heldNgr: string;
  ftds: number;
  pct: string;
  amount: string;
  carryIn: string;
  /** The period has closed: its lines are in the ledger and these are its final figures. */
  closed: boolean;
  /** When the figures changed (ms): the event's time, or the period's end when it closed. */
  at: number;
}

/** An applied event of a player attributed to this affiliate. */
export interface PlayerActivity {
  brandId: string;
  affiliateId: string;
  playerId: string;
  eventId: string;
  eventType: 'registration' | 'kyc' | 'deposit' | 'withdrawal' | 'bet' | 'bonus' | 'chargeback';
  /** Event time, ms. */
  ts: number;
  clickId: string;
  sub1: string;
  registeredAt: number;
  /** The player's country (registration's, else the click's); '' unknown. */
  country: string;
  /** KYC status after this event: '' | 'approved' | 'rejected' | 'pending'. */
  kyc: string;
  /** 4-place decimal: deposit, withdrawal, chargeback or bonus amount; a bet's stake; '0.0000' otherwise. */
  amount: string;
  isFtd: boolean;
  revenue: Revenue;
  /** A chargeback's deposit id ('' otherwise). */
  depositId: string;
  /** Attributed through active, unflagged traffic (false: lines are held). */
  commissionable: boolean;
  /** Alert id of a fraud hold on the player, or null. */
  hold: string | null;
}

/** Messages a commission actor handles. */
export type CommissionMessage =
  /** An applied event of a player attributed to this affiliate (from the player actor, in the player's order). */
  | { type: 'PlayerActivity'; activity: PlayerActivity }
  /** A fraud rule holds the player's commission: hold its unpaid lines, and make its future lines held. */
  | { type: 'PlayerHeld'; brandId: string; playerId: string; alertId: string; at: number }
  /** A sub-ID (null: the whole affiliate) was paused or blocked: hold the unpaid lines it touches. */
  | { type: 'TrafficPaused'; subId: string | null; action: string; alertId: string; at: number }
  /** A child affiliate's line was made (or reversed: a reversal is made) or rejected. */
  | { type: 'ChildLineChanged'; child: CommissionLine; change: 'made' | 'rejected' }
  /** An operator's lifecycle command. */
  | { type: 'CommandReceived'; command: CommissionCommand }
  /** A revenue import's figures for this affiliate's days of one brand (answered like a command). */
  | { type: 'RevenueImported'; revenue: ImportedRevenue }
  /** The partition's clock: periods whose end is at or before `at` close. */
  | { type: 'TimePassed'; at: number };

/** Effects, carried out by the host. */
export type CommissionEffect =
  /** A line was made or changed status: one ledger row, one outbound postback. */
  | { type: 'LineChanged'; line: CommissionLine }
  /** An open RevShare period's running figures (`revshare_accruals`, the latest per id wins). */
  | { type: 'RevshareAccrued'; accrual: RevshareAccrual }
  /** For the parent's commission actor (sub-affiliate tier). */
  | Forward<'commission', CommissionMessage>
  /** The outcome of a command, per line, for the API call waiting on it (a revenue import: the lines it made). */
  | { type: 'CommandAnswered'; commandId: string; results: CommandResult[] };

/** What the handler reads besides its state and message. */
export interface CommissionContext {
  /** The affiliate's plan on the brand, or null: it earns nothing there. */
  plan(affiliateId: string, brandId: string): Plan | null;
  /** The affiliate's parent (sub-affiliate tier), or null. */
  parentOf(affiliateId: string): string | null;
  /** Brand settings: IANA time zone (periods close at month end there), currency, KYC gating of approvals. */
  brand(brandId: string): { timezone: string; currency: string; kycGating: boolean };
  /**
   * A pause or block in force on the affiliate's sub-ID, or on the whole affiliate, with its alert
   * id; `subId` null asks for the whole affiliate only (RevShare and sub-affiliate lines have no
   * sub-ID: '' is the sub-ID of clicks without one). Null when active.
   */
  pauseOf(affiliateId: string, subId: string | null): { action: string; alertId: string } | null;
}

/** What the actor keeps about one player of a brand. */
interface PlayerBook {
  /** CPA progress, until the CPA is decided (null: not started, or decided). */
  progress: CpaProgress | null;
  /** The player's CPA line ('' none yet). */
  cpa: string;
  /** KYC status after the player's latest event. */
  kyc: string;
  /** Alert id of a fraud hold on the player ('' none). */
  hold: string;
}

/** One plan version's part of an open period, with the terms it closes under. */
interface OpenSegment {
  planId: string;
  versionNo: number;
  /** The version's `effectiveFrom` (ms): segments are kept in this order. */
  from: number;
  currency: string;
  terms: RevshareTerms;
  holdDays: number;
  ngr: Money;
  heldNgr: Money;
  ftds: number;
}

/** What an import said of one day: its difference (imported − live NGR), counted in the segment of one plan version. */
interface DayDifference {
  diff: Money;
  planId: string;
  versionNo: number;
}

/** A period's books: what it counts, per plan version, and what imports changed in it. */
interface OpenPeriod {
  period: string;
  end: number;
  /** The NGR of each segment includes the days' differences. */
  segments: OpenSegment[];
  /** `YYYY-MM-DD` → the difference an import made that day (days without one are absent). */
  days: Map<string, DayDifference>;
}

/** A closed period's books, kept so an import can adjust it: one per brand and month. */
interface ClosedPeriod extends OpenPeriod {
  /** The balance carried into it (≤ 0). */
  carryIn: Money;
  /** What its lines pay together: the lines of the close and the adjustments since. */
  paid: Money;
  /** The NGR those lines were computed from. */
  paidNgr: Money;
  /** Adjustment lines made (the next one's id counts them). */
  adjustments: number;
}

/** A brand's RevShare books. */
interface BrandBook {
  /** The negative balance carried into the next period (≤ 0). */
  carry: Money;
  /** The latest closed period ('' none). */
  closedThrough: string;
  open: OpenPeriod | null;
  /** Closed periods' books, by period. */
  closed: Map<string, ClosedPeriod>;
  /** The first period whose books are kept: those before closed before books were kept ('' every period's are). */
  booksFrom: string;
}

/** State of one commission actor. */
export interface CommissionState {
  affiliateId: string;
  /** Lines that can still change status or be reversed, by id. */
  lines: Map<string, CommissionLine>;
  /** Lines that can do neither any more: only their final status is kept, to answer commands. */
  settled: Map<string, CommissionStatus>;
  /** Line id → its reversal's id, while the reversed line is still in `lines`. */
  reversals: Map<string, string>;
  /** `brand\u0000player` → the player's book. */
  players: Map<string, PlayerBook>;
  brands: Map<string, BrandBook>;
  /** The latest `TimePassed` (ms). */
  clock: number;
  /** The UTC day of the latest sweep of expired CPA progress. */
  sweptDay: number;
  /** Recent command ids and their answers, oldest first. */
  answers: Map<string, CommandResult[]>;
}

/** A fresh actor. */
export function initialCommissionState(affiliateId: string): CommissionState {
  return {
    affiliateId, lines: new Map(), settled: new Map(), reversals: new Map(), players: new Map(), brands: new Map(),
    clock: 0, sweptDay: -1, answers: new Map(),
  };
}

/** The id of a line: UUIDv5 of the parts that make it unique (`cpa`, brand, affiliate, player…). */
export function lineId(...parts: string[]): string {
  return uuidv5(parts.join('\u0000'), COMMISSION_NAMESPACE);
}

/**
 * When the host must send `TimePassed` (ms): the earliest end of an open period, and — while the
 * actor keeps players' books — the next UTC day, for the daily sweep of expired CPA progress.
 * Infinity when neither.
 */
export function commissionDeadline(state: CommissionState): number {
  let min = state.players.size > 0 ? (state.sweptDay + 1) * DAY_MS : Infinity;
  for (const b of state.brands.values()) if (b.open && b.open.end < min) min = b.open.end;
  return min;
}

const m = (s: string): Money => parseMoney(s) as Money;
const iso = (ms: number): string => new Date(ms).toISOString();
const isFinal = (s: CommissionStatus): boolean => s === 'rejected' || s === 'paid' || s === 'reversed';

/** A line can still be reversed: a CPA line, or a parent's share of one, that is no reversal itself, not rejected, not reversed yet. */
function reversible(s: CommissionState, l: CommissionLine): boolean {
  return l.reversalOf === '' && l.status !== 'rejected' && !s.reversals.has(l.id) && (l.kind === 'cpa' || (l.kind === 'subaffiliate' && l.playerId !== ''));
}

function playerKey(brandId: string, playerId: string): string {
  return `${brandId}\u0000${playerId}`;
}

/** Forget a player's book once nothing in it is needed. */
function pruneBook(s: CommissionState, key: string): void {
  const b = s.players.get(key);
  if (b && b.progress === null && b.hold === '' && !s.lines.has(b.cpa)) s.players.delete(key);
}

/** Keep `l` as the line stands: in full while it may change or be reversed, else its status alone. */
function store(s: CommissionState, l: CommissionLine): void {
  if (!isFinal(l.status) || reversible(s, l)) {
    s.lines.set(l.id, l);
    return;
  }
  s.lines.delete(l.id);
  s.reversals.delete(l.id);
  s.settled.set(l.id, l.status);
  if (l.kind === 'cpa' && l.reversalOf === '') pruneBook(s, playerKey(l.brandId, l.playerId));
}

/** Record `l` and emit its change; a made or rejected line of this affiliate also goes to its parent. */
function emit(s: CommissionState, l: CommissionLine, change: 'made' | 'rejected' | null, ctx: CommissionContext, out: CommissionEffect[]): void {
  store(s, l);
  out.push({ type: 'LineChanged', line: { ...l } });
  if (change === null || l.kind === 'subaffiliate') return;
  const parent = ctx.parentOf(s.affiliateId);
  if (parent !== null) out.push({ type: 'Forward', actor: 'commission', key: parent, message: { type: 'ChildLineChanged', child: { ...l }, change } });
}

/** What a new line is made from; the rest is the same for every kind. */
type NewLine = Pick<
  CommissionLine,
  'id' | 'brandId' | 'playerId' | 'kind' | 'period' | 'amount' | 'currency' | 'status' | 'reason' | 'sourceEventId' | 'clickId' | 'sub1' | 'reversalOf' | 'ngr' | 'carryIn' | 'carryOut' | 'pct' | 'planId' | 'planVersionNo'
> & { createdAtMs: number; holdUntil: number };

function newLine(s: CommissionState, n: NewLine): CommissionLine {
  return {
    ...n, affiliateId: s.affiliateId, planVersion: `${n.planId}@${n.planVersionNo}`, createdAt: iso(n.createdAtMs), updatedAt: iso(n.createdAtMs),
    updatedAtMs: n.createdAtMs, version: 1, by: 'system', at: n.createdAtMs, reference: '',
  };
}

/** `l` after a status change by `by` at `at`. */
function changed(l: CommissionLine, status: CommissionStatus, reason: string, by: string, at: number, reference = l.reference): CommissionLine {
  return { ...l, status, reason, by, at, updatedAt: iso(at), updatedAtMs: at, version: l.version + 1, reference };
}

/** The status and reason of a new line: held for a player hold, a pause in force, or uncommissionable traffic. */
function holdOf(playerHold: string | null, pause: { alertId: string } | null, commissionable: boolean): Pick<CommissionLine, 'status' | 'reason'> {
  const reason = playerHold || pause?.alertId || (commissionable ? '' : NOT_COMMISSIONABLE);
  return { status: reason === '' ? 'pending' : 'held', reason };
}

/** Append the reversal of `original` for `eventId`, at `ts`. */
function reverse(s: CommissionState, original: CommissionLine, eventId: string, ts: number, period: string, reason: string, ctx: CommissionContext, out: CommissionEffect[]): void {
  const id = lineId('reversal', original.id, eventId);
  s.reversals.set(original.id, id);
  // The original can no longer be reversed: once final, only its status is needed.
  store(s, original);
  const r = newLine(s, {
    ...original, id, period, amount: toDecimalText(-m(original.amount)), status: 'reversed', reason, sourceEventId: eventId,
    reversalOf: original.id, createdAtMs: ts, holdUntil: ts,
  });
  emit(s, r, 'made', ctx, out);
}

/** Move `l` to held for `alertId` (pending or approved lines only: what is not paid yet). */
function holdLine(s: CommissionState, l: CommissionLine, alertId: string, at: number, ctx: CommissionContext, out: CommissionEffect[]): void {
  if (l.status === 'pending' || l.status === 'approved') emit(s, changed(l, 'held', alertId, 'system', at), null, ctx, out);
}

// --- RevShare ----------------------------------------------------------------------------------

function brandBook(s: CommissionState, brandId: string): BrandBook {
  let b = s.brands.get(brandId);
  if (!b) s.brands.set(brandId, (b = { carry: 0n, closedThrough: '', open: null, closed: new Map(), booksFrom: '' }));
  return b;
}

function segmentId(s: CommissionState, brandId: string, period: string, seg: OpenSegment): string {
  return lineId('revshare', brandId, s.affiliateId, period, `${seg.planId}@${seg.versionNo}`);
}

/** The running (or, `closed`, final) figures of every segment of `b`'s open period. */
function accruals(s: CommissionState, brandId: string, b: BrandBook, at: number, closed: boolean): CommissionEffect[] {
  const open = b.open as OpenPeriod;
  const ftds = open.segments.reduce((n, x) => n + x.ftds, 0);
  const settled = settlePeriod(b.carry, open.segments, ftds);
  return open.segments.map((seg, i) => {
    const line = settled.lines[i] as (typeof settled.lines)[number];
    return {
      type: 'RevshareAccrued',
      accrual: {
        id: segmentId(s, brandId, open.period, seg), brandId, affiliateId: s.affiliateId, period: open.period, planId: seg.planId, planVersionNo: seg.versionNo,
        planVersion: `${seg.planId}@${seg.versionNo}`, currency: seg.currency, ngr: toDecimalText(seg.ngr), heldNgr: toDecimalText(seg.heldNgr), ftds: seg.ftds,
        pct: line.pct, amount: toDecimalText(line.amount), carryIn: toDecimalText(line.carryIn), closed, at,
      },
    };
  });
}

/** Close `b`'s open period: its lines, at the period's end, and its final figures. */
function closePeriod(s: CommissionState, brandId: string, b: BrandBook, ctx: CommissionContext, out: CommissionEffect[]): void {
  const open = b.open as OpenPeriod;
  out.push(...accruals(s, brandId, b, open.end, true));
  const ftds = open.segments.reduce((n, x) => n + x.ftds, 0);
  const settled = settlePeriod(b.carry, open.segments, ftds);
  const { status, reason } = holdOf(null, ctx.pauseOf(s.affiliateId, null), true);
  open.segments.forEach((seg, i) => {
    const r = settled.lines[i] as (typeof settled.lines)[number];
    const line = newLine(s, {
      id: segmentId(s, brandId, open.period, seg), brandId, playerId: '', kind: 'revshare', period: open.period, amount: toDecimalText(r.amount),
      currency: seg.currency, status, reason, sourceEventId: '', clickId: '', sub1: '', reversalOf: '', ngr: toDecimalText(seg.ngr),
      carryIn: toDecimalText(r.carryIn), carryOut: toDecimalText(r.carryOut), pct: r.pct, planId: seg.planId, planVersionNo: seg.versionNo,
      createdAtMs: open.end, holdUntil: open.end + seg.holdDays * DAY_MS,
    });
    emit(s, line, 'made', ctx, out);
  });
  b.closed.set(open.period, { ...open, carryIn: b.carry, paid: paysOf(settled), paidNgr: totalNgr(open), adjustments: 0 });
  b.carry = settled.carryOut;
  b.closedThrough = open.period;
  b.open = null;
}

/**
 * The period an activity counts in: its own, unless that one is closed or already over — then the
 * open period, or (none open) the latest clock's, and never one that is closed. Closes the open
 * period when the activity belongs to a later one.
 */
function periodFor(s: CommissionState, a: PlayerActivity, b: BrandBook, tz: string, ctx: CommissionContext, out: CommissionEffect[]): string {
  let period = periodOf(a.ts, tz);
  const late = period <= b.closedThrough || (b.open !== null ? period < b.open.period : periodEnd(period, tz) <= s.clock);
  if (late) {
    if (b.open) return b.open.period;
    period = b.closedThrough === '' ? periodOf(s.clock, tz) : nextPeriod(b.closedThrough);
    const current = periodOf(s.clock, tz);
    if (current > period) period = current;
  }
  if (b.open && period > b.open.period) closePeriod(s, a.brandId, b, ctx, out);
  return period;
}

/** The segment of `p` for `plan`'s `version`, added in the order versions came into force if it has none yet. */
function segmentOf(p: OpenPeriod, plan: Plan, version: PlanVersion, terms: RevshareTerms): OpenSegment {
  const segs = p.segments;
  let seg = segs.find((x) => x.planId === plan.id && x.versionNo === version.version);
  if (seg) return seg;
  const from = Date.parse(version.effectiveFrom);
  seg = { planId: plan.id, versionNo: version.version, from, currency: plan.currency, terms, holdDays: version.holdDays, ngr: 0n, heldNgr: 0n, ftds: 0 };
  const at = segs.findIndex((x) => x.from > from || (x.from === from && x.planId > plan.id));
  segs.splice(at < 0 ? segs.length : at, 0, seg);
  return seg;
}

const totalNgr = (p: OpenPeriod): Money => p.segments.reduce((n, x) => n + x.ngr, 0n);
const paysOf = (settled: ReturnType<typeof settlePeriod>): Money => settled.lines.reduce((n, l) => n + l.amount, 0n);

/** Count an activity's NGR (and FTD) in its brand's open period. */
function accrue(s: CommissionState, a: PlayerActivity, plan: Plan | null, version: PlanVersion | null, counted: boolean, ctx: CommissionContext, out: CommissionEffect[]): void {
  const tz = ctx.brand(a.brandId).timezone;
  const b = brandBook(s, a.brandId);
  const period = periodFor(s, a, b, tz, ctx, out);
  if (!plan || !version?.revshare) return;
  if (!b.open) b.open = { period, end: periodEnd(period, tz), segments: [], days: new Map() };
  const fresh = !b.open.segments.some((x) => x.planId === plan.id && x.versionNo === version.version);
  const seg = segmentOf(b.open, plan, version, version.revshare);
  const ngr = m(a.revenue.ngr);
  if (counted) {
    seg.ngr += ngr;
    if (a.isFtd) seg.ftds++;
  } else {
    seg.heldNgr += ngr;
  }
  if (fresh || ngr !== 0n || (counted && a.isFtd)) out.push(...accruals(s, a.brandId, b, a.ts, false));
}

// --- Revenue imports -------------------------------------------------------------------------------

/**
 * The books an import's days of `period` go into: the open period's; a closed period's; for a
 * period the books never held, a closed one made now when it is over by the import's time (no
 * activity there: no carry-in), else the period opened now. A period later than the open one
 * closes it first, as activity of a later period does. Null for a period closed before books were
 * kept.
 */
function booksFor(s: CommissionState, brandId: string, b: BrandBook, period: string, at: number, tz: string, ctx: CommissionContext, out: CommissionEffect[]): OpenPeriod | ClosedPeriod | null {
  if (b.open?.period === period) return b.open;
  const kept = b.closed.get(period);
  if (kept) return kept;
  if (period < b.booksFrom) return null;
  if (b.open && period > b.open.period) closePeriod(s, brandId, b, ctx, out);
  const end = periodEnd(period, tz);
  if (b.open === null && period > b.closedThrough && end > Math.max(s.clock, at)) {
    b.open = { period, end, segments: [], days: new Map() };
    return b.open;
  }
  const made: ClosedPeriod = { period, end, segments: [], days: new Map(), carryIn: 0n, paid: 0n, paidNgr: 0n, adjustments: 0 };
  b.closed.set(period, made);
  // Its live activity, arriving later, counts in a later period: a closed period is never reopened.
  if (period > b.closedThrough) b.closedThrough = period;
  return made;
}

/** The plan version an import's day counts under: the one in force at the day's last instant, if it has RevShare terms. */
function versionOfDay(plan: Plan | null, day: string, tz: string): { plan: Plan; version: PlanVersion; terms: RevshareTerms } | null {
  const version = plan ? planVersionAt(plan, dayEnd(day, tz) - 1) : null;
  return plan && version?.revshare ? { plan, version, terms: version.revshare } : null;
}

/**
 * Put what an import says of `day` into `p`: the difference `diff` replaces the day's earlier one,
 * in the segment of the version the day counts under (none: the day counts nothing). True when the
 * books changed.
 */
function setDay(p: OpenPeriod, day: string, diff: Money, plan: Plan | null, tz: string): boolean {
  const old = p.days.get(day);
  const counts = diff === 0n ? null : versionOfDay(plan, day, tz);
  if (!old && !counts) return false;
  if (old && counts && old.diff === diff && old.planId === counts.plan.id && old.versionNo === counts.version.version) return false;
  if (old) {
    (p.segments.find((x) => x.planId === old.planId && x.versionNo === old.versionNo) as OpenSegment).ngr -= old.diff;
    p.days.delete(day);
  }
  if (counts) {
    segmentOf(p, counts.plan, counts.version, counts.terms).ngr += diff;
    p.days.set(day, { diff, planId: counts.plan.id, versionNo: counts.version.version });
  }
  return true;
}

/**
 * A closed period's NGR changed: when what it pays now differs from what its lines paid, append the
 * adjustment line of the difference (held, like a period's lines, while a pause of the whole
 * affiliate is in force).
 */
function adjustClosed(s: CommissionState, brandId: string, p: ClosedPeriod, r: ImportedRevenue, ctx: CommissionContext, out: CommissionEffect[]): void {
  const last = p.segments.length - 1;
  const seg = p.segments[last];
  if (!seg) return;
  const settled = settlePeriod(p.carryIn, p.segments, p.segments.reduce((n, x) => n + x.ftds, 0));
  const pays = paysOf(settled);
  if (pays === p.paid) return;
  const ngr = totalNgr(p);
  const held = holdOf(null, ctx.pauseOf(s.affiliateId, null), true);
  const line = newLine(s, {
    id: lineId('revshare', brandId, s.affiliateId, p.period, 'import', r.importId, String(p.adjustments)), brandId, playerId: '', kind: 'revshare', period: p.period,
    amount: toDecimalText(pays - p.paid), currency: seg.currency, status: held.status, reason: held.status === 'held' ? held.reason : `revenue import ${r.importId}`,
    sourceEventId: r.importId, clickId: '', sub1: '', reversalOf: '', ngr: toDecimalText(ngr - p.paidNgr), carryIn: '0.0000', carryOut: '0.0000',
    pct: (settled.lines[last] as (typeof settled.lines)[number]).pct, planId: seg.planId, planVersionNo: seg.versionNo, createdAtMs: r.at, holdUntil: r.at + seg.holdDays * DAY_MS,
  });
  p.paid = pays;
  p.paidNgr = ngr;
  p.adjustments++;
  emit(s, line, 'made', ctx, out);
}

function onRevenue(s: CommissionState, r: ImportedRevenue, ctx: CommissionContext): CommissionEffect[] {
  const out: CommissionEffect[] = [];
  const tz = ctx.brand(r.brandId).timezone;
  const plan = ctx.plan(s.affiliateId, r.brandId);
  const b = brandBook(s, r.brandId);
  const periods = new Map<string, RevenueDay[]>();
  for (const d of r.days) {
    const period = d.day.slice(0, 7);
    const days = periods.get(period);
    if (days) days.push(d);
    else periods.set(period, [d]);
  }
  // Days come ascending, so periods do: an open period's figures are out before a later day closes it.
  for (const [period, days] of periods) {
    const kept = b.open?.period === period || b.closed.has(period);
    // Books are made for a period only when one of its days counts.
    if (!kept && !days.some((d) => m(d.imported) !== m(d.live) && versionOfDay(plan, d.day, tz))) continue;
    const p = booksFor(s, r.brandId, b, period, r.at, tz, ctx, out);
    if (!p) continue;
    let changed = false;
    for (const d of days) if (setDay(p, d.day, m(d.imported) - m(d.live), plan, tz)) changed = true;
    if (!changed) continue;
    if (p === b.open) out.push(...accruals(s, r.brandId, b, r.at, false));
    else adjustClosed(s, r.brandId, p as ClosedPeriod, r, ctx, out);
  }
  const results = out.flatMap((e): CommandResult[] => (e.type === 'LineChanged' ? [{ commissionId: e.line.id, ok: true, status: e.line.status }] : []));
  out.push({ type: 'CommandAnswered', commandId: r.id, results });
  return out;
}

// --- CPA -----------------------------------------------------------------------------------------

function onActivity(s: CommissionState, a: PlayerActivity, ctx: CommissionContext): CommissionEffect[] {
  const out: CommissionEffect[] = [];
  const plan = ctx.plan(s.affiliateId, a.brandId);
  const version = plan ? planVersionAt(plan, a.ts) : null;
  const key = playerKey(a.brandId, a.playerId);
  let book = s.players.get(key);
  const playerHold = a.hold ?? (book?.hold || null);
  accrue(s, a, plan, version, a.commissionable && playerHold === null, ctx, out);

  if (book) book.kyc = a.kyc;
  const amount = m(a.amount);
  if (a.eventType === 'chargeback' && book) {
    if (book.progress) book.progress.deposits -= amount;
    const line = s.lines.get(book.cpa);
    if (line && reversible(s, line)) reverse(s, line, a.eventId, a.ts, periodOf(a.ts, ctx.brand(a.brandId).timezone), `chargeback ${a.eventId}`, ctx, out);
  }
  if (a.isFtd && plan && version?.cpa && !book?.progress && !book?.cpa) {
    if (!book) s.players.set(key, (book = { progress: null, cpa: '', kyc: a.kyc, hold: '' }));
    book.progress = { registeredAt: a.registeredAt, deposits: 0n, stakes: 0n };
  }
  const p = book?.progress;
  if (!book || !p) return out;
  if (a.eventType === 'deposit') p.deposits += amount;
  else if (a.eventType === 'bet') p.stakes += amount;
  const terms = version?.cpa;
  if (!plan || !version || !terms) return out;
  const outcome = cpaOutcome(terms, p, { ts: a.ts, kyc: a.kyc, country: a.country });
  if (outcome === 'open') return out;
  book.progress = null;
  if (outcome === 'expired') {
    pruneBook(s, key);
    return out;
  }
  const id = lineId('cpa', a.brandId, s.affiliateId, a.playerId);
  book.cpa = id;
  const line = newLine(s, {
    id, brandId: a.brandId, playerId: a.playerId, kind: 'cpa', period: periodOf(a.ts, ctx.brand(a.brandId).timezone), amount: toDecimalText(m(terms.amount)),
    currency: plan.currency, ...holdOf(playerHold, ctx.pauseOf(s.affiliateId, a.sub1), a.commissionable), sourceEventId: a.eventId,
    clickId: a.clickId, sub1: a.sub1, reversalOf: '', ngr: '0.0000', carryIn: '0.0000', carryOut: '0.0000', pct: '', planId: plan.id,
    planVersionNo: version.version, createdAtMs: a.ts, holdUntil: a.ts + version.holdDays * DAY_MS,
  });
  emit(s, line, 'made', ctx, out);
  return out;
}

/** Drop, once a UTC day, CPA progress that can no longer qualify at `at`. */
function sweepProgress(s: CommissionState, at: number, ctx: CommissionContext): void {
  const day = Math.floor(at / DAY_MS);
  if (day <= s.sweptDay) return;
  s.sweptDay = day;
  for (const [key, book] of s.players) {
    if (!book.progress) continue;
    const plan = ctx.plan(s.affiliateId, key.slice(0, key.indexOf('\u0000')));
    const terms = plan ? planVersionAt(plan, at)?.cpa : null;
    if (!terms || cpaOutcome(terms, book.progress, { ts: at, kyc: '', country: '' }) === 'expired') {
      book.progress = null;
      pruneBook(s, key);
    }
  }
}

// --- Sub-affiliates ------------------------------------------------------------------------------

function onChildLine(s: CommissionState, child: CommissionLine, change: 'made' | 'rejected', ctx: CommissionContext): CommissionEffect[] {
  const out: CommissionEffect[] = [];
  if (change === 'rejected') {
    const sub = s.lines.get(lineId('sub', child.id));
    if (sub && (sub.status === 'pending' || sub.status === 'approved' || sub.status === 'held')) {
      emit(s, changed(sub, 'rejected', CHILD_REJECTED, 'system', child.at), null, ctx, out);
    }
    return out;
  }
  if (child.reversalOf !== '') {
    const sub = s.lines.get(lineId('sub', child.reversalOf));
    if (sub && reversible(s, sub)) reverse(s, sub, child.sourceEventId, child.createdAtMs, child.period, child.reason, ctx, out);
    return out;
  }
  const id = lineId('sub', child.id);
  if (s.lines.has(id) || s.settled.has(id)) return out;
  const plan = ctx.plan(s.affiliateId, child.brandId);
  const version = plan ? planVersionAt(plan, child.createdAtMs) : null;
  if (!plan || !version) return out;
  const amount = percentOf(m(child.amount), version.subAffiliatePct);
  if (amount === 0n) return out;
  const line = newLine(s, {
    id, brandId: child.brandId, playerId: child.playerId, kind: 'subaffiliate', period: child.period, amount: toDecimalText(amount), currency: child.currency,
    ...(child.status === 'held' ? { status: 'held' as const, reason: child.reason } : holdOf(null, ctx.pauseOf(s.affiliateId, null), true)),
    sourceEventId: child.sourceEventId, clickId: '', sub1: '', reversalOf: '', ngr: '0.0000', carryIn: '0.0000', carryOut: '0.0000',
    pct: version.subAffiliatePct, planId: plan.id, planVersionNo: version.version, createdAtMs: child.createdAtMs, holdUntil: child.createdAtMs + version.holdDays * DAY_MS,
  });
  emit(s, line, 'made', ctx, out);
  return out;
}

// --- Commands ------------------------------------------------------------------------------------

const refused = (commissionId: string, message: string): CommandResult => ({ commissionId, ok: false, error: { code: 'invalid_transition', message } });

function act(s: CommissionState, c: CommissionCommand, action: CommissionAction, id: string, ctx: CommissionContext, out: CommissionEffect[]): CommandResult {
  const line = s.lines.get(id);
  const status = line?.status ?? s.settled.get(id);
  if (status === undefined) return { commissionId: id, ok: false, error: { code: 'not_found', message: `no commission ${id} of affiliate ${s.affiliateId}` } };
  let to: CommissionStatus;
  try {
    to = transition(status, action);
  } catch (err) {
    if (err instanceof AffstreamError && err.code === 'invalid_transition') return refused(id, err.message);
    throw err;
  }
  // A settled line's status is final: no action leads anywhere from it, so here the line is in `lines`.
  const l = line as CommissionLine;
  const reversal = s.reversals.get(id);
  if (action === 'reject' && reversal !== undefined) return refused(id, `cannot reject a commission that is reversed (by ${reversal}): its reversal already cancels it`);
  const reason = action === 'hold' || action === 'reject' ? c.reason.trim() || NO_REASON : '';
  emit(s, changed(l, to, reason, c.by, c.at, action === 'pay' ? c.reference : l.reference), action === 'reject' ? 'rejected' : null, ctx, out);
  return { commissionId: id, ok: true, status: to };
}

/** Approve `id` if it is due and its checks are clean; otherwise say why not. */
function approveDue(s: CommissionState, c: CommissionCommand, id: string, ctx: CommissionContext, out: CommissionEffect[]): CommandResult {
  const line = s.lines.get(id);
  if (!line) return act(s, c, 'approve', id, ctx, out);
  if (line.status !== 'pending') return refused(id, `not due: the commission is ${line.status}`);
  if (line.holdUntil > c.at) return refused(id, `not due: its hold period runs until ${iso(line.holdUntil)}`);
  const pause = ctx.pauseOf(s.affiliateId, line.kind === 'cpa' ? line.sub1 : null);
  if (pause) return refused(id, `not due: traffic ${pause.action} (alert ${pause.alertId})`);
  if (line.kind === 'cpa' && ctx.brand(line.brandId).kycGating && s.players.get(playerKey(line.brandId, line.playerId))?.kyc !== 'approved') {
    return refused(id, 'not due: the player\u2019s KYC is not approved');
  }
  return act(s, c, 'approve', id, ctx, out);
}

function onCommand(s: CommissionState, c: CommissionCommand, ctx: CommissionContext): CommissionEffect[] {
  const seen = s.answers.get(c.id);
  if (seen) return [{ type: 'CommandAnswered', commandId: c.id, results: seen }];
  const out: CommissionEffect[] = [];
  const results = c.commissionIds.map((id) => (c.action === 'approve-due' ? approveDue(s, c, id, ctx, out) : act(s, c, c.action, id, ctx, out)));
  s.answers.set(c.id, results);
  if (s.answers.size > RECENT_COMMANDS) s.answers.delete(s.answers.keys().next().value as string);
  out.push({ type: 'CommandAnswered', commandId: c.id, results });
  return out;
}

/** Handle one message: update `state` in place, return the effects. */
export function handleCommission(state: CommissionState, msg: CommissionMessage, ctx: CommissionContext): CommissionEffect[] {
  switch (msg.type) {
    case 'PlayerActivity':
      return onActivity(state, msg.activity, ctx);
    case 'PlayerHeld': {
      const key = playerKey(msg.brandId, msg.playerId);
      let book = state.players.get(key);
      if (!book) state.players.set(key, (book = { progress: null, cpa: '', kyc: '', hold: '' }));
      book.hold = msg.alertId;
      const out: CommissionEffect[] = [];
      const line = state.lines.get(book.cpa);
      if (line) holdLine(state, line, msg.alertId, msg.at, ctx, out);
      return out;
    }
    case 'TrafficPaused': {
      const out: CommissionEffect[] = [];
      for (const line of [...state.lines.values()]) if (msg.subId === null || line.sub1 === msg.subId) holdLine(state, line, msg.alertId, msg.at, ctx, out);
      return out;
    }
    case 'ChildLineChanged':
      return onChildLine(state, msg.child, msg.change, ctx);
    case 'CommandReceived':
      return onCommand(state, msg.command, ctx);
    case 'RevenueImported':
      return onRevenue(state, msg.revenue, ctx);
    case 'TimePassed': {
      const out: CommissionEffect[] = [];
      if (msg.at > state.clock) state.clock = msg.at;
      for (const brandId of [...state.brands.keys()].sort()) {
        const b = state.brands.get(brandId) as BrandBook;
        if (b.open && b.open.end <= msg.at) closePeriod(state, brandId, b, ctx, out);
      }
      sweepProgress(state, msg.at, ctx);
      return out;
    }
  }
}

// --- Snapshots -----------------------------------------------------------------------------------

type Snap<T> = { [K in keyof T]: T[K] extends Money ? string : T[K] };

/** A period's books as JSON data; `days` is absent in snapshots of earlier versions. */
type PeriodSnapshot = Omit<OpenPeriod, 'segments' | 'days'> & { segments: Array<Snap<OpenSegment>>; days?: Array<[string, Snap<DayDifference>]> };
type ClosedSnapshot = PeriodSnapshot & Snap<Omit<ClosedPeriod, keyof OpenPeriod>>;

function periodSnapshot(p: OpenPeriod): PeriodSnapshot {
  const t = toDecimalText;
  return {
    period: p.period, end: p.end, segments: p.segments.map((x) => ({ ...x, ngr: t(x.ngr), heldNgr: t(x.heldNgr) })),
    days: [...p.days].map(([day, d]) => [day, { ...d, diff: t(d.diff) }]),
  };
}

function restorePeriod(p: PeriodSnapshot): OpenPeriod {
  return {
    period: p.period, end: p.end, segments: p.segments.map((x) => ({ ...x, ngr: m(x.ngr), heldNgr: m(x.heldNgr) })),
    days: new Map((p.days ?? []).map(([day, d]) => [day, { ...d, diff: m(d.diff) }])),
  };
}

/** An actor's state as plain JSON data ({@link snapshotCommission}). */
export interface CommissionSnapshot {
  affiliateId: string;
  lines: CommissionLine[];
  settled: Array<[string, CommissionStatus]>;
  reversals: Array<[string, string]>;
  players: Array<[string, Omit<PlayerBook, 'progress'> & { progress: Snap<CpaProgress> | null }]>;
  /** `closed` and `booksFrom` are absent in snapshots of earlier versions. */
  brands: Array<[string, { carry: string; closedThrough: string; open: PeriodSnapshot | null; closed?: ClosedSnapshot[]; booksFrom?: string }]>;
  clock: number;
  sweptDay: number;
  answers: Array<[string, CommandResult[]]>;
}

/** The state as JSON-safe data (money as decimal text), for the host's snapshots. */
export function snapshotCommission(s: CommissionState): CommissionSnapshot {
  const t = toDecimalText;
  return {
    affiliateId: s.affiliateId,
    lines: [...s.lines.values()],
    settled: [...s.settled],
    reversals: [...s.reversals],
    players: [...s.players].map(([k, b]) => [k, { ...b, progress: b.progress && { ...b.progress, deposits: t(b.progress.deposits), stakes: t(b.progress.stakes) } }]),
    brands: [...s.brands].map(([k, b]) => [k, {
      carry: t(b.carry), closedThrough: b.closedThrough, open: b.open && periodSnapshot(b.open),
      closed: [...b.closed.values()].map((p) => ({ ...periodSnapshot(p), carryIn: t(p.carryIn), paid: t(p.paid), paidNgr: t(p.paidNgr), adjustments: p.adjustments })),
      booksFrom: b.booksFrom,
    }]),
    clock: s.clock,
    sweptDay: s.sweptDay,
    answers: [...s.answers],
  };
}

/** The state from {@link snapshotCommission}'s data (after a JSON round trip). */
export function restoreCommission(json: unknown): CommissionState {
  const j = json as CommissionSnapshot;
  return {
    affiliateId: j.affiliateId,
    lines: new Map(j.lines.map((l) => [l.id, l])),
    settled: new Map(j.settled),
    reversals: new Map(j.reversals),
    players: new Map(j.players.map(([k, b]) => [k, { ...b, progress: b.progress && { ...b.progress, deposits: m(b.progress.deposits), stakes: m(b.progress.stakes) } }])),
    brands: new Map(j.brands.map(([k, b]) => [k, {
      carry: m(b.carry), closedThrough: b.closedThrough, open: b.open && restorePeriod(b.open),
      closed: new Map((b.closed ?? []).map((p) => [p.period, { ...restorePeriod(p), carryIn: m(p.carryIn), paid: m(p.paid), paidNgr: m(p.paidNgr), adjustments: p.adjustments }])),
      // Books written before closed periods were kept: what those periods paid is not known here.
      booksFrom: b.booksFrom ?? (b.closedThrough !== '' ? nextPeriod(b.closedThrough) : ''),
    }])),
    clock: j.clock,
    sweptDay: j.sweptDay,
    answers: new Map(j.answers),
  };
}
