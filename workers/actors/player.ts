/**
 * The player actor: one per `brand:player_id`, in the partition `shard(brand:player_id)` picks
 * (SPEC §9). It binds the player to an affiliate (SPEC §6), detects the FTD, keeps the KYC
 * status, and turns every event into its revenue components (SPEC §8 NGR), exactly.
 *
 * Attribution is last click: a registration quoting a click id asks the host to resolve the click
 * ({@link ResolveClick}); the answer comes back through the partition's own ordered input
 * ({@link ClickResolved}), so a replay sees it at the same place. Until the binding is known —
 * and for events that arrive before the registration — events wait in `pending` and are applied,
 * in their order, once it is; nothing is lost and nothing is applied with the wrong affiliate.
 *
 * Fraud (SPEC §7): every registration gets a fraud score from its click; bonus abuse (a deposit,
 * the maximum bonus, then no bet within the window) holds the player's commission; attributed
 * registrations, FTDs and chargebacks are forwarded to the affiliate's actor and registrations to
 * the actors of their IP and device, which judge them network-wide ({@link Forward}).
 *
 * Deterministic: reads only the state, the message and the brand settings given to it.
 */
import { v5 as uuidv5 } from 'uuid';
import type { FraudAlert, FraudRules } from '../../schema/fraud.ts';
import { alertId } from '../../schema/fraud.ts';
import { registrationScore } from '../fraud/score.ts';
import type { AffiliateMessage } from './affiliate.ts';
import { identityKey, type IdentityMessage } from './identity.ts';
import { multiply, parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import type { PlayerEvent } from '../../schema/events.ts';
import type { ClickInfo } from '../../schema/eventWire.ts';

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
  /** Attribution model and rules version used. */
  rulesVersion: string;
  /**
   * The click's traffic was active (affiliate and sub-ID neither paused nor blocked) and the click
   * not flagged by the click-stream rule: a flagged click still attributes (SPEC §7 only takes it
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

/** Namespace of global player UUIDs (SPEC §6): UUIDv5 of `brand:player_id` under it, stable forever. */
export const PLAYER_UUID_NAMESPACE = '5b0f3a52-6f0e-4c55-9d6c-1f3c2a7e9b41';

/** State of one player actor. */
export interface PlayerState {
  key: string;
  brandId: string;
  playerId: string;
  /** The global player UUID, derived from the key: the same on every node and every replay. */
  uuid: string;
  registeredAt: number | null;
  /** Click id being resolved, while the binding is not known yet. */
  awaiting: string | null;
  attribution: Attribution | null;
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
  | { type: 'ClickResolved'; clickId: string; click: ClickInfo | null }
  /** The partition's clock moved on (a tick): deadlines up to `at` have passed. */
  | { type: 'TimePassed'; at: number };

/** A message for an actor of another partition, sent through that partition's stream. */
export type Forward =
  | { type: 'Forward'; actor: 'affiliate'; key: string; message: AffiliateMessage }
  | { type: 'Forward'; actor: 'identity'; key: string; kind: 'ip' | 'device'; value: string; brandId: string; message: IdentityMessage };

/** Revenue components of one event, decimal text with 4 places (SPEC §8). */
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
  | { type: 'ResolveClick'; clickId: string; playerKey: string; brandId: string }
  | { type: 'EventApplied'; event: PlayerEvent; attribution: Attribution; isFtd: boolean; revenue: Revenue; fraudScore: number; commissionable: boolean }
  | Forward
  | { type: 'AlertRaised'; alert: FraudAlert };

/** The rules version recorded on every attribution made by this handler. */
export const RULES_VERSION = 'last-click@1';

/** A fresh actor for `brand:player`. */
export function initialPlayerState(brandId: string, playerId: string): PlayerState {
  const key = `${brandId}:${playerId}`;
  return {
    key, brandId, playerId, uuid: uuidv5(key, PLAYER_UUID_NAMESPACE), registeredAt: null, awaiting: null, attribution: null, kyc: '', ftdEventId: null, pending: [],
    registrationScore: 0, bonusWatch: null, hold: null,
  };
}

function organic(reason: AttributionReason, clickId = ''): Attribution {
  return { attributed: false, reason, clickId, affiliateId: '', code: '', campaign: '', sub1: '', clickCountry: '', rulesVersion: RULES_VERSION, commissionable: false };
}

/** The binding a resolved click gives a registration made at `registeredAt`. */
export function attributionFor(brandId: string, registeredAt: number, clickId: string, click: ClickInfo | null, b: BrandSettings): Attribution {
  if (!click) return organic('unknown_click', clickId);
  if (click.brandId !== brandId) return organic('other_brand_click', clickId);
  if (click.bot) return organic('bot_click', clickId);
  if (click.geoBlocked) return organic('geo_blocked_click', clickId);
  if (registeredAt - click.ts > b.attributionWindowDays * DAY_MS) return organic('expired_click', clickId);
  return {
    attributed: true, reason: 'click', clickId, affiliateId: click.affiliateId, code: click.code, campaign: click.campaign,
    sub1: click.sub1, clickCountry: click.country, rulesVersion: RULES_VERSION, commissionable: click.commissionable,
  };
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
  if (rule.action === 'hold_commission') s.hold = { rule: 'bonus_abuse', since: watch.deadline, alertId: id };
  const a = s.attribution;
  const alert: FraudAlert = {
    id, ts: watch.deadline, brand_id: s.brandId, affiliate_id: a?.affiliateId ?? '', sub_id: a?.sub1 ?? '', player_id: s.playerId,
    rule: 'bonus_abuse', action: rule.action, score: 85,
    evidence: { bonus_event_id: watch.eventId, no_bet_hours: rule.noBetHours },
  };
  return [{ type: 'AlertRaised', alert }];
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
function forwards(s: PlayerState, e: PlayerEvent, a: Attribution, isFtd: boolean): Forward[] {
  if (!a.attributed) return [];
  const base = { brandId: s.brandId, affiliateId: a.affiliateId, sub1: a.sub1, playerId: s.playerId, eventId: e.eventId, ts: e.ts, ip: e.ip, amount: '' };
  const toAffiliate = (message: AffiliateMessage): Forward => ({ type: 'Forward', actor: 'affiliate', key: a.affiliateId, message });
  if (e.type === 'registration') {
    const shared = (kind: 'ip' | 'device', value: string): Forward => ({
      type: 'Forward', actor: 'identity', key: identityKey(s.brandId, kind, value), kind, value, brandId: s.brandId,
      message: { type: 'RegistrationShared', reg: { affiliateId: a.affiliateId, sub1: a.sub1, playerId: s.playerId, ts: e.ts, eventId: e.eventId } },
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
  out.push({
    type: 'EventApplied', event: e, attribution, isFtd, revenue: revenueOf(e, b),
    fraudScore: e.type === 'registration' ? s.registrationScore : 0,
    commissionable: attribution.attributed && attribution.commissionable && s.hold === null,
  });
  out.push(...forwards(s, e, attribution, isFtd));
  return out;
}

function flushPending(s: PlayerState, b: BrandSettings): PlayerEffect[] {
  const out = s.pending.flatMap((e) => apply(s, e, b));
  s.pending = [];
  return out;
}

/** Handle one message: update `state` in place, return the effects. */
export function handlePlayer(s: PlayerState, msg: PlayerMessage, b: BrandSettings): PlayerEffect[] {
  if (msg.type === 'TimePassed') return checkBonusAbuse(s, msg.at, b);
  if (msg.type === 'ClickResolved') {
    if (s.awaiting !== msg.clickId) return [];
    s.awaiting = null;
    s.attribution = attributionFor(s.brandId, s.registeredAt as number, msg.clickId, msg.click, b);
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
    s.pending.unshift(e);
    if (e.clickId) {
      s.awaiting = e.clickId;
      return [{ type: 'ResolveClick', clickId: e.clickId, playerKey: s.key, brandId: s.brandId }];
    }
    s.attribution = organic('no_click');
    return flushPending(s, b);
  }
  if (s.attribution === null) {
    s.pending.push(e);
    return [];
  }
  return apply(s, e, b);
}
