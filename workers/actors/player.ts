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
 * Deterministic: reads only the state, the message and the brand settings given to it.
 */
import { v5 as uuidv5 } from 'uuid';
import { multiply, parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import type { PlayerEvent } from '../../schema/events.ts';
import type { ClickInfo } from '../../schema/eventWire.ts';

export type { ClickInfo };

const DAY_MS = 86_400_000;

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
}

/** Brand settings the handler reads. */
export interface BrandSettings {
  attributionWindowDays: number;
  paymentFeePct: string;
  gamingTaxPct: string;
}

/** Messages a player actor handles. */
export type PlayerMessage = { type: 'EventReceived'; event: PlayerEvent } | { type: 'ClickResolved'; clickId: string; click: ClickInfo | null };

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
  | { type: 'EventApplied'; event: PlayerEvent; attribution: Attribution; isFtd: boolean; revenue: Revenue };

/** The rules version recorded on every attribution made by this handler. */
export const RULES_VERSION = 'last-click@1';

/** A fresh actor for `brand:player`. */
export function initialPlayerState(brandId: string, playerId: string): PlayerState {
  const key = `${brandId}:${playerId}`;
  return { key, brandId, playerId, uuid: uuidv5(key, PLAYER_UUID_NAMESPACE), registeredAt: null, awaiting: null, attribution: null, kyc: '', ftdEventId: null, pending: [] };
}

function organic(reason: AttributionReason, clickId = ''): Attribution {
  return { attributed: false, reason, clickId, affiliateId: '', code: '', campaign: '', sub1: '', clickCountry: '', rulesVersion: RULES_VERSION };
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
    sub1: click.sub1, clickCountry: click.country, rulesVersion: RULES_VERSION,
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

function apply(s: PlayerState, e: PlayerEvent, b: BrandSettings): PlayerEffect {
  const attribution = s.attribution as Attribution;
  let isFtd = false;
  if (e.type === 'deposit' && s.ftdEventId === null) {
    s.ftdEventId = e.eventId;
    isFtd = true;
  }
  if (e.type === 'kyc') s.kyc = e.kycStatus;
  return { type: 'EventApplied', event: e, attribution, isFtd, revenue: revenueOf(e, b) };
}

function flushPending(s: PlayerState, b: BrandSettings): PlayerEffect[] {
  const out = s.pending.map((e) => apply(s, e, b));
  s.pending = [];
  return out;
}

/** Handle one message: update `state` in place, return the effects. */
export function handlePlayer(s: PlayerState, msg: PlayerMessage, b: BrandSettings): PlayerEffect[] {
  if (msg.type === 'ClickResolved') {
    if (s.awaiting !== msg.clickId) return [];
    s.awaiting = null;
    s.attribution = attributionFor(s.brandId, s.registeredAt as number, msg.clickId, msg.click, b);
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
  return [apply(s, e, b)];
}
