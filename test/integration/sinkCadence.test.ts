/**
 * When the ClickHouse sink flushes (workers/sink/clickhouseSink.ts), against the suite's real
 * ClickHouse: messages queued while a flush writes wait for the next call, unless a flush was
 * asked for during the write, which then starts as soon as the write ends. The worker's timer is
 * what calls; starting a flush whenever messages had arrived (always, under steady traffic) kept
 * ClickHouse inserting back to back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseSink } from '../../workers/sink/clickhouseSink.ts';
import { noRawRows } from '../../workers/sink/tables.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import { migrate } from '../../schema/clickhouse/migrate.ts';
import { TestCluster } from './cluster.ts';

const cluster = new TestCluster('sink');
const ch = clickhouse(cluster.cfg);
const acked: Array<[number, number]> = [];
let flushes = 0;
const sink = new ClickHouseSink(ch, () => ({ fraud: () => [] }), {
  flushed: () => flushes++,
  failed: () => undefined,
  boundary: () => null,
  beforeWrite: async () => undefined,
  committed: async () => undefined,
});
/** One message of `partition`, delivered alone by that partition's consumer. */
const push = (partition: number, seq: number): void => {
  sink.push({ partition, seq, raw: noRawRows(), creditParts: [] });
  sink.delivered({ consumer: `part-${partition}`, partitions: [partition], seq, count: 1, ack: () => acked.push([partition, seq]) });
};
const checkpoints = async () =>
  cluster.query<{ partition: number; seq: number }>('SELECT toUInt32(partition) AS partition, toUInt32(max(seq)) AS seq FROM checkpoints GROUP BY partition ORDER BY partition');

beforeAll(async () => {
  await migrate(cluster.cfg);
}, 120_000);

afterAll(async () => {
  await ch.close();
  await cluster.teardown();
});

describe('ClickHouse sink cadence', () => {
  it('leaves what was queued during a flush to the next call, unless a flush was asked for meanwhile', async () => {
    push(1, 10);
    const first = sink.flush();
    // Queued after the flush took the queue: not part of it, and nothing asks for another.
    push(1, 11);
    await first;
    expect(flushes).toBe(1);
    expect(acked).toEqual([[1, 10]]);
    expect(sink.messages).toBe(1);
    expect(await checkpoints()).toEqual([{ partition: 1, seq: 10 }]);

    // A flush asked for while one writes: the queue goes out right after, under the same promise.
    const second = sink.flush();
    push(2, 5);
    expect(sink.flush()).toBe(second);
    await second;
    expect(flushes).toBe(3);
    expect(acked).toEqual([[1, 10], [1, 11], [2, 5]]);
    expect(sink.messages).toBe(0);
    expect(await checkpoints()).toEqual([{ partition: 1, seq: 11 }, { partition: 2, seq: 5 }]);

    // Nothing queued, nothing asked: no flush, no insert.
    await sink.flush();
    expect(flushes).toBe(3);
  });

  it('moves every partition of a consumer to its batch’s last sequence, quiet ones included, and acknowledges the consumer once', async () => {
    // One consumer delivers partitions 1, 2 and 3; its batch ends at 40 with messages of 1 and 2 only.
    sink.push({ partition: 1, seq: 31, raw: noRawRows(), creditParts: [] });
    sink.push({ partition: 2, seq: 35, raw: noRawRows(), creditParts: [] });
    sink.delivered({ consumer: 'all', partitions: [1, 2, 3], seq: 36, count: 3, ack: () => acked.push([0, 36]) });
    sink.push({ partition: 1, seq: 38, raw: noRawRows(), creditParts: [] });
    sink.delivered({ consumer: 'all', partitions: [1, 2, 3], seq: 40, count: 2, ack: () => acked.push([0, 40]) });
    expect(sink.messages).toBe(5);
    await sink.flush();
    expect(acked.slice(3)).toEqual([[0, 40]]);
    expect(await checkpoints()).toEqual([{ partition: 1, seq: 40 }, { partition: 2, seq: 40 }, { partition: 3, seq: 40 }]);
  });
});
