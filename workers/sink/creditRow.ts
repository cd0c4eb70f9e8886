/**
 * Attribution credits (migrations/004_visitor_attribution.sql): each touch's share of a player.
 *
 * - `attribution_credits`: one row per credited touch, written once, with the registration that
 *   bound the player — who shares the player, by how much (basis points), under which rules.
 * - Every applied event of an attributed player is shared out between its credits: counts in basis
 *   points, money by {@link splitByWeights} (exact to 0.0001, the parts summing to the event's
 *   amount). These parts are summed per minute into `credit_minutes` (workers/sink/aggregates.ts)
 *   and never stored one by one: a bet of a player with twenty touches would be twenty rows.
 */
import { parseMoney, splitByWeights, type Money } from '../../schema/money.ts';
import type { PlayerEffect, PlayerState } from '../actors/player.ts';
import type { StreamPosition } from './clickRow.ts';

type Applied = Extract<PlayerEffect, { type: 'EventApplied' }>;

/** One row of `attribution_credits`. */
export interface CreditRow {
  partition: number;
  seq: number;
  idx: number;
  brand_id: string;
  player_id: string;
  player_uuid: string;
  registered_at: number;
  registration_id: string;
  click_id: string;
  click_ts: number;
  affiliate_id: string;
  code: string;
  campaign: string;
  sub1: string;
  weight_bp: number;
  /** 1 for the touch the player is bound to. */
  binding: number;
  rules_version: string;
}

/** One touch's share of one applied event. */
export interface CreditPart {
  /** The event's time, seconds. */
  ts: number;
  brand_id: string;
  affiliate_id: string;
  sub1: string;
  campaign: string;
  rules_version: string;
  registrations_bp: number;
  ftds_bp: number;
  ftd_amount: Money;
  deposit_amount: Money;
  ngr: Money;
}

/** The credit rows a registration's application writes (none for an organic player or another event). */
export function creditRows(e: Applied, player: PlayerState, at: Omit<StreamPosition, 'edge' | 'batchSeq'>): CreditRow[] {
  if (e.event.type !== 'registration') return [];
  return e.credits.map((c, i) => ({
    partition: at.partition, seq: at.seq, idx: at.idx + i,
    brand_id: e.event.brandId, player_id: e.event.playerId, player_uuid: player.uuid, registered_at: Math.floor(e.event.ts / 1000), registration_id: e.event.eventId,
    click_id: c.clickId, click_ts: Math.floor(c.clickTs / 1000), affiliate_id: c.affiliateId, code: c.code, campaign: c.campaign, sub1: c.sub1,
    weight_bp: c.weightBp, binding: c.clickId === e.attribution.clickId ? 1 : 0, rules_version: e.attribution.rulesVersion,
  }));
}

/** Each credit's share of an applied event; none when the event moves nothing a credit report counts. */
export function creditParts(e: Applied): CreditPart[] {
  const ev = e.event;
  const isRegistration = ev.type === 'registration';
  const deposit = ev.type === 'deposit' ? (parseMoney(ev.amount) as Money) : 0n;
  const ngr = parseMoney(e.revenue.ngr) as Money;
  if (e.credits.length === 0 || (!isRegistration && deposit === 0n && ngr === 0n)) return [];
  const weights = e.credits.map((c) => c.weightBp);
  const deposits = splitByWeights(deposit, weights);
  const ngrs = splitByWeights(ngr, weights);
  const ts = Math.floor(ev.ts / 1000);
  return e.credits.map((c, i) => ({
    ts, brand_id: ev.brandId, affiliate_id: c.affiliateId, sub1: c.sub1, campaign: c.campaign, rules_version: e.attribution.rulesVersion,
    registrations_bp: isRegistration ? c.weightBp : 0, ftds_bp: e.isFtd ? c.weightBp : 0,
    ftd_amount: e.isFtd ? (deposits[i] as Money) : 0n, deposit_amount: deposits[i] as Money, ngr: ngrs[i] as Money,
  }));
}
