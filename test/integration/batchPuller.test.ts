/**
 * The worker's batch pulls (workers/runtime/batchPuller.ts) and its consumers' layout
 * (workers/runtime/partitionConsumers.ts) against the suite's real NATS: a pull takes what is
 * there in one go, a waiting pull ends at the first message, AckAll through one reply subject
 * acknowledges everything before it, and a restart's reset removes a previous layout's consumers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connectNats, ensureStream } from '../../schema/natsSetup.ts';
import { natsNames } from '../../schema/subjects.ts';
import { BatchPuller } from '../../workers/runtime/batchPuller.ts';
import { consumerPlans, resetConsumers } from '../../workers/runtime/partitionConsumers.ts';
import { TestCluster } from './cluster.ts';

const cluster = new TestCluster('puller');
const names = natsNames(cluster.cfg);
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

const publish = async (p: number, n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await js.publish(names.partitionSubject(p), new Uint8Array([p, i]));
};

beforeAll(async () => {
  nc = await connectNats(cluster.cfg, 'puller-test');
  await ensureStream(nc, cluster.cfg);
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  await jsm.streams.delete(names.stream).catch(() => undefined);
  await nc.close();
  await cluster.teardown();
});

describe('batch pulls of the partitions consumer', () => {
  it('takes what is there in one pull, in stream order across partitions, and waits for the next message only when asked', async () => {
    const plans = consumerPlans(names, [0, 1, 2, 3], 4, nc.info?.version ?? '');
    expect(plans.map((p) => p.name)).toEqual([names.allPartitionsConsumer]);
    await resetConsumers(jsm, names, plans, () => 0, { maxAckPendingPerPartition: 1000 });
    await publish(2, 3);
    await publish(0, 2);
    const puller = new BatchPuller(nc, names.stream, names.allPartitionsConsumer);

    const first = await puller.pull(4);
    expect(first.messages.map((m) => [names.partitionOf(m.subject), m.seq, m.pending])).toEqual([[2, 1, 4], [2, 2, 3], [2, 3, 2], [0, 4, 1]]);
    const second = await puller.pull(100);
    expect(second.messages.map((m) => m.seq)).toEqual([5]);
    expect(second.trouble).toBeUndefined();
    // Nothing there: an immediate, empty answer.
    expect((await puller.pull(100)).messages).toEqual([]);

    // A waiting pull ends with the first message published while it waits.
    const waiting = puller.pull(100, 10_000);
    await publish(1, 1);
    expect((await waiting).messages.map((m) => [names.partitionOf(m.subject), m.seq])).toEqual([[1, 6]]);

    // AckAll: acknowledging the last delivered acknowledges all of them.
    puller.ack((await waiting).messages[0] as { reply: string });
    await nc.flush();
    const info = await jsm.consumers.info(names.stream, names.allPartitionsConsumer);
    expect(info.num_ack_pending).toBe(0);
    expect(info.ack_floor.stream_seq).toBe(6);
    puller.stop();
    expect((await puller.pull(100)).messages).toEqual([]);
  });

  it('starts a reset consumer after the given position and removes the consumers of an earlier layout', async () => {
    // A previous run's per-partition consumer of partition 1, and the all-partitions one.
    await jsm.consumers.add(names.stream, { durable_name: names.consumer(1), filter_subject: names.partitionSubject(1), ack_policy: 'all' as never });
    const plans = consumerPlans(names, [0, 1, 2, 3], 4, nc.info?.version ?? '');
    await resetConsumers(jsm, names, plans, () => 4, { maxAckPendingPerPartition: 1000 });
    const left: string[] = [];
    for await (const c of jsm.consumers.list(names.stream)) left.push(c.name);
    expect(left).toEqual([names.allPartitionsConsumer]);
    const info = await jsm.consumers.info(names.stream, names.allPartitionsConsumer);
    expect(info.config.max_ack_pending).toBe(4000);
    const puller = new BatchPuller(nc, names.stream, names.allPartitionsConsumer);
    expect((await puller.pull(100)).messages.map((m) => m.seq)).toEqual([5, 6]);
    puller.stop();
  });
});
