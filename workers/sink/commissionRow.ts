/**
 * The commission tables' rows (migrations/006_commissions.sql):
 *
 * - `commission_ledger`: one row per change of a line (workers/actors/commission.ts `LineChanged`),
 *   the line as that change leaves it, tagged with its stream position like the raw logs so the
 *   landed-rows check keeps a replay from writing it twice;
 * - `revshare_accruals`: an open RevShare period's running figures per plan version, the latest
 *   version of an id winning.
 *
 * Money columns are decimal text, which ClickHouse parses exactly. Times are DateTime seconds plus a milliseconds column.
 */
import type { CommissionLine, RevshareAccrual } from '../actors/commission.ts';
import type { StreamPosition } from './clickRow.ts';

/** One row of `commission_ledger`. */
export type LedgerRow = {
  partition: number;
  seq: number;
  idx: number;
  id: string;
  version: number;
  brand_id: string;
  affiliate_id: string;
  player_id: string;
  kind: string;
  period: string;
  amount: string;
  currency: string;
  status: string;
  reason: string;
  plan_version: string;
  plan_id: string;
  plan_version_no: number;
  source_event_id: string;
  created_at: number;
  created_at_ms: number;
  updated_at: number;
  updated_at_ms: number;
  at: number;
  at_ms: number;
  hold_until: number;
  hold_until_ms: number;
  changed_by: string;
  click_id: string;
  sub1: string;
  reversal_of: string;
  ngr: string;
  carry_in: string;
  carry_out: string;
  pct: string;
  reference: string;
};

/** One row of `revshare_accruals`. */
export type AccrualRow = {
  id: string;
  version: number;
  brand_id: string;
  affiliate_id: string;
  period: string;
  plan_version: string;
  plan_id: string;
  plan_version_no: number;
  currency: string;
  ngr: string;
  held_ngr: string;
  ftds: number;
  pct: string;
  amount: string;
  carry_in: string;
  closed: number;
  at: number;
  at_ms: number;
};

const seconds = (ms: number): number => Math.floor(ms / 1000);
const millis = (ms: number): number => ms - Math.floor(ms / 1000) * 1000;

/** The ledger row of a line's change, at stream position `at`. */
export function ledgerRow(line: CommissionLine, at: Omit<StreamPosition, 'edge' | 'batchSeq'>): LedgerRow {
  return {
    partition: at.partition, seq: at.seq, idx: at.idx,
    id: line.id, version: line.version, brand_id: line.brandId, affiliate_id: line.affiliateId, player_id: line.playerId, kind: line.kind,
    period: line.period, amount: line.amount, currency: line.currency, status: line.status, reason: line.reason,
    plan_version: line.planVersion, plan_id: line.planId, plan_version_no: line.planVersionNo, source_event_id: line.sourceEventId,
    created_at: seconds(line.createdAtMs), created_at_ms: millis(line.createdAtMs), updated_at: seconds(line.updatedAtMs), updated_at_ms: millis(line.updatedAtMs),
    at: seconds(line.at), at_ms: millis(line.at), hold_until: seconds(line.holdUntil), hold_until_ms: millis(line.holdUntil),
    changed_by: line.by, click_id: line.clickId, sub1: line.sub1, reversal_of: line.reversalOf,
    ngr: line.ngr, carry_in: line.carryIn, carry_out: line.carryOut, pct: line.pct, reference: line.reference,
  };
}

/** The `revshare_accruals` row of an accrual; `version` orders the rows of one id (the stream sequence of the message). */
export function accrualRow(a: RevshareAccrual, version: number): AccrualRow {
  return {
    id: a.id, version, brand_id: a.brandId, affiliate_id: a.affiliateId, period: a.period, plan_version: a.planVersion, plan_id: a.planId,
    plan_version_no: a.planVersionNo, currency: a.currency, ngr: a.ngr, held_ngr: a.heldNgr, ftds: a.ftds, pct: a.pct, amount: a.amount,
    carry_in: a.carryIn, closed: a.closed ? 1 : 0, at: seconds(a.at), at_ms: millis(a.at),
  };
}
