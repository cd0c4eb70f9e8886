/**
 * The raw click log's row (schema/clickhouse/migrations/001_clicks.sql), built from a counted
 * click plus where it sits in the partition stream: `(partition, seq, idx)` is the row's identity
 * and the worker's resume point.
 */
import { ClickFlag, type ClickRecorded } from '../../schema/wire.ts';

/** One row of `clicks`. */
export interface ClickRow {
  partition: number;
  seq: number;
  idx: number;
  click_id: string;
  ts: number;
  ts_ms: number;
  code: string;
  brand_id: string;
  affiliate_id: string;
  campaign: string;
  sub1: string; sub2: string; sub3: string; sub4: string; sub5: string;
  sub6: string; sub7: string; sub8: string; sub9: string; sub10: string;
  ip: string;
  country: string;
  user_agent: string;
  referer: string;
  bot: number;
  geo_blocked: number;
  is_unique: number;
  affiliate_status: string;
  edge: string;
  batch_seq: number;
  /** The visitor cookie ('' for clicks recorded before visitor ids). */
  visitor_id: string;
}

/** Where a click came from on the stream. */
export interface StreamPosition {
  partition: number;
  seq: number;
  idx: number;
  edge: string;
  batchSeq: number;
}

/** The row for a counted click. */
export function clickRow(c: ClickRecorded, unique: boolean, at: StreamPosition): ClickRow {
  const s = c.subs;
  return {
    partition: at.partition, seq: at.seq, idx: at.idx,
    click_id: c.clickId, ts: Math.floor(c.ts / 1000), ts_ms: c.ts % 1000,
    code: c.code, brand_id: c.brandId, affiliate_id: c.affiliateId, campaign: c.campaign,
    sub1: s[0] ?? '', sub2: s[1] ?? '', sub3: s[2] ?? '', sub4: s[3] ?? '', sub5: s[4] ?? '',
    sub6: s[5] ?? '', sub7: s[6] ?? '', sub8: s[7] ?? '', sub9: s[8] ?? '', sub10: s[9] ?? '',
    ip: c.ip, country: c.country, user_agent: c.userAgent, referer: c.referer,
    bot: c.flags & ClickFlag.Bot ? 1 : 0, geo_blocked: c.flags & ClickFlag.GeoBlocked ? 1 : 0,
    is_unique: unique ? 1 : 0, affiliate_status: c.affiliateStatus,
    edge: at.edge, batch_seq: at.batchSeq, visitor_id: c.visitorId,
  };
}
