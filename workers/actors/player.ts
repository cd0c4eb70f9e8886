/**
 * The player actor: one per `brand:player_id`, in the partition `shard(brand:player_id)` picks
 * (docs/architecture.md, “Partitions”). It binds the player to an affiliate (docs/architecture.md,
 * “Attribution”), detects the FTD, keeps the KYC status, and turns every event into its revenue
 * components (docs/commissions.md, “NGR”), exactly.
 *
 * A registration takes the attribution rule its partition has in force at that point of its
 * ordered input (last click, first click, linear or position-based: workers/actors/attribution.ts)
 * and keeps it. A registration quoting a click id asks the host to resolve the click — and, for the
 * models that weigh several touches, the visitor's other clicks ({@link ResolveClick}); the answer
 * comes back through the partition's own ordered input ({@link ClickResolved}), so a replay sees
 * it at the same place. Until the binding is known — and for events that arrive before the
 * registration — events wait in `pending` and are applied, in their order, once it is; nothing is
 * lost and nothing is applied with the wrong affiliate.
 *
 * Fraud (docs/fraud.md): every registration gets a fraud score from its click; bonus abuse (a deposit,
 * the maximum bonus, then no bet within the window) holds the player's commission; attributed
 * registrations, FTDs and chargebacks are forwarded to the affiliate's actor and registrations to
 * the actors of their IP and device, which judge them network-wide ({@link PlayerForward}).
 *
 * Deterministic: reads only the state, the message, the brand settings and the rule given to it.
 */
import { v5 as uuidv5 } from 'uuid';
import type { FraudAlert, FraudRules } from '../../schema/fraud.ts';
import { alertId } from '../../schema/fraud.ts';
import { registrationScore } from '../fraud/score.ts';
import type { AffiliateMessage } from './affiliate.ts';
import { identityKey, type IdentityMessage } from './identity.ts';
import type { Forward } from './forward.ts';
import type { CommissionMessage } from './commission.ts';
import { multiply, parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import type { PlayerEvent } from '../../schema/events.ts';
import type { ClickInfo } from '../../schema/eventWire.ts';
import { BUILTIN_RULES, ruleFor, type BrandRule } from '../../schema/attributionRules.ts';
import { bindingIndex, FULL_WEIGHT, selectTouches, touchWeights, type TouchWindow } from './attribution.ts';

export type { ClickInfo };

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Why a player is (or is not) attributed. */
export type AttributionReason = 'click' | 'no_click' | 'unknown_click' | 'expired_click' | 'bot_click' | 'geo_blocked_click' | 'other_brand_click';

/** A player's binding, for life (an operator may reassign it later). */
export interface Attribution {
  attributed: boolean;
  reason: AttributionReason;
  clickId: string;
  affiliateId: string;
  code: string;
  campaign: string;
  sub1: string;
  clickCountry: string;
  /** Attribution model and rules version used (`position@2026-11-21.1`). */
  rulesVersion: string;
  /**
   * The click's traffic was active (affiliate and sub-ID neither paused nor blocked) and the click
   * not flagged by the click-stream rule: a flagged click still attributes (the rule only takes it
   * out of unique clicks; a carrier NAT sends many visitors through one IP) but earns nothing.
   */
  commissionable: boolean;
}

/** A fraud rule's hold on the player's commission. */
export interface CommissionHold {
  rule: 'bonus_abuse';
  since: number;
  alertId: string;
}

/** A touch's share of a player's conversions and revenue, for life (the binding touch is one of them). */
export interface Credit {
  clickId: string;
  /** The click's time, ms. */
  clickTs: number;
  affiliateId: string;
  code: string;
  campaign: string;
  sub1: string;
  /** Basis points; a player's credits sum to 10,000. Touches with no weight get no credit. */
  weightBp: number;
}

/** Namespace of global player UUIDs (docs/architecture.md, “Attribution”): UUIDv5 of `brand:player_id` under it, stable forever. */
export const PLAYER_UUID_NAMESPACE = '5b0f3a52-6f0e-4c55-9d6c-1f3c2a7e9b41';

/** State of one player actor. */
export interface PlayerState {
  key: string;
  brandId: string;
  playerId: string;
  /** The global player UUID, derived from the key: the same on every node and every replay. */
  uuid: string;
  registeredAt: number | null;
  /** The country the registration came from ('' unknown; absent in snapshots of earlier versions). */
  country?: string;
  /** Click id being resolved, while the binding is not known yet. */
  awaiting: string | null;
  /** The rule in force when the player registered; null before (and in snapshots of earlier versions: last click). */
  rule?: BrandRule | null;
  attribution: Attribution | null;
  /** The touches credited once the binding is known (absent in snapshots of earlier versions: see {@link creditsOf}). */
  credits?: Credit[];
  kyc: string;
  ftdEventId: string | null;
  /** Events received before the binding was known, oldest first. */
  pending: PlayerEvent[];
  /** Fraud score of the registration, 0–100. */
  registrationScore: number;
  /** A maximum bonus granted after a deposit: unless a bet comes by `deadline`, it is bonus abuse. */
  bonusWatch: { deadline: number; eventId: string } | null;
  hold: CommissionHold | null;
}

/** Brand settings the handler reads. */
export interface BrandSettings {
  attributionWindowDays: number;
  paymentFeePct: string;
  gamingTaxPct: string;
  fraud: FraudRules;
}

/** Messages a player actor handles. */
export type PlayerMessage =
  | { type: 'EventReceived'; event: PlayerEvent }
  | { type: 'ClickResolved'; clickId: string; click: ClickInfo | null; touches: readonly ClickInfo[] }
  /** The partition's clock moved on (a tick): deadlines up to `at` have passed. */
  | { type: 'TimePassed'; at: number };

/** A message for an actor of another partition, sent through that partition's stream. */
export type PlayerForward = Forward<'affiliate', AffiliateMessage> | Forward<'identity', IdentityMessage> | Forward<'commission', CommissionMessage>;

/** Revenue components of one event, decimal text with 4 places (docs/commissions.md, “NGR”). */
export interface Revenue {
  ggr: string;
  bonusCost: string;
  chargeback: string;
  fees: string;
  tax: string;
  ngr: string;
}

/** Effects, carried out by the host. */
export type PlayerEffect =
  | {
      type: 'ResolveClick';
      clickId: string;
      playerKey: string;
      brandId: string;
      /** Where the visitor's other clicks must fall to be touches; null when the rule needs only the quoted click (last click). */
      touches: TouchWindow | null;
    }
  | {
      type: 'EventApplied';
      event: PlayerEvent;
      attribution: Attribution;
      /** The player's credits (none for an organic player); a registration's are its credit rows. */
      credits: readonly Credit[];
      isFtd: boolean;
      revenue: Revenue;
      /** The registration's fraud score (0 for other events). */
      fraudScore: number;
      /** Attributed through active, unflagged traffic, and the player not held. */
      commissionable: boolean;
    }
  | PlayerForward
  | { type: 'AlertRaised'; alert: FraudAlert };

/** A fresh actor for `brand:player`. */
export function initialPlayerState(brandId: string, playerId: string): PlayerState {
  const key = `${brandId}:${playerId}`;
  return {
    key, brandId, playerId, uuid: uuidv5(key, PLAYER_UUID_NAMESPACE), registeredAt: null, awaiting: null, rule: null, attribution: null, credits: [],
    kyc: '', ftdEventId: null, pending: [], registrationScore: 0, bonusWatch: null, hold: null,
  };
}

/** The rule of players that registered before rules files: last click under the built-in rules. */
const LEGACY_RULE = ruleFor(BUILTIN_RULES, '');

function organic(reason: AttributionReason, rulesVersion: string, clickId = ''): Attribution {
  return { attributed: false, reason, clickId, affiliateId: '', code: '', campaign: '', sub1: '', clickCountry: '', rulesVersion, commissionable: false };
}

/** The binding a resolved click gives a registration made at `registeredAt` under last click (`rulesVersion` is recorded on it). */
export function attributionFor(brandId: string, registeredAt: number, clickId: string, click: ClickInfo | null, b: BrandSettings, rulesVersion: string): Attribution {
  if (!click) return organic('unknown_click', rulesVersion, clickId);
  if (click.brandId !== brandId) return organic('other_brand_click', rulesVersion, clickId);
  if (click.bot) return organic('bot_click', rulesVersion, clickId);
  if (click.geoBlocked) return organic('geo_blocked_click', rulesVersion, clickId);
  if (registeredAt - click.ts > b.attributionWindowDays * DAY_MS) return organic('expired_click', rulesVersion, clickId);
  return {
    attributed: true, reason: 'click', clickId, affiliateId: click.affiliateId, code: click.code, campaign: click.campaign,
    sub1: click.sub1, clickCountry: click.country, rulesVersion, commissionable: click.commissionable,
  };
}

function credit(c: ClickInfo, weightBp: number): Credit {
  return { clickId: c.clickId, clickTs: c.ts, affiliateId: c.affiliateId, code: c.code, campaign: c.campaign, sub1: c.sub1, weightBp };
}

/** The window a registration's touches must fall in. */
function windowOf(registeredAt: number, b: BrandSettings): TouchWindow {
  return { since: registeredAt - b.attributionWindowDays * DAY_MS, until: registeredAt };
}

/**
 * The binding and the credits a resolution gives a registration under `rule`. Last click binds the
 * quoted click, whole. The other models weigh the visitor's touches and bind the heaviest (ties:
 * the latest); with no valid touch the player is organic, for the quoted click's own reason.
 */
export function attribute(
  brandId: string,
  registeredAt: number,
  rule: BrandRule,
  msg: Extract<PlayerMessage, { type: 'ClickResolved' }>,
  b: BrandSettings,
): { attribution: Attribution; credits: Credit[] } {
  const quoted = attributionFor(brandId, registeredAt, msg.clickId, msg.click, b, rule.version);
  if (rule.model === 'last_click' || !msg.click) return { attribution: quoted, credits: msg.click && quoted.attributed ? [credit(msg.click, FULL_WEIGHT)] : [] };
  const touches = selectTouches(brandId, windowOf(registeredAt, b), msg.click, msg.touches);
  if (touches.length === 0) return { attribution: quoted, credits: [] };
  const weights = touchWeights(rule, touches.length);
  const binding = touches[bindingIndex(weights)] as ClickInfo;
  return {
    attribution: attributionFor(brandId, registeredAt, binding.clickId, binding, b, rule.version),
    credits: touches.flatMap((t, i) => ((weights[i] as number) > 0 ? [credit(t, weights[i] as number)] : [])),
  };
}

/** The resolution a player waits for (asked again by a restarted worker), or null when it waits for none. */
export function pendingResolution(s: PlayerState, b: BrandSettings): Extract<PlayerEffect, { type: 'ResolveClick' }> | null {
  if (s.awaiting === null) return null;
  const rule = s.rule ?? LEGACY_RULE;
  const touches = rule.model === 'last_click' ? null : windowOf(s.registeredAt as number, b);
  return { type: 'ResolveClick', clickId: s.awaiting, playerKey: s.key, brandId: s.brandId, touches };
}

/** A player's credits; players bound before credits existed were bound by last click: their click, whole. */
export function creditsOf(s: PlayerState): Credit[] {
  if (s.credits) return s.credits;
  const a = s.attribution;
  s.credits = a?.attributed ? [{ clickId: a.clickId, clickTs: 0, affiliateId: a.affiliateId, code: a.code, campaign: a.campaign, sub1: a.sub1, weightBp: FULL_WEIGHT }] : [];
  return s.credits;
}

const m = (s: string): Money => parseMoney(s) as Money;
// Percentages have at most 2 decimals (validated in the catalog), so /100 stays exact in 4 places.
const pct = (s: string): Money => m(s) / 100n;

/** Revenue components of an event under the brand's NGR settings. */
export function revenueOf(e: PlayerEvent, b: BrandSettings): Revenue {
  let ggr = 0n;
  let bonusCost = 0n;
  let chargeback = 0n;
  let fees = 0n;
  let tax = 0n;
  if (e.type === 'bet') {
    ggr = m(e.amount) - m(e.win);
    tax = multiply(ggr, pct(b.gamingTaxPct));
  } else if (e.type === 'deposit') {
    fees = multiply(m(e.amount), pct(b.paymentFeePct));
  } else if (e.type === 'bonus' && e.bonusAction === 'converted') {
    bonusCost = m(e.amount);
  } else if (e.type === 'chargeback') {
    chargeback = m(e.amount);
  }
  const ngr = ggr - bonusCost - chargeback - fees - tax;
  const t = toDecimalText;
  return { ggr: t(ggr), bonusCost: t(bonusCost), chargeback: t(chargeback), fees: t(fees), tax: t(tax), ngr: t(ngr) };
}

/** Bonus abuse when the watched deadline has passed by `at`: hold (or flag) once. */
function checkBonusAbuse(s: PlayerState, at: number, b: BrandSettings): PlayerEffect[] {
  const watch = s.bonusWatch;
  if (!watch || at < watch.deadline) return [];
  s.bonusWatch = null;
  const rule = b.fraud.bonusAbuse;
  const id = alertId('bonus_abuse', s.key, watch.eventId);
  const a = s.attribution;
  const held: PlayerEffect[] = [];
  if (rule.action === 'hold_commission') {
    s.hold = { rule: 'bonus_abuse', since: watch.deadline, alertId: id };
    if (a?.attributed) held.push({ type: 'Forward', actor: 'commission', key: a.affiliateId, message: { type: 'PlayerHeld', brandId: s.brandId, playerId: s.playerId, alertId: id, at: watch.deadline } });
  }
  const alert: FraudAlert = {
    id, ts: watch.deadline, brand_id: s.brandId, affiliate_id: a?.affiliateId ?? '', sub_id: a?.sub1 ?? '', player_id: s.playerId,
    rule: 'bonus_abuse', action: rule.action, score: 85,
    evidence: { bonus_event_id: watch.eventId, no_bet_hours: rule.noBetHours },
  };
  return [{ type: 'AlertRaised', alert }, ...held];
}

/** Start or end the bonus-abuse watch for an applied event. */
function watchBonus(s: PlayerState, e: PlayerEvent, b: BrandSettings): void {
  if (e.type === 'bet') s.bonusWatch = null;
  const rule = b.fraud.bonusAbuse;
  if (rule.enabled && e.type === 'bonus' && e.bonusAction === 'granted' && e.maxBonus && s.ftdEventId !== null && !s.bonusWatch && !s.hold) {
    s.bonusWatch = { deadline: e.ts + rule.noBetHours * HOUR_MS, eventId: e.eventId };
  }
}

/** What the affiliate and identity actors are told about an attributed event. */
function forwards(s: PlayerState, e: PlayerEvent, a: Attribution, isFtd: boolean): PlayerForward[] {
  if (!a.attributed) return [];
  const base = { brandId: s.brandId, affiliateId: a.affiliateId, sub1: a.sub1, playerId: s.playerId, eventId: e.eventId, ts: e.ts, ip: e.ip, amount: '' };
  const toAffiliate = (message: AffiliateMessage): PlayerForward => ({ type: 'Forward', actor: 'affiliate', key: a.affiliateId, message });
  if (e.type === 'registration') {
    const shared = (kind: 'ip' | 'device', value: string): PlayerForward => ({
      type: 'Forward', actor: 'identity', key: identityKey(s.brandId, kind, value),
      message: {
        type: 'RegistrationShared', identifier: { brandId: s.brandId, kind, value },
        reg: { affiliateId: a.affiliateId, sub1: a.sub1, playerId: s.playerId, ts: e.ts, eventId: e.eventId },
      },
    });
    return [
      toAffiliate({ type: 'RegistrationAttributed', reg: base }),
      ...(e.ip ? [shared('ip', e.ip)] : []),
      ...(e.deviceId ? [shared('device', e.deviceId)] : []),
    ];
  }
  if (isFtd) return [toAffiliate({ type: 'FtdAttributed', ftd: { ...base, amount: e.amount } })];
  if (e.type === 'chargeback') return [toAffiliate({ type: 'ChargebackAttributed', chargeback: base })];
  return [];
}

/**
 * What the affiliate's commission actor is told of every applied event of an attributed player:
 * the facts CPA qualification and RevShare need, in the player's order (docs/commissions.md).
 */
function activity(s: PlayerState, e: PlayerEvent, a: Attribution, isFtd: boolean, revenue: Revenue): PlayerForward {
  return {
    type: 'Forward', actor: 'commission', key: a.affiliateId,
    message: {
      type: 'PlayerActivity',
      activity: {
        brandId: s.brandId, affiliateId: a.affiliateId, playerId: s.playerId, eventId: e.eventId, eventType: e.type, ts: e.ts,
        clickId: a.clickId, sub1: a.sub1, registeredAt: s.registeredAt as number, country: s.country || a.clickCountry, kyc: s.kyc,
        amount: e.amount || '0.0000', isFtd, revenue, depositId: e.depositId, commissionable: a.commissionable, hold: s.hold?.alertId ?? null,
      },
    },
  };
}

function apply(s: PlayerState, e: PlayerEvent, b: BrandSettings): PlayerEffect[] {
  const out = checkBonusAbuse(s, e.ts, b);
  const attribution = s.attribution as Attribution;
  let isFtd = false;
  if (e.type === 'deposit' && s.ftdEventId === null) {
    s.ftdEventId = e.eventId;
    isFtd = true;
  }
  if (e.type === 'kyc') s.kyc = e.kycStatus;
  watchBonus(s, e, b);
  const revenue = revenueOf(e, b);
  out.push({
    type: 'EventApplied', event: e, attribution, credits: creditsOf(s), isFtd, revenue,
    fraudScore: e.type === 'registration' ? s.registrationScore : 0,
    commissionable: attribution.attributed && attribution.commissionable && s.hold === null,
  });
  out.push(...forwards(s, e, attribution, isFtd));
  if (attribution.attributed) out.push(activity(s, e, attribution, isFtd, revenue));
  return out;
}

function flushPending(s: PlayerState, b: BrandSettings): PlayerEffect[] {
  const out = s.pending.flatMap((e) => apply(s, e, b));
  s.pending = [];
  return out;
}

/**
 * Handle one message: update `state` in place, return the effects. `rule` is the attribution rule
 * of the player's brand in force at this message's place in the partition's input; a registration
 * keeps it for its attribution.
 */
export function handlePlayer(s: PlayerState, msg: PlayerMessage, b: BrandSettings, rule: BrandRule): PlayerEffect[] {
  if (msg.type === 'TimePassed') return checkBonusAbuse(s, msg.at, b);
  if (msg.type === 'ClickResolved') {
    if (s.awaiting !== msg.clickId) return [];
    s.awaiting = null;
    const made = attribute(s.brandId, s.registeredAt as number, s.rule ?? LEGACY_RULE, msg, b);
    s.attribution = made.attribution;
    s.credits = made.credits;
    const reg = s.pending[0] as PlayerEvent;
    const c = msg.click;
    s.registrationScore = registrationScore({
      clickScore: c ? c.fraudScore : null,
      sinceClickMs: c ? reg.ts - c.ts : 0,
      ipChanged: Boolean(c && c.ip && reg.ip && c.ip !== reg.ip),
      countryChanged: Boolean(c && c.country && reg.country && c.country !== reg.country),
    });
    return flushPending(s, b);
  }
  const e = msg.event;
  if (e.type === 'registration') {
    // One registration per player: the first binds for life, a later one changes nothing.
    if (s.registeredAt !== null) return [];
    s.registeredAt = e.ts;
    s.country = e.country;
    s.rule = rule;
    s.pending.unshift(e);
    if (e.clickId) {
      s.awaiting = e.clickId;
      return [pendingResolution(s, b) as PlayerEffect];
    }
    s.attribution = organic('no_click', rule.version);
    s.credits = [];
    return flushPending(s, b);
  }
  if (s.attribution === null) {
    s.pending.push(e);
    return [];
  }
  return apply(s, e, b);
}
