import { clickRecorded, partitionSettings } from '../kit/actors.ts';
import { describe, expect, it } from 'vitest';
import { PartitionLoop } from '../../workers/runtime/partition.ts';
import type { ClickBatch, ClickRecorded } from '../../schema/wire.ts';
import { parseEvent } from '../../schema/events.ts';
import { decodeResolutions, encodeResolutions, type ClickInfo, type EventBatch } from '../../schema/eventWire.ts';
import { encode } from '@msgpack/msgpack';
import { parseRules } from '../../schema/attributionRules.ts';

const T0 = Date.UTC(2026, 10, 20);
const CLICK = '01a1fb40-0efa-78a7-b23e-632c6d65b1ce';
const settings = partitionSettings();
const click = (ip: string): ClickRecorded => clickRecorded({ clickId: `c-${ip}`, ts: T0, ip, country: '' });
const clicks = (seq: number, ips: string[]) => ({ kind: 'clicks' as const, batch: { kind: 'clicks', edge: 'e1', seq, clicks: ips.map(click) } as ClickBatch });
const events = (raws: Array<Record<string, unknown>>, receivedAt = T0) => ({
  kind: 'events' as const,
  batch: { edge: 'e1', seq: 1, receivedAt, events: raws.map((r) => parseEvent({ player_id: 'p1', ts: T0, ...r }, 'b', 'json', T0 + 1)) } as EventBatch,
});

describe('partition loop', () => {
  it('tags click rows with their stream position and skips redeliveries', () => {
    const loop = new PartitionLoop(3, settings);
    const out = loop.apply(10, clicks(1, ['1.1.1.1', '1.1.1.1', '2.2.2.2']));
    expect(out?.raw.clicks.map((r) => [r.partition, r.seq, r.idx, r.is_unique, r.edge, r.batch_seq])).toEqual([
      [3, 10, 0, 1, 'e1', 1],
      [3, 10, 1, 0, 'e1', 1],
      [3, 10, 2, 1, 'e1', 1],
    ]);
    expect(loop.apply(10, clicks(1, ['3.3.3.3']))).toBeNull();
    expect(loop.apply(9, clicks(1, ['3.3.3.3']))).toBeNull();
    expect(loop.apply(11, clicks(2, ['3.3.3.3']))?.raw.clicks[0]?.is_unique).toBe(1);
  });

  it('drops an event id seen before, in the same batch or later, and forgets it after the window', () => {
    const loop = new PartitionLoop(0, settings);
    const a = loop.apply(1, events([{ event_id: 'r1', type: 'registration' }, { event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }, { event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }]));
    expect([a?.raw.events.map((r) => [r.event_id, r.is_ftd]), a?.duplicates]).toEqual([[['r1', 0], ['d1', 1]], 1]);
    // Both are conversions, accepted when their batch was received; the duplicate is not one.
    expect(a?.conversions).toEqual([T0, T0]);
    expect(loop.apply(2, events([{ event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }]))?.duplicates).toBe(1);
    const later = loop.apply(3, events([{ event_id: 'x', type: 'kyc', status: 'approved' }], T0 + 9 * 86_400_000));
    expect(later?.raw.events).toHaveLength(1);
    expect(later?.conversions).toEqual([]);
    expect(loop.seenEvents.has('b\u0000d1')).toBe(false);
  });

  it('asks to resolve a click, then applies the waiting events when the resolution arrives', () => {
    const loop = new PartitionLoop(0, settings);
    const a = loop.apply(1, events([{ event_id: 'r1', type: 'registration', click_id: CLICK }, { event_id: 'd1', type: 'deposit', amount: 5, currency: 'EUR' }], T0 + 7));
    expect([a?.resolve, a?.raw.events, a?.conversions]).toEqual([[{ clickId: CLICK, playerKey: 'b:p1', brandId: 'b', touches: null }], [], []]);
    const info = { clickId: CLICK, ts: T0 - 1000, brandId: 'b', affiliateId: 'aff', code: 'l', campaign: 'c', sub1: 's', country: 'DE', bot: false, geoBlocked: false, visitorId: '', ip: '', fraudScore: 0, flagged: false, commissionable: true };
    const b = loop.apply(2, { kind: 'resolved', items: [{ playerKey: 'b:p1', brandId: 'b', clickId: CLICK, click: info, touches: [] }] });
    expect(b?.raw.events.map((r) => [r.event_id, r.affiliate_id, r.seq, r.idx])).toEqual([['r1', 'aff', 2, 0], ['d1', 'aff', 2, 1]]);
    // Applied by the resolution, they count from when the edge accepted them.
    expect(b?.conversions).toEqual([T0 + 7, T0 + 7]);
    // The player is in the partition's snapshot, at the partition's position.
    const snaps = loop.takeFraudSnapshot()?.rows() ?? [];
    expect(snaps.filter((r) => r.key.startsWith('p:')).map((r) => [r.key, r.seq])).toEqual([['p:b:p1', 2]]);
    expect(loop.takeFraudSnapshot()).toBeUndefined();
  });

  it('delivers what an actor sends to an actor of its own partition at once, in the same message, and skips a copy sent through the stream by an older worker', () => {
    // One partition: the player, its affiliate and the commission actor all live in it.
    const loop = new PartitionLoop(0, partitionSettings({ partitions: 1 }));
    loop.apply(1, events([{ event_id: 'r1', type: 'registration', click_id: CLICK }]));
    const info = { clickId: CLICK, ts: T0 - 1000, brandId: 'b', affiliateId: 'aff', code: 'l', campaign: 'c', sub1: 's', country: 'DE', bot: false, geoBlocked: false, visitorId: '', ip: '9.9.9.9', fraudScore: 0, flagged: false, commissionable: true };
    const out = loop.apply(2, { kind: 'resolved', items: [{ playerKey: 'b:p1', brandId: 'b', clickId: CLICK, click: info, touches: [] }] });
    expect(out?.forwards.size).toBe(0);
    // The affiliate actor counted the attributed registration in this partition's network window.
    expect(loop.networkTotals(T0 + 1000).get('b')).toEqual([1, 0]);
    // The same registration forwarded to itself through the stream (as a worker before this change did): applied once only.
    const again = loop.apply(3, {
      kind: 'forwarded',
      batch: { from: 0, fromSeq: 2, items: [{ actor: 'affiliate', key: 'aff', message: { type: 'RegistrationAttributed', reg: { brandId: 'b', ts: T0 } } }] },
    } as never);
    expect(again?.alerts).toEqual([]);
    expect(loop.networkTotals(T0 + 1000).get('b')).toEqual([1, 0]);
  });

  it('writes each player as it was when the snapshot was taken, though serialized later (copy on write)', () => {
    const loop = new PartitionLoop(0, settings);
    // Players not registered yet: their events wait in the state, one more per message.
    const deposit = (seq: number, id: string, player = 'p1') => loop.apply(seq, events([{ event_id: id, type: 'deposit', amount: 5, currency: 'EUR', player_id: player }]));
    const waiting = (rows: Array<{ key: string; seq: number; state: string }>) =>
      rows.filter((r) => r.key.startsWith('p:')).map((r) => [r.key, r.seq, (JSON.parse(r.state) as { pending: unknown[] }).pending.length]);
    deposit(1, 'd1');
    deposit(2, 'd2', 'p2');
    const snapshot = loop.takeFraudSnapshot();
    if (!snapshot) throw new Error('no snapshot');
    expect(snapshot.left).toBe(2);
    // p1 changes before its turn: serialized first, as it was. p2, untouched, waits for a slice.
    deposit(3, 'd3');
    expect(snapshot.left).toBe(1);
    snapshot.serializeUntil(Infinity);
    expect(snapshot.left).toBe(0);
    expect(waiting(snapshot.rows())).toEqual([['p:b:p1', 2, 1], ['p:b:p2', 2, 1]]);
    // The change after the snapshot is the next one's.
    expect(waiting(loop.takeFraudSnapshot()?.rows() ?? [])).toEqual([['p:b:p1', 3, 2]]);
  });

  it('takes the attribution rule in force at the registration: a rules message changes it for later registrations only', () => {
    const loop = new PartitionLoop(0, settings);
    const info = (affiliateId: string, ts: number): ClickInfo => ({
      clickId: CLICK, ts, brandId: 'b', affiliateId, code: 'l', campaign: 'c', sub1: 's', country: 'DE', bot: false, geoBlocked: false, visitorId: 'v',
      ip: '', fraudScore: 0, flagged: false, commissionable: true,
    });
    const other = { ...info('first-aff', T0 - 5000), clickId: '01a1fb40-0efa-78a7-b23e-000000000001' };
    const reg = (player: string, id: string) => events([{ event_id: id, type: 'registration', click_id: CLICK, player_id: player }]);
    expect(loop.apply(1, reg('p1', 'r1'))?.resolve[0]?.touches).toBeNull();
    const rules = parseRules('{"version": "7", "brands": {"b": {"model": "first_click"}}}', 't');
    expect(loop.apply(2, { kind: 'rules', rules })?.rules).toEqual(rules);
    expect([loop.rules, loop.rulesSeq]).toEqual([rules, 2]);
    expect(loop.apply(3, reg('p2', 'r2'))?.resolve[0]?.touches).toEqual({ since: T0 - 30 * 86_400_000, until: T0 });
    const out = loop.apply(4, { kind: 'resolved', items: ['p1', 'p2'].map((p) => ({ playerKey: `b:${p}`, brandId: 'b', clickId: CLICK, click: info('last-aff', T0 - 1000), touches: [other] })) });
    expect(out?.raw.events.map((r) => [r.player_id, r.affiliate_id, r.rules_version])).toEqual([['p1', 'last-aff', 'last-click@1'], ['p2', 'first-aff', 'first-click@7']]);
    expect(out?.raw.attribution_credits.map((r) => [r.player_id, r.affiliate_id, r.weight_bp, r.binding, r.idx])).toEqual([['p1', 'last-aff', 10_000, 1, 0], ['p2', 'first-aff', 10_000, 1, 1]]);
    expect(out?.creditParts.map((p) => [p.affiliate_id, p.registrations_bp])).toEqual([['last-aff', 10_000], ['first-aff', 10_000]]);
  });

  it('reads resolutions with touches, and those of earlier versions without them', () => {
    const c: ClickInfo = { clickId: CLICK, ts: T0, brandId: 'b', affiliateId: 'a', code: 'l', campaign: 'c', sub1: 's', country: 'DE', bot: false, geoBlocked: true, visitorId: 'v', ip: '', fraudScore: 0, flagged: false, commissionable: true };
    const items = [{ playerKey: 'b:p1', brandId: 'b', clickId: CLICK, click: c, touches: [c, { ...c, clickId: 'x' }] }, { playerKey: 'b:p2', brandId: 'b', clickId: CLICK, click: null, touches: [] }];
    expect(decodeResolutions(encodeResolutions('id', items))).toEqual(items);
    const old = encode(['resolved', 'id', [['b:p1', 'b', CLICK, [CLICK, T0, 'b', 'a', 'l', 'c', 's', 'DE', false, true]]]]);
    expect(decodeResolutions(old)).toEqual([{ ...items[0], click: { ...c, visitorId: '' }, touches: [] }]);
  });
});

describe('partition loop: fraud state', () => {
  const forwarded = (fromSeq: number, ips: string[]) => ({
    kind: 'forwarded' as const,
    batch: {
      from: 7, fromSeq,
      items: ips.map((ip, i) => ({
        actor: 'affiliate' as const, key: 'aff',
        message: { type: 'RegistrationAttributed', reg: { brandId: 'b', affiliateId: 'aff', sub1: 's', playerId: `p${fromSeq}-${i}`, eventId: `r${fromSeq}-${i}`, ts: T0 + fromSeq * 1000 + i, ip, amount: '' } },
      })),
    },
  });

  it('a snapshot restored into a fresh loop continues exactly where the first one was; forwarded batches apply once', () => {
    const first = new PartitionLoop(0, settings);
    expect(first.apply(1, forwarded(1, ['1.1.1.1', '1.1.1.1', '1.1.1.1']))?.alerts).toEqual([]);
    const rows = first.takeFraudSnapshot()?.rows() ?? [];
    expect(rows.map((r) => [r.key, r.seq])).toEqual([['', 1], ['a:aff', 1]]);
    expect(first.takeFraudSnapshot()).toBeUndefined();

    const second = new PartitionLoop(0, settings);
    for (const r of rows) second.restoreFraud(r.key, r.state);
    second.lastSeq = 1;
    for (const loop of [first, second]) {
      // A republished batch (same source sequence) changes nothing.
      expect(loop.apply(2, forwarded(1, ['1.1.1.1', '1.1.1.1', '1.1.1.1']))?.alerts).toEqual([]);
      const out = loop.apply(3, forwarded(2, ['1.1.1.1', '1.1.1.1', '1.1.1.1']));
      expect(out?.alerts.map((a) => [a.rule, a.evidence.registrations])).toEqual([['ip_registrations', 6]]);
    }
  });

  it('applies each forwarded item once, however a republished source cut its batches', () => {
    const item = (seq: number, ip: string) => ({ ...forwarded(seq, [ip]).batch.items[0]!, seq });
    const batch = (items: ReturnType<typeof item>[]) => ({ kind: 'forwarded' as const, batch: { from: 7, fromSeq: Math.max(...items.map((i) => i.seq)), items } });
    const loop = new PartitionLoop(0, settings);
    // Source messages 1 and 2 coalesced into one batch, then, after the source restarted, 2 and 3.
    loop.apply(1, batch([item(1, '1.1.1.1'), item(2, '1.1.1.1')]));
    loop.apply(2, batch([item(2, '1.1.1.1'), item(3, '1.1.1.1')]));
    // …and the source's message 1 alone again: nothing new.
    loop.apply(3, batch([item(1, '1.1.1.1')]));
    expect(loop.networkTotals(T0 + 10_000).get('b')).toEqual([3, 0]);
    expect(loop.forwardedFrom.get(7)).toBe(3);
  });

  it('writes the fraud actors as they were when the snapshot was taken, though serialized later (copy on write)', () => {
    const first = new PartitionLoop(0, settings);
    first.apply(1, forwarded(1, ['1.1.1.1', '1.1.1.1', '1.1.1.1']));
    const snapshot = first.takeFraudSnapshot();
    // The partition's own part at once; the affiliate waits for a slice, or for its next change.
    expect(snapshot?.left).toBe(1);
    first.apply(2, forwarded(2, ['1.1.1.1', '1.1.1.1']));
    expect(snapshot?.left).toBe(0);
    const rows = snapshot?.rows() ?? [];
    expect(rows.map((r) => [r.key, r.seq])).toEqual([['', 1], ['a:aff', 1]]);

    // Restored from it, a loop is where the first was at message 1: three more make the sixth.
    const second = new PartitionLoop(0, settings);
    for (const r of rows) second.restoreFraud(r.key, r.state);
    second.lastSeq = 1;
    expect(second.apply(2, forwarded(2, ['1.1.1.1', '1.1.1.1']))?.alerts).toEqual([]);
    expect(second.apply(3, forwarded(3, ['1.1.1.1']))?.alerts.map((a) => [a.rule, a.evidence.registrations])).toEqual([['ip_registrations', 6]]);
  });
});
