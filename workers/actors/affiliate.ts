/**
 * The affiliate actor: one per affiliate id, living in the partition that `shard(affiliateId)`
 * picks. It decides what each click counts as, and runs the fraud rules that judge an affiliate's
 * sub-IDs (docs/fraud.md, “Where each rule runs”: 1 IP registrations, 2 conversion rate, 4 chargeback rate, 5 click flood,
 * 7 FTD amount clusters), on event time.
 *
 * A click is **unique** when it is the first valid click (not a bot, not geo-blocked, not flagged
 * as fraud) from its IP on its link in its UTC day; paused or blocked traffic still counts as
 * unique visitors (it is only not commissionable).
 *
 * Registrations, FTDs and chargebacks reach this actor from the players' partitions once they are
 * attributed (`…Attributed` messages, forwarded through this partition's stream). A rule that
 * fires raises an alert; a pausing action is remembered per sub-ID so it is raised once, and a
 * stronger one (block after pause) replaces a weaker one. When an operator lifts a pause the
 * sub-ID's windows start afresh (its generation changes), so the evidence already judged does not
 * fire again at once.
 *
 * The handler is deterministic: it reads only the state, the message and the context, so replaying
 * the partition rebuilds the same state and raises the same alerts (with the same ids).
 */
import { ClickFlag, type ClickRecorded } from '../../schema/wire.ts';
import { ACTION_RANK, PAUSE_ACTIONS, alertId, type FraudAction, type FraudAlert, type FraudPause, type FraudRules, type RuleId } from '../../schema/fraud.ts';
import { WindowTable, type WindowSnapshot } from '../fraud/windowTable.ts';
import { clickScore, isGarbledUserAgent } from '../fraud/score.ts';
import type { Forward } from './forward.ts';
import type { CommissionMessage } from './commission.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** A pause or block in force on a sub-ID, or (key null) on the whole affiliate. */
export interface ActiveAction {
  action: FraudAction;
  rule: RuleId;
  alertId: string;
}

/** The fraud part of an affiliate's state: what snapshots keep. */
export interface AffiliateFraud {
  /** Sliding windows by name (rule, measure and shape). */
  windows: Map<string, WindowTable>;
  /** By sub-ID; null = the affiliate as a whole (any string, '' included, is a sub-ID). */
  actions: Map<string | null, ActiveAction>;
  /** Sub-ID (null = the affiliate) → generation, bumped when an operator lifts a pause. */
  generations: Map<string | null, number>;
  /** `rule\u0000sub` → event time until which a flag is not raised again (one per window). */
  quietUntil: Map<string, number>;
  /** Sub-ID window key → the FTD amount seen most often in its window (rule 7 compares its share). */
  topAmount: Map<string, string>;
}

/** State of one affiliate actor. */
export interface AffiliateState {
  affiliateId: string;
  /** UTC day number (days since epoch) → `code\u0000ip` of the valid clicks seen that day. */
  seen: Map<number, Set<string>>;
  /** Latest UTC day seen; days older than `latestDay - uniqueDays + 1` are forgotten. */
  latestDay: number;
  fraud: AffiliateFraud;
}

/** A registration, FTD or chargeback of a player attributed to this affiliate. */
export interface Attributed {
  brandId: string;
  affiliateId: string;
  sub1: string;
  playerId: string;
  eventId: string;
  ts: number;
  /** Registration IP ('' when the platform sent none). */
  ip: string;
  /** FTD amount, decimal text in the brand's currency ('' otherwise). */
  amount: string;
}

/** Network-wide registrations and unique clicks of a brand in the conversion window. */
export interface NetworkTotals {
  registrations: number;
  uniqueClicks: number;
}

/** Commands and events an affiliate actor handles. */
export type AffiliateMessage =
  | { type: 'ClickRecorded'; click: ClickRecorded; ipClicksPerMinute: number }
  | { type: 'RegistrationAttributed'; reg: Attributed }
  | { type: 'FtdAttributed'; ftd: Attributed }
  | { type: 'ChargebackAttributed'; chargeback: Attributed }
  | { type: 'PauseLifted'; subId: string; pauseId: string };

/** Effects, carried out by the host. */
export type AffiliateEffect =
  | {
      /** The click was counted: the host writes it to the raw log, from which the aggregates follow. */
      type: 'ClickCounted';
      click: ClickRecorded;
      unique: boolean;
      /** Flagged by the click-stream rule: not unique, not attributable. */
      flagged: boolean;
      score: number;
    }
  | { type: 'AlertRaised'; alert: FraudAlert }
  /**
   * An operator's lift took effect: the pause must be gone from the bucket. The edge that took the
   * lift removed it already; a replay may have put it back (the trigger replayed before the lift).
   */
  | { type: 'PauseCleared'; pause: Pick<FraudPause, 'affiliate_id' | 'sub_id' | 'action'> }
  /** A pause, block or hold of traffic, for the affiliate's commission actor: it holds the lines the traffic made. */
  | Forward<'commission', CommissionMessage>;

/** Settings the handler reads. */
export interface AffiliateSettings {
  /** Days of unique-click memory kept (late clicks older than that count as not unique). */
  uniqueDays: number;
}

/** What the handler reads besides its state and message. */
export interface AffiliateContext {
  settings: AffiliateSettings;
  /** The fraud rules of a brand. */
  rules(brandId: string): FraudRules;
  /** The brand's network totals in the conversion window, as last announced to the partition (null: none yet). */
  network(brandId: string): NetworkTotals | null;
}

/** A fresh actor. */
export function initialAffiliateState(affiliateId: string): AffiliateState {
  return {
    affiliateId, seen: new Map(), latestDay: 0,
    fraud: { windows: new Map(), actions: new Map(), generations: new Map(), quietUntil: new Map(), topAmount: new Map() },
  };
}

/** The UTC day number of a timestamp. */
export function utcDay(ts: number): number {
  return Math.floor(ts / DAY_MS);
}

/** Remember a valid click from state recovery; returns false when it was already known. */
export function rememberClick(state: AffiliateState, day: number, code: string, ip: string, settings: AffiliateSettings): boolean {
  if (day > state.latestDay) {
    state.latestDay = day;
    for (const d of state.seen.keys()) if (d <= day - settings.uniqueDays) state.seen.delete(d);
  }
  if (day <= state.latestDay - settings.uniqueDays) return false;
  let set = state.seen.get(day);
  if (!set) state.seen.set(day, (set = new Set()));
  const key = `${code}\u0000${ip}`;
  if (set.has(key)) return false;
  set.add(key);
  return true;
}

/** The sliding window `name` of `windowMs` in `buckets` buckets, created on first use. */
function windowOf(f: AffiliateFraud, name: string, windowMs: number, buckets: number): WindowTable {
  const id = `${name}@${windowMs}/${buckets}`;
  let w = f.windows.get(id);
  if (!w) f.windows.set(id, (w = new WindowTable({ bucketMs: windowMs / buckets, buckets }, 8)));
  return w;
}

/** The window key of a sub-ID: its generation and the affiliate's, so a lift starts it afresh. */
function subKey(f: AffiliateFraud, sub: string): string {
  return `${f.generations.get(null) ?? 0}\u0000${sub}\u0000${f.generations.get(sub) ?? 0}`;
}

interface Trigger {
  rule: RuleId;
  action: FraudAction;
  /** How long a flag stays quiet after it is raised. */
  windowMs: number;
  brandId: string;
  sub: string;
  playerId: string;
  eventId: string;
  ts: number;
  score: number;
  evidence: Record<string, unknown>;
}

/** Raise `t` unless it is already in force (pauses) or was raised in its window (flags). */
function raise(s: AffiliateState, t: Trigger): AffiliateEffect[] {
  const f = s.fraud;
  if (PAUSE_ACTIONS.has(t.action)) {
    const target = t.action === 'pause_affiliate' ? null : t.sub;
    const current = f.actions.get(target) ?? f.actions.get(null);
    if (current && ACTION_RANK[current.action] >= ACTION_RANK[t.action]) return [];
    const id = alertId(t.rule, `${s.affiliateId}\u0000${target ?? '*'}`, t.eventId);
    f.actions.set(target, { action: t.action, rule: t.rule, alertId: id });
    return [{ type: 'AlertRaised', alert: alertOf(s, t, id) }, holdLines(s, target, t, id)];
  }
  const quietKey = `${t.rule}\u0000${t.sub}`;
  if ((f.quietUntil.get(quietKey) ?? -Infinity) > t.ts) return [];
  // Quiet periods that have ended are forgotten: the map holds only the flags of current windows.
  for (const [k, until] of f.quietUntil) if (until <= t.ts) f.quietUntil.delete(k);
  f.quietUntil.set(quietKey, t.ts + t.windowMs);
  return [{ type: 'AlertRaised', alert: alertOf(s, t, alertId(t.rule, `${s.affiliateId}\u0000${t.sub}`, t.eventId)) }];
}

/** A pause or block of a sub-ID (null: the affiliate) holds the commission lines its traffic made (workers/actors/commission.ts). */
function holdLines(s: AffiliateState, subId: string | null, t: Trigger, alertId: string): AffiliateEffect {
  return { type: 'Forward', actor: 'commission', key: s.affiliateId, message: { type: 'TrafficPaused', subId, action: t.action, alertId, at: t.ts } };
}

function alertOf(s: AffiliateState, t: Trigger, id: string): FraudAlert {
  return { id, ts: t.ts, brand_id: t.brandId, affiliate_id: s.affiliateId, sub_id: t.sub, player_id: t.playerId, rule: t.rule, action: t.action, score: t.score, evidence: t.evidence };
}

function onClick(s: AffiliateState, c: ClickRecorded, ipClicks: number, ctx: AffiliateContext): AffiliateEffect[] {
  const rules = ctx.rules(c.brandId).clickFlood;
  const sub = c.subs[0] ?? '';
  const bot = (c.flags & ClickFlag.Bot) !== 0;
  const garbledUa = !bot && isGarbledUserAgent(c.userAgent);
  const flooding = rules.enabled && ipClicks > rules.maxPerMinute;
  const flagged = garbledUa || flooding;
  const valid = (c.flags & (ClickFlag.Bot | ClickFlag.GeoBlocked)) === 0 && !flagged;
  const unique = valid && rememberClick(s, utcDay(c.ts), c.code, c.ip, ctx.settings);
  const score = clickScore({
    bot, garbledUa, geoBlocked: (c.flags & ClickFlag.GeoBlocked) !== 0, ipClicksPerMinute: ipClicks, maxPerMinute: rules.maxPerMinute,
    trafficStopped: c.affiliateStatus !== 'active' || (c.flags & (ClickFlag.SubPaused | ClickFlag.SubBlocked)) !== 0,
  });
  const out: AffiliateEffect[] = [{ type: 'ClickCounted', click: c, unique, flagged, score }];
  if (unique) {
    const conv = ctx.rules(c.brandId).conversionRate;
    windowOf(s.fraud, 'conv.uniques', conv.windowHours * HOUR_MS, 24).add(subKey(s.fraud, sub), c.ts);
  }
  if (flooding) {
    out.push(...raise(s, {
      rule: 'click_flood', action: rules.action, windowMs: HOUR_MS, brandId: c.brandId, sub, playerId: '', eventId: c.clickId, ts: c.ts, score,
      evidence: { ip: c.ip, clicks_per_minute: ipClicks, max_per_minute: rules.maxPerMinute },
    }));
  }
  return out;
}

function onRegistration(s: AffiliateState, r: Attributed, ctx: AffiliateContext): AffiliateEffect[] {
  const rules = ctx.rules(r.brandId);
  const f = s.fraud;
  const key = subKey(f, r.sub1);
  const out: AffiliateEffect[] = [];
  const ipr = rules.ipRegistrations;
  if (ipr.enabled && r.ip !== '') {
    const n = windowOf(f, 'ip.registrations', ipr.windowMinutes * MINUTE_MS, ipr.windowMinutes).add(`${key}\u0000${r.ip}`, r.ts);
    if (n > ipr.max) {
      out.push(...raise(s, {
        rule: 'ip_registrations', action: ipr.action, windowMs: ipr.windowMinutes * MINUTE_MS, brandId: r.brandId, sub: r.sub1, playerId: r.playerId,
        eventId: r.eventId, ts: r.ts, score: Math.min(100, 60 + 5 * (n - ipr.max)),
        evidence: { ip: r.ip, registrations: n, max: ipr.max, window_minutes: ipr.windowMinutes, player_id: r.playerId },
      }));
    }
  }
  const conv = rules.conversionRate;
  if (conv.enabled) {
    const windowMs = conv.windowHours * HOUR_MS;
    const regs = windowOf(f, 'conv.registrations', windowMs, 24).add(key, r.ts);
    const uniques = windowOf(f, 'conv.uniques', windowMs, 24).sum(key, r.ts);
    const rate = uniques > 0 ? regs / uniques : Infinity;
    const net = ctx.network(r.brandId);
    const netRate = net && net.uniqueClicks > 0 ? net.registrations / net.uniqueClicks : null;
    if (regs >= conv.minRegistrations && rate * 100 > conv.maxRatePct && (netRate === null || rate >= conv.networkRatio * netRate)) {
      out.push(...raise(s, {
        rule: 'conversion_rate', action: conv.action, windowMs, brandId: r.brandId, sub: r.sub1, playerId: '', eventId: r.eventId, ts: r.ts,
        score: Math.min(100, Math.round(50 + rate * 100)),
        evidence: { registrations: regs, unique_clicks: uniques, rate: round4(rate), network_rate: netRate === null ? null : round4(netRate), max_rate_pct: conv.maxRatePct, network_ratio: conv.networkRatio },
      }));
    }
  }
  return out;
}

const round4 = (x: number) => (Number.isFinite(x) ? Math.round(x * 10_000) / 10_000 : null);

function onFtd(s: AffiliateState, r: Attributed, ctx: AffiliateContext): AffiliateEffect[] {
  const rules = ctx.rules(r.brandId);
  const f = s.fraud;
  const key = subKey(f, r.sub1);
  windowOf(f, 'cb.ftds', rules.chargebackRate.windowDays * DAY_MS, 30).add(key, r.ts);
  const c = rules.ftdAmountCluster;
  if (!c.enabled) return [];
  const windowMs = c.windowHours * HOUR_MS;
  const ftds = windowOf(f, 'cluster.ftds', windowMs, 24).add(key, r.ts);
  const amounts = windowOf(f, 'cluster.amounts', windowMs, 24);
  const count = amounts.add(`${key}\u0000${r.amount}`, r.ts);
  // The cluster may be of an earlier amount: this FTD can be the one that brings the sub-ID to minFtds.
  const top = f.topAmount.get(key);
  const topCount = top === undefined ? 0 : amounts.sum(`${key}\u0000${top}`, r.ts);
  const [amount, same] = count >= topCount ? [r.amount, count] : [top as string, topCount];
  f.topAmount.set(key, amount);
  if (ftds < c.minFtds || same * 100 < c.sharePct * ftds) return [];
  return raise(s, {
    rule: 'ftd_amount_cluster', action: c.action, windowMs, brandId: r.brandId, sub: r.sub1, playerId: '', eventId: r.eventId, ts: r.ts,
    score: Math.min(100, Math.round(40 + (60 * same) / ftds)),
    evidence: { amount, same_amount_ftds: same, ftds, share_pct: c.sharePct, window_hours: c.windowHours },
  });
}

function onChargeback(s: AffiliateState, r: Attributed, ctx: AffiliateContext): AffiliateEffect[] {
  const c = ctx.rules(r.brandId).chargebackRate;
  if (!c.enabled) return [];
  const f = s.fraud;
  const key = subKey(f, r.sub1);
  const windowMs = c.windowDays * DAY_MS;
  const chargebacks = windowOf(f, 'cb.chargebacks', windowMs, 30).add(key, r.ts);
  const ftds = windowOf(f, 'cb.ftds', windowMs, 30).sum(key, r.ts);
  if (chargebacks < c.minChargebacks || chargebacks * 100 <= c.maxPct * ftds) return [];
  return raise(s, {
    rule: 'chargeback_rate', action: c.action, windowMs, brandId: r.brandId, sub: r.sub1, playerId: r.playerId, eventId: r.eventId, ts: r.ts,
    score: 90, evidence: { chargebacks, ftds, max_pct: c.maxPct, window_days: c.windowDays },
  });
}

/** Handle one message: update `state` in place, return the effects. */
export function handleAffiliate(state: AffiliateState, msg: AffiliateMessage, ctx: AffiliateContext): AffiliateEffect[] {
  switch (msg.type) {
    case 'ClickRecorded':
      return onClick(state, msg.click, msg.ipClicksPerMinute, ctx);
    case 'RegistrationAttributed':
      return onRegistration(state, msg.reg, ctx);
    case 'FtdAttributed':
      return onFtd(state, msg.ftd, ctx);
    case 'ChargebackAttributed':
      return onChargeback(state, msg.chargeback, ctx);
    case 'PauseLifted': {
      const f = state.fraud;
      const target = f.actions.get(null)?.alertId === msg.pauseId ? null : msg.subId;
      if (f.actions.get(target)?.alertId !== msg.pauseId) return [];
      const lifted = f.actions.get(target) as ActiveAction;
      f.actions.delete(target);
      f.generations.set(target, (f.generations.get(target) ?? 0) + 1);
      return [{ type: 'PauseCleared', pause: { affiliate_id: state.affiliateId, sub_id: target ?? '', action: lifted.action } }];
    }
  }
}

/** The snapshot form of an affiliate's fraud state (JSON-safe). */
export interface AffiliateFraudSnapshot {
  windows: Array<[string, WindowSnapshot]>;
  actions: Array<[string | null, ActiveAction]>;
  generations: Array<[string | null, number]>;
  quietUntil: Array<[string, number]>;
  topAmount: Array<[string, string]>;
}

/** The fraud state as plain data. */
export function fraudSnapshot(f: AffiliateFraud): AffiliateFraudSnapshot {
  return {
    windows: [...f.windows].map(([k, w]) => [k, w.snapshot()]),
    actions: [...f.actions], generations: [...f.generations], quietUntil: [...f.quietUntil], topAmount: [...f.topAmount],
  };
}

/** The fraud state from {@link fraudSnapshot}'s data. */
export function restoreFraud(s: AffiliateFraudSnapshot): AffiliateFraud {
  return {
    windows: new Map(s.windows.map(([k, w]) => [k, WindowTable.restore(w)])),
    actions: new Map(s.actions), generations: new Map(s.generations), quietUntil: new Map(s.quietUntil), topAmount: new Map(s.topAmount),
  };
}
