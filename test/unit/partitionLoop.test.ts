import { describe, expect, it } from 'vitest';
import { PartitionLoop } from '../../workers/runtime/partition.ts';
import type { ClickBatch, ClickRecorded } from '../../schema/wire.ts';

const click = (ip: string): ClickRecorded => ({
  clickId: `c-${ip}`, ts: Date.UTC(2026, 10, 20), code: 'l', brandId: 'b', affiliateId: 'a', campaign: '', subs: new Array(10).fill(''),
  ip, country: '', userAgent: 'ua', referer: '', flags: 0, affiliateStatus: 'active',
});
const batch = (seq: number, ips: string[]): ClickBatch => ({ kind: 'clicks', edge: 'e1', seq, clicks: ips.map(click) });

describe('partition loop', () => {
  it('tags rows with their stream position and skips redeliveries', () => {
    const loop = new PartitionLoop(3, { uniqueDays: 2 });
    const rows = loop.apply(10, batch(1, ['1.1.1.1', '1.1.1.1', '2.2.2.2']));
    expect(rows?.map((r) => [r.partition, r.seq, r.idx, r.is_unique, r.edge, r.batch_seq])).toEqual([
      [3, 10, 0, 1, 'e1', 1],
      [3, 10, 1, 0, 'e1', 1],
      [3, 10, 2, 1, 'e1', 1],
    ]);
    expect(loop.apply(10, batch(1, ['3.3.3.3']))).toBeNull();
    expect(loop.apply(9, batch(1, ['3.3.3.3']))).toBeNull();
    expect(loop.apply(11, batch(2, ['3.3.3.3']))?.[0]?.is_unique).toBe(1);
  });
});
