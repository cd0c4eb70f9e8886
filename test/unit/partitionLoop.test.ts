import { describe, expect, it } from 'vitest';
import { PartitionLoop } from '../../workers/runtime/partition.ts';
import type { ClickBatch, ClickRecorded } from '../../schema/wire.ts';
import { parseEvent } from '../../schema/events.ts';
import type { EventBatch } from '../../schema/eventWire.ts';

const T0 = Date.UTC(2026, 10, 20);
const CLICK = '01a1fb40-0efa-78a7-b23e-632c6d65b1ce';
const brand = () => ({ attributionWindowDays: 30, paymentFeePct: '0', gamingTaxPct: '0' });
const click = (ip: string): ClickRecorded => ({
  clickId: `c-${ip}`, ts: T0, code: 'l', brandId: 'b', affiliateId: 'a', campaign: '', subs: new Array(10).fill(''),
  ip, country: '', userAgent: 'ua', referer: '', flags: 0, affiliateStatus: 'active', visitorId: '',
});
const clicks = (seq: number, ips: string[]) => ({ kind: 'clicks' as const, batch: { kind: 'clicks', edge: 'e1', seq, clicks: ips.map(click) } as ClickBatch });
const events = (raws: Array<Record<string, unknown>>, receivedAt = T0) => ({
  kind: 'events' as const,
  batch: { edge: 'e1', seq: 1, receivedAt, events: raws.map((r) => parseEvent({ player_id: 'p1', ts: T0, ...r }, 'b', 'json', T0 + 1)) } as EventBatch,
});

describe('partition loop', () => {
  it('tags click rows with their stream position and skips redeliveries', () => {
    const loop = new PartitionLoop(3, { uniqueDays: 2 }, brand);
    const out = loop.apply(10, clicks(1, ['1.1.1.1', '1.1.1.1', '2.2.2.2']));
    expect(out?.clicks.map((r) => [r.partition, r.seq, r.idx, r.is_unique, r.edge, r.batch_seq])).toEqual([
      [3, 10, 0, 1, 'e1', 1],
      [3, 10, 1, 0, 'e1', 1],
      [3, 10, 2, 1, 'e1', 1],
    ]);
    expect(loop.apply(10, clicks(1, ['3.3.3.3']))).toBeNull();
    expect(loop.apply(9, clicks(1, ['3.3.3.3']))).toBeNull();
    expect(loop.apply(11, clicks(2, ['3.3.3.3']))?.clicks[0]?.is_unique).toBe(1);
  });

  it('drops an event id seen before, in the same batch or later, and forgets it after the window', () => {
    const loop = new PartitionLoop(0, { uniqueDays: 2 }, brand);
    const a = loop.apply(1, events([{ event_id: 'r1', type: 'registration' }, { event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }, { event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }]));
    expect([a?.events.map((r) => [r.event_id, r.is_ftd]), a?.duplicates]).toEqual([[['r1', 0], ['d1', 1]], 1]);
    expect(loop.apply(2, events([{ event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }]))?.duplicates).toBe(1);
    const later = loop.apply(3, events([{ event_id: 'x', type: 'kyc', status: 'approved' }], T0 + 9 * 86_400_000));
    expect(later?.events).toHaveLength(1);
    expect(loop.seenEvents.has('b\u0000d1')).toBe(false);
  });

  it('asks to resolve a click, then applies the waiting events when the resolution arrives', () => {
    const loop = new PartitionLoop(0, { uniqueDays: 2 }, brand);
    const a = loop.apply(1, events([{ event_id: 'r1', type: 'registration', click_id: CLICK }, { event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }]));
    expect([a?.resolve, a?.events]).toEqual([[{ clickId: CLICK, playerKey: 'b:p1', brandId: 'b', touches: null }], []]);
    const info = { clickId: CLICK, ts: T0 - 1000, brandId: 'b', affiliateId: 'aff', code: 'l', campaign: 'c', sub1: 's', country: 'DE', bot: false, geoBlocked: false, visitorId: '' };
    const b = loop.apply(2, { kind: 'resolved', items: [{ playerKey: 'b:p1', brandId: 'b', clickId: CLICK, click: info, touches: [] }] });
    expect(b?.events.map((r) => [r.event_id, r.affiliate_id, r.seq, r.idx])).toEqual([['r1', 'aff', 2, 0], ['d1', 'aff', 2, 1]]);
    const snaps = loop.takeSnapshots();
    expect(snaps.map((s) => [s.player_key, s.seq])).toEqual([['b:p1', 2]]);
    expect(loop.takeSnapshots()).toEqual([]);
  });
});
