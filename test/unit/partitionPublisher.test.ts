import { describe, expect, it } from 'vitest';
import { MAX_EVENTS_PER_MESSAGE, PartitionPublisher } from '../../node/ingest/partitionPublisher.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { decodeEventBatch, KIND_HEADER } from '../../schema/eventWire.ts';
import type { AckedPublisher } from '../../node/ackedPublisher.ts';
import type { PlayerEvent } from '../../schema/events.ts';
import { partitionOf } from '../../schema/shard.ts';
import { natsNames } from '../../schema/subjects.ts';

const PARTITIONS = 8;

const event = (playerId: string, eventId: string): PlayerEvent => ({
  eventId, type: 'kyc', brandId: 'b1', playerId, ts: 1, ip: '', country: '', deviceId: '', source: 'stream', clickId: '', kycStatus: 'approved',
  amount: '0.0000', win: '0.0000', currency: '', originalAmount: '', originalCurrency: '', first: false, game: '', category: '', bonusAction: '',
  bonusId: '', maxBonus: false, depositId: '',
});

/** An acked publisher whose publishes the test settles by hand; it keeps what each carried. */
function fakeAcks() {
  const sent: { subject: string; events: PlayerEvent[]; msgID: string; kind: string | undefined; settle(ok: boolean): void }[] = [];
  const acks: Pick<AckedPublisher, 'publish'> = {
    publish(subject, data, msgId, done, extra) {
      sent.push({ subject, events: decodeEventBatch(data).events, msgID: msgId, kind: extra?.[KIND_HEADER], settle: (ok) => done(ok ? undefined : new Error('timeout')) });
    },
  };
  return { acks, sent };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('partition publisher', () => {
  it('publishes the batches of one turn as one message per partition, each answered once all its messages are durable', async () => {
    const { acks, sent } = fakeAcks();
    const names = natsNames({ namespace: 't' });
    const publisher = new PartitionPublisher({ acks, names, partitions: PARTITIONS, instance: 'edge-1' });
    const a = Array.from({ length: 40 }, (_, i) => event(`p${i % 10}`, `a${i}`));
    const b = Array.from({ length: 40 }, (_, i) => event(`p${i % 10}`, `b${i}`));
    const done: string[] = [];
    const pa = publisher.publish(a, 1).then(() => done.push('a'));
    const pb = publisher.publish(b, 2).then(() => done.push('b'));
    await turn();
    const partitions = new Set(a.map((e) => partitionOf(`b1:${e.playerId}`, PARTITIONS)));
    expect(sent.length).toBe(partitions.size);
    expect(new Set(sent.map((m) => m.msgID)).size).toBe(sent.length);
    for (const m of sent) {
      const p = partitionOf(`b1:${m.events[0]?.playerId}`, PARTITIONS);
      expect(m.subject).toBe(names.partitionSubject(p));
      expect(m.kind).toBe('events');
      expect(m.events.every((e) => partitionOf(`b1:${e.playerId}`, PARTITIONS) === p)).toBe(true);
    }
    expect(sent.flatMap((m) => m.events.map((e) => e.eventId)).sort()).toEqual([...a, ...b].map((e) => e.eventId).sort());
    for (const m of sent.slice(0, -1)) m.settle(true);
    await turn();
    expect(done).toEqual([]);
    sent.at(-1)?.settle(true);
    await Promise.all([pa, pb]);
    expect(done.sort()).toEqual(['a', 'b']);
  });

  it('fails every batch of a message that could not be made durable with 503 unavailable, once', async () => {
    const { acks, sent } = fakeAcks();
    const publisher = new PartitionPublisher({ acks, names: natsNames({ namespace: 't' }), partitions: PARTITIONS, instance: 'edge-1' });
    const a = publisher.publish([event('p1', 'a1'), event('p2', 'a2'), event('p3', 'a3')], 1);
    const b = publisher.publish([event('p1', 'b1')], 1);
    await turn();
    for (const m of sent) m.settle(false);
    for (const p of [a, b]) await expect(p).rejects.toSatisfy((e) => e instanceof AffstreamError && e.code === 'unavailable');
    expect(await publisher.publish([], 1)).toBeUndefined();
  });

  it('splits a partition past the message size limit', async () => {
    const { acks, sent } = fakeAcks();
    const publisher = new PartitionPublisher({ acks, names: natsNames({ namespace: 't' }), partitions: PARTITIONS, instance: 'edge-1' });
    const n = 2 * MAX_EVENTS_PER_MESSAGE + 5;
    const done = publisher.publish(Array.from({ length: n }, (_, i) => event('p1', `e${i}`)), 1);
    await turn();
    expect(sent.map((m) => m.events.length)).toEqual([MAX_EVENTS_PER_MESSAGE, MAX_EVENTS_PER_MESSAGE, 5]);
    for (const m of sent) m.settle(true);
    await done;
  });
});
