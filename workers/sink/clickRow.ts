/**
 * The raw click log's row (schema/clickhouse/migrations/001_clicks.sql), built from a counted
 * click plus where it sits in the partition stream: `(partition, seq, idx)` is the row's identity
 * and the worker's resume point.
 */
import { ClickFlag, type ClickRecorded } from '../../schema/wire.ts';
import type { ClickInfo } from '../../schema/eventWire.ts';

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
  fraud_score: number;
  flagged: number;
  /** `active`, or `paused` / `blocked` by the fraud engine. */
  sub_status: string;
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

/** What the affiliate actor decided about a click. */
export interface ClickVerdict {
  unique: boolean;
  flagged: boolean;
  score: number;
}

const subStatus = (flags: number) => (flags & ClickFlag.SubBlocked ? 'blocked' : flags & ClickFlag.SubPaused ? 'paused' : 'active');

/** The row for a counted click. */
export function clickRow(c: ClickRecorded, v: ClickVerdict, at: StreamPosition): ClickRow {
  const s = c.subs;
  return {
    partition: at.partition, seq: at.seq, idx: at.idx,
    click_id: c.clickId, ts: Math.floor(c.ts / 1000), ts_ms: c.ts % 1000,
    code: c.code, brand_id: c.brandId, affiliate_id: c.affiliateId, campaign: c.campaign,
    sub1: s[0] ?? '', sub2: s[1] ?? '', sub3: s[2] ?? '', sub4: s[3] ?? '', sub5: s[4] ?? '',
    sub6: s[5] ?? '', sub7: s[6] ?? '', sub8: s[7] ?? '', sub9: s[8] ?? '', sub10: s[9] ?? '',
    ip: c.ip, country: c.country, user_agent: c.userAgent, referer: c.referer,
    bot: c.flags & ClickFlag.Bot ? 1 : 0, geo_blocked: c.flags & ClickFlag.GeoBlocked ? 1 : 0,
    is_unique: v.unique ? 1 : 0, affiliate_status: c.affiliateStatus,
    edge: at.edge, batch_seq: at.batchSeq, visitor_id: c.visitorId,
    fraud_score: v.score, flagged: v.flagged ? 1 : 0, sub_status: subStatus(c.flags),
  };
}

/** The columns of a click that attribution reads (`click_lookup` and `visitor_clicks` hold exactly these). */
export type ClickLookupRow = Pick<
  ClickRow,
  | 'click_id' | 'partition' | 'ts' | 'ts_ms' | 'code' | 'brand_id' | 'affiliate_id' | 'campaign' | 'sub1' | 'country' | 'bot' | 'geo_blocked'
  | 'affiliate_status' | 'visitor_id' | 'ip' | 'fraud_score' | 'flagged' | 'sub_status'
>;

/** The columns of {@link ClickLookupRow}, for the queries that read them back. */
export const CLICK_LOOKUP_COLUMNS =
  'click_id, partition, toUInt32(ts) AS ts, ts_ms, code, brand_id, affiliate_id, campaign, sub1, country, bot, geo_blocked, toString(affiliate_status) AS affiliate_status, visitor_id, ip, fraud_score, flagged, sub_status';

/** A click as attribution sees it, from its row (in memory, `click_lookup` or `visitor_clicks`). */
export function clickInfoOf(r: ClickLookupRow): ClickInfo {
  return {
    clickId: r.click_id, ts: Number(r.ts) * 1000 + Number(r.ts_ms), brandId: r.brand_id, affiliateId: r.affiliate_id, code: r.code,
    campaign: r.campaign, sub1: r.sub1, country: r.country, bot: Number(r.bot) === 1, geoBlocked: Number(r.geo_blocked) === 1,
    visitorId: r.visitor_id, ip: r.ip, fraudScore: Number(r.fraud_score), flagged: Number(r.flagged) === 1,
    commissionable: r.affiliate_status === 'active' && r.sub_status === 'active' && Number(r.flagged) === 0,
  };
}
