/** The `fraud_alerts` row (migrations/005_fraud.sql) of an alert, tagged with where it fired on the stream. */
import type { FraudAlert } from '../../schema/fraud.ts';

/** One row of `fraud_alerts`. */
export interface AlertRow {
  partition: number;
  seq: number;
  id: string;
  ts: number;
  ts_ms: number;
  brand_id: string;
  affiliate_id: string;
  sub_id: string;
  player_id: string;
  rule: string;
  action: string;
  score: number;
  evidence: string;
}

/** The row of `a`, raised by the message at `seq` of `partition`. */
export function alertRow(a: FraudAlert, at: { partition: number; seq: number }): AlertRow {
  return {
    partition: at.partition, seq: at.seq, id: a.id, ts: Math.floor(a.ts / 1000), ts_ms: a.ts % 1000,
    brand_id: a.brand_id, affiliate_id: a.affiliate_id, sub_id: a.sub_id, player_id: a.player_id,
    rule: a.rule, action: a.action, score: a.score, evidence: JSON.stringify(a.evidence),
  };
}
