import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeClickBatch, WireError, type ClickRecorded } from '../../schema/wire.ts';

const c: ClickRecorded = {
  clickId: '01a1fb40-0efa-78a7-b23e-632c6d65b1ce', ts: 1_795_000_000_123, code: 'l1', brandId: 'b', affiliateId: 'a', campaign: 'c',
  subs: ['ü', '', '', '', '', '', '', '', '', 'x'], ip: '2001:db8::1', country: 'DE', userAgent: 'ua', referer: 'https://r', flags: 3, affiliateStatus: 'paused',
};

describe('partition wire format', () => {
  it('round-trips a click batch', () => {
    expect(decodeBatch(encodeClickBatch('edge-1', 42, [c, { ...c, clickId: 'z' }]))).toEqual({ kind: 'clicks', edge: 'edge-1', seq: 42, clicks: [c, { ...c, clickId: 'z' }] });
  });

  it('rejects malformed messages with a typed error', () => {
    const bad = [
      new Uint8Array([0xc1]),
      new Uint8Array([]),
      encode({ kind: 'clicks' }),
      encode(['clicks', 'e', 1, [[1, 2, 3]]]),
      encode(['clicks', 'e', 1, [['id', 1, 'l', 'b', 'a', 'c', ['x'], 'ip', 'DE', 'ua', 'r', 0, 'active']]]),
      encode(['clicks', 'e', 1, [['id', 1, 'l', 'b', 'a', 'c', new Array(10).fill(''), 'ip', 'DE', 'ua', 'r', 0, 'gone']]]),
      encode(['other', 'e', 1, []]),
    ];
    for (const b of bad) {
      expect(() => decodeBatch(b)).toThrow(WireError);
    }
  });
});
