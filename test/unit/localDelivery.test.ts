/**
 * What a message's actors send to partitions read through the same consumer is delivered at once,
 * as part of the message (workers/runtime/localDelivery.ts); what goes elsewhere stays a forward.
 */
import { describe, expect, it } from 'vitest';
import { partitionSettings } from '../kit/actors.ts';
import { emptyOutput, PartitionLoop } from '../../workers/runtime/partition.ts';
import { applyWithLocalDeliveries } from '../../workers/runtime/localDelivery.ts';
import { partitionOf } from '../../schema/shard.ts';
import { parseEvent } from '../../schema/events.ts';
import type { EventBatch, ForwardedItem } from '../../schema/eventWire.ts';

const T0 = Date.UTC(2026, 10, 20);
const CLICK = '01a1fb40-0efa-78a7-b23e-632c6d65b1ce';
const P = 8;
const settings = partitionSettings({ partitions: P });
// A player and an affiliate whose actors live in different partitions.
const affiliate = ['aff', 'aff2', 'aff3', 'aff4'].find((a) => partitionOf(a, P) !== partitionOf('b:p1', P)) as string;
const playerP = partitionOf('b:p1', P);
const affiliateP = partitionOf(affiliate, P);
const click = { clickId: CLICK, ts: T0 - 1000, brandId: 'b', affiliateId: affiliate, code: 'l', campaign: 'c', sub1: 's', country: 'DE', bot: false, geoBlocked: false, visitorId: '', ip: '9.9.9.9', fraudScore: 0, flagged: false, commissionable: true };
const registration = {
  kind: 'events' as const,
  batch: { edge: 'e1', seq: 1, receivedAt: T0, events: [parseEvent({ event_id: 'r1', type: 'registration', player_id: 'p1', ts: T0, click_id: CLICK }, 'b', 'json', T0 + 1)] } as EventBatch,
};
const resolved = { kind: 'resolved' as const, items: [{ playerKey: 'b:p1', brandId: 'b', clickId: CLICK, click, touches: [] }] };

describe('local delivery', () => {
  it('delivers a registration to its affiliate’s partition within the message, with that partition’s rows at the message’s sequence', () => {
    const local = new Map([playerP, affiliateP].map((p) => [p, new PartitionLoop(p, settings)]));
    expect(applyWithLocalDeliveries(local, playerP, 1, registration)?.get(playerP)?.resolve).toHaveLength(1);
    const outputs = applyWithLocalDeliveries(local, playerP, 2, resolved);
    expect([...(outputs?.keys() ?? [])]).toEqual([playerP, affiliateP]);
    expect([...(outputs?.values() ?? [])].map((o) => o.forwards.size)).toEqual([0, 0]);
    expect(outputs?.get(playerP)?.raw.events.map((r) => [r.partition, r.seq, r.affiliate_id])).toEqual([[playerP, 2, affiliate]]);
    // The affiliate actor counted it in its partition, now.
    expect((local.get(affiliateP) as PartitionLoop).networkTotals(T0 + 1000).get('b')).toEqual([1, 0]);
    // Already applied: nothing again.
    expect(applyWithLocalDeliveries(local, playerP, 2, resolved)).toBeNull();
  });

  it('keeps what goes to a partition of another consumer as a forward of the sending partition', () => {
    const local = new Map([[playerP, new PartitionLoop(playerP, settings)]]);
    applyWithLocalDeliveries(local, playerP, 1, registration);
    const outputs = applyWithLocalDeliveries(local, playerP, 2, resolved);
    expect([...(outputs?.keys() ?? [])]).toEqual([playerP]);
    expect([...(outputs?.get(playerP)?.forwards.keys() ?? [])]).toEqual([affiliateP]);
  });

  it('skips a delivery the target’s restored state already includes, and the stream copy of one it made', () => {
    const target = new PartitionLoop(affiliateP, settings);
    target.advanceTo(5);
    const local = new Map([[playerP, new PartitionLoop(playerP, settings)], [affiliateP, target]]);
    applyWithLocalDeliveries(local, playerP, 3, registration);
    // Resolved at 4: the affiliate's partition restored at 5 has it already.
    applyWithLocalDeliveries(local, playerP, 4, resolved);
    expect(target.networkTotals(T0 + 1000).get('b')).toBeUndefined();
  });

  it('delivers what comes back to the partition whose own message is being applied, and skips that sequence from anywhere else', () => {
    const loop = new PartitionLoop(affiliateP, settings);
    loop.advanceTo(5);
    const item = { actor: 'affiliate', key: affiliate, message: { type: 'RegistrationAttributed', reg: { brandId: 'b', ts: T0 } } } as unknown as ForwardedItem;
    // Message 5 is behind this partition already: a delivery made by it elsewhere was applied before.
    loop.deliverLocal(5, playerP, [item], emptyOutput());
    expect(loop.networkTotals(T0 + 1000).get('b')).toBeUndefined();
    // Message 5 is this partition's own, being applied: what its deliveries send back belongs to it.
    loop.deliverLocal(5, playerP, [item], emptyOutput(), true);
    expect(loop.networkTotals(T0 + 1000).get('b')).toEqual([1, 0]);
    loop.deliverLocal(4, playerP, [item], emptyOutput(), true);
    expect(loop.networkTotals(T0 + 1000).get('b')).toEqual([1, 0]);
  });
});
