/**
 * What the ClickHouse sink writes (TabSeparated, workers/sink/tsv.ts) is what ClickHouse stores,
 * byte for byte, against the suite's real server: text with the characters the format escapes,
 * JSON with escaped quotes, non-ASCII, decimals and times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseSink } from '../../workers/sink/clickhouseSink.ts';
import { clickRow } from '../../workers/sink/clickRow.ts';
import { noRawRows } from '../../workers/sink/tables.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import { migrate } from '../../schema/clickhouse/migrate.ts';
import type { ClickRecorded } from '../../schema/wire.ts';
import { TestCluster } from './cluster.ts';

const cluster = new TestCluster('sinkenc');
const ch = clickhouse(cluster.cfg);
const NASTY = 'tab\there, newline\nthere, cr\r, backslash \\ and \\t literally, "quotes", Zoë 東京 🎰';
const STATE = JSON.stringify({ note: NASTY, nested: { path: 'C:\\dir\\file', n: 1 } });
const sink = new ClickHouseSink(ch, () => ({ fraud: () => [{ partition: 7, key: 'a:aff1', seq: 3, state: STATE }] }), {
  flushed: () => undefined,
  failed: () => undefined,
  boundary: () => null,
  beforeWrite: async () => undefined,
  committed: async () => undefined,
});

const click: ClickRecorded = {
  clickId: '0190a3b4-1234-7678-9abc-def012345678', ts: 1_764_800_123_456, code: 'L1', brandId: 'b1', affiliateId: 'aff1', campaign: 'spring\tsale',
  subs: ['s\\1', '', 'three'], ip: '10.0.0.1', country: 'DE', userAgent: NASTY, referer: 'https://ref.example/?q=a\tb', flags: 0,
  affiliateStatus: 'active', visitorId: '0190a3b4-1234-7678-9abc-def0123456aa',
};

beforeAll(async () => {
  await migrate(cluster.cfg);
}, 120_000);

afterAll(async () => {
  await ch.close();
  await cluster.teardown();
});

describe('ClickHouse sink encoding', () => {
  it('stores escaped text, JSON, non-ASCII and times exactly as the rows held them', async () => {
    const raw = noRawRows();
    raw.clicks.push(clickRow(click, { unique: true, flagged: false, score: 0 }, { partition: 7, seq: 3, idx: 0, edge: 'edge\\1', batchSeq: 9 }));
    raw.fraud_alerts.push({
      partition: 7, seq: 3, id: 'al-1', ts: 1_764_800_123, ts_ms: 456, brand_id: 'b1', affiliate_id: 'aff1', sub_id: 's\\1', player_id: 'p\t1',
      rule: 'ip_registrations', action: 'pause', score: 90, evidence: JSON.stringify({ ua: NASTY }),
    });
    sink.push({ partition: 7, seq: 3, raw, creditParts: [] });
    sink.delivered({ consumer: 'part-7', partitions: [7], seq: 3, count: 1, ack: () => undefined });
    await sink.flush();

    const [c] = await cluster.query<Record<string, string | number>>(
      `SELECT user_agent, referer, campaign, sub1, sub2, sub3, edge, toUInt32(ts) AS ts, ts_ms, visitor_id FROM clicks`,
    );
    expect(c).toEqual({ user_agent: NASTY, referer: click.referer, campaign: 'spring\tsale', sub1: 's\\1', sub2: '', sub3: 'three', edge: 'edge\\1', ts: 1_764_800_123, ts_ms: 456, visitor_id: click.visitorId });
    const lookups = await cluster.query<{ campaign: string; sub1: string }>(`SELECT campaign, sub1 FROM click_lookup UNION ALL SELECT campaign, sub1 FROM visitor_clicks`);
    expect(lookups).toEqual([{ campaign: 'spring\tsale', sub1: 's\\1' }, { campaign: 'spring\tsale', sub1: 's\\1' }]);
    const [a] = await cluster.query<{ player_id: string; evidence: string }>(`SELECT player_id, evidence FROM fraud_alerts`);
    expect(a).toEqual({ player_id: 'p\t1', evidence: JSON.stringify({ ua: NASTY }) });
    expect(JSON.parse((a as { evidence: string }).evidence)).toEqual({ ua: NASTY });
    const [f] = await cluster.query<{ state: string }>(`SELECT state FROM fraud_state WHERE partition = 7 AND key = 'a:aff1'`);
    expect(f?.state).toBe(STATE);
    const minutes = await cluster.query<{ clicks: number; campaign: string }>(`SELECT toUInt32(sum(clicks)) AS clicks, campaign FROM click_minutes GROUP BY campaign`);
    expect(minutes).toEqual([{ clicks: 1, campaign: 'spring\tsale' }]);
  });
});
