/**
 * The raw event log's row (migrations/002_player_events.sql) for an applied event: the event, the
 * player's binding at that moment, the FTD flag and the revenue components. Money fields are
 * decimal text, which ClickHouse parses exactly.
 */
import type { PlayerEffect, PlayerState } from '../actors/player.ts';
import type { StreamPosition } from './clickRow.ts';

/** One row of `events`. */
export type EventRow = Record<string, string | number>;

/** The row for an applied event. */
export function eventRow(e: Extract<PlayerEffect, { type: 'EventApplied' }>, player: PlayerState, at: Omit<StreamPosition, 'edge' | 'batchSeq'>): EventRow {
  const ev = e.event;
  const a = e.attribution;
  return {
    partition: at.partition, seq: at.seq, idx: at.idx,
    event_id: ev.eventId, type: ev.type, ts: Math.floor(ev.ts / 1000), ts_ms: ev.ts % 1000,
    brand_id: ev.brandId, player_id: ev.playerId, player_uuid: player.uuid, source: ev.source,
    ip: ev.ip, country: ev.country, device_id: ev.deviceId,
    affiliate_id: a.affiliateId, click_id: a.clickId, code: a.code, campaign: a.campaign, sub1: a.sub1, click_country: a.clickCountry,
    attribution: a.reason, rules_version: a.rulesVersion,
    kyc_status: ev.kycStatus, is_ftd: e.isFtd ? 1 : 0,
    amount: ev.amount, win: ev.win, currency: ev.currency, original_amount: ev.originalAmount || '0.0000', original_currency: ev.originalCurrency,
    ggr: e.revenue.ggr, bonus_cost: e.revenue.bonusCost, chargeback: e.revenue.chargeback, fees: e.revenue.fees, tax: e.revenue.tax, ngr: e.revenue.ngr,
    game: ev.game, category: ev.category, bonus_action: ev.bonusAction, bonus_id: ev.bonusId, max_bonus: ev.maxBonus ? 1 : 0, deposit_id: ev.depositId,
    fraud_score: e.fraudScore, commissionable: e.commissionable ? 1 : 0,
  };
}
