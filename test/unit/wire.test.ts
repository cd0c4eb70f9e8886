import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { ClickBatchWriter, decodeBatch, encodeClickBatch, WireError, type ClickRecorded } from '../../schema/wire.ts';

const c: ClickRecorded = {
  clickId: '01a1fb40-0efa-78a7-b23e-632c6d65b1ce', ts: 1_795_000_000_123, code: 'l1', brandId: 'b', affiliateId: 'a', campaign: 'c',
  subs: ['ü', '', '', '', '', '', '', '', '', 'x'], ip: '2001:db8::1', country: 'DE', userAgent: 'ua', referer: 'https://r', flags: 3, affiliateStatus: 'paused',
  visitorId: '01a1fb40-0efa-7123-b23e-632c6d65b1cf',
};

const v1Tuple = (x: ClickRecorded) => [x.clickId, x.ts, x.code, x.brandId, x.affiliateId, x.campaign, x.subs, x.ip, x.country, x.userAgent, x.referer, x.flags, x.affiliateStatus];

describe('partition wire format', () => {
  it('round-trips a click batch', () => {
    expect(decodeBatch(encodeClickBatch('edge-1', 42, [c, { ...c, clickId: 'z' }]))).toEqual({ kind: 'clicks', edge: 'edge-1', seq: 42, clicks: [c, { ...c, clickId: 'z' }] });
  });

  it('round-trips every size class of string, number, table and batch', () => {
    const clicks: ClickRecorded[] = Array.from({ length: 70_000 }, (_, i) => ({
      ...c,
      clickId: i % 2 ? `ïd-${i}` : `id-${i}`,
      ts: [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, 1.5, -1][i % 12] as number,
      subs: i < 3 ? [`s${i}`, 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), 'é'.repeat(200), 'w'.repeat(70_000), 'v'.repeat(256), '', '', ''] : [`s${i}`, '', '', '', '', '', '', '', '', ''],
      campaign: `campaign-${i}`,
      userAgent: i % 3 ? 'Mozilla/5.0 ✓' : '',
      referer: i % 5 ? '' : `https://ref/${i % 300}`,
      flags: i % 4,
    }));
    const batch = decodeBatch(encodeClickBatch('edge-ü', 2 ** 40, clicks));
    expect(batch.edge).toBe('edge-ü');
    expect(batch.seq).toBe(2 ** 40);
    expect(batch.clicks).toEqual(clicks);
    // 70,000 clicks compared deeply: seconds on a loaded 2-core machine.
  }, 60_000);

  it('writes each user agent and referer once per batch, and is plain msgpack', () => {
    const w = new ClickBatchWriter();
    w.add(c);
    w.add({ ...c, clickId: 'z', ip: '1.2.3.4' });
    expect(w.count).toBe(2);
    const [tag, edge, seq, strings, tuples] = decode(w.finish('e', 7)) as [string, string, number, string[], unknown[][]];
    expect([tag, edge, seq]).toEqual(['clicks.v3', 'e', 7]);
    expect(strings).toEqual(['ua', 'https://r']);
    expect(tuples[1]).toEqual(['z', c.ts, 'l1', 'b', 'a', 'c', c.subs, '1.2.3.4', 'DE', 0, 1, 3, 'paused', c.visitorId]);
    expect(w.count).toBe(0);
    expect(decodeBatch(w.finish('e', 8)).clicks).toEqual([]);
  });

  it('still reads batches of the earlier layouts (spools and streams of older edges), without visitor ids', () => {
    const old = { ...c, visitorId: '' };
    expect(decodeBatch(encode(['clicks', 'edge-1', 42, [v1Tuple(c)]]))).toEqual({ kind: 'clicks', edge: 'edge-1', seq: 42, clicks: [old] });
    expect(decodeBatch(encode(['clicks.v2', 'edge-1', 43, ['l1'], [[...v1Tuple(c).slice(0, 2), 0, ...v1Tuple(c).slice(3)]]]))).toEqual({ kind: 'clicks', edge: 'edge-1', seq: 43, clicks: [old] });
    // A v2 tuple has no visitor id; a v3 tuple must have one.
    expect(() => decodeBatch(encode(['clicks.v2', 'e', 1, [], [[...v1Tuple(c), c.visitorId]]]))).toThrow(WireError);
    expect(() => decodeBatch(encode(['clicks.v3', 'e', 1, [], [v1Tuple(c)]]))).toThrow(WireError);
  });

  it('rejects malformed messages with a typed error', () => {
    const subs = new Array(10).fill('');
    const bad = [
      new Uint8Array([0xc1]),
      new Uint8Array([]),
      encode({ kind: 'clicks' }),
      encode(['clicks', 'e', 1, [[1, 2, 3]]]),
      encode(['clicks', 'e', 1, [['id', 1, 'l', 'b', 'a', 'c', ['x'], 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks', 'e', 1, [['id', 1, 'l', 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'gone']]]),
      encode(['other', 'e', 1, []]),
      // v1 has no string table: an index is malformed there.
      encode(['clicks', 'e', 1, [['id', 1, 0, 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, ['l'], [['id', 1, 1, 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, ['l'], [['id', 1, -1, 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, ['l'], [['id', 1, 0.5, 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, ['l'], [['id', 1, 0, 'b', 'a', 'c', [...subs.slice(1), 1], 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, ['gone'], [['id', 1, 'l', 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 0]]]),
      encode(['clicks.v2', 'e', 1, ['l', 2], [['id', 1, 0, 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, 'l', [['id', 1, 'l', 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks.v2', 'e', 1, [], {}]),
      encode(['clicks.v2', 'e', 1, [], [['id', 1, 'l', 'b', 'a', 'c', subs, 'ip', 'DE', 'ua', 'r', 0, 'active'], 'x']]),
      encode(['clicks.v2', 'e', 1, []]),
      encodeClickBatch('e', 1, [c]).subarray(0, 40),
    ];
    for (const b of bad) {
      expect(() => decodeBatch(b)).toThrow(WireError);
    }
  });
});
