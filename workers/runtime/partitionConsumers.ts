/**
 * The durable consumers a worker reads its partitions through (docs/architecture.md, “How a worker
 * consumes”): as few as the server allows, so that one pull brings the messages of many partitions.
 *
 * - Every partition: one consumer on the whole event stream.
 * - Some of them, on NATS ≥ 2.10: one consumer with a filter per partition (`filter_subjects`).
 * - Some of them, on NATS 2.9 (one filter per consumer): a consumer per partition.
 *
 * A consumer delivers its partitions' messages in stream order, which is what lets the worker
 * say, after a batch, that every message of those partitions up to the batch's last sequence has
 * been applied — also for partitions that had none in it.
 */
import { createHash } from 'node:crypto';
import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsNames } from '../../schema/subjects.ts';

/** One consumer: its name, the partitions it delivers, and its subject filter. */
export interface ConsumerPlan {
  name: string;
  partitions: number[];
  filter: Pick<ConsumerConfig, 'filter_subject'> | Pick<ConsumerConfig, 'filter_subjects'>;
}

/** `major.minor` of a server version string, compared as numbers. */
function atLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * The consumers for `owned` of the cluster's `total` partitions on a server of `serverVersion`.
 */
export function consumerPlans(names: NatsNames, owned: readonly number[], total: number, serverVersion: string): ConsumerPlan[] {
  const partitions = [...owned].sort((a, b) => a - b);
  if (partitions.length === total) return [{ name: names.allPartitionsConsumer, partitions, filter: { filter_subject: names.streamSubjects } }];
  if (atLeast(serverVersion, 2, 10)) {
    const digest = createHash('sha256').update(partitions.join(',')).digest('hex').slice(0, 12);
    return [{ name: `parts-${digest}`, partitions, filter: { filter_subjects: partitions.map(names.partitionSubject) } }];
  }
  return partitions.map((p) => ({ name: names.consumer(p), partitions: [p], filter: { filter_subject: names.partitionSubject(p) } }));
}

/** Whether consumer `name` (of any layout) may deliver one of `partitions`. */
function overlaps(names: NatsNames, name: string, config: ConsumerConfig, partitions: ReadonlySet<number>): boolean {
  if (name === names.allPartitionsConsumer) return true;
  const subjects = config.filter_subjects ?? (config.filter_subject ? [config.filter_subject] : []);
  return subjects.some((s) => s === names.streamSubjects || [...partitions].some((p) => s === names.partitionSubject(p)));
}

/**
 * (Re)create the consumers of `plans`, each delivering from `resumeSeq(plan) + 1` (the first
 * message ClickHouse may not hold for one of its partitions), after deleting every consumer of the
 * stream that delivers one of those partitions (a previous run's, of whatever layout). Recreated
 * at every start rather than reused: a reused consumer would redeliver a dead worker's
 * unacknowledged messages only after `ack_wait`, behind newer ones, and the partitions (which skip
 * anything at or below their position) would lose them.
 */
export async function resetConsumers(
  jsm: JetStreamManager,
  names: NatsNames,
  plans: readonly ConsumerPlan[],
  resumeSeq: (plan: ConsumerPlan) => number,
  limits: { maxAckPendingPerPartition: number },
): Promise<void> {
  const mine = new Set(plans.flatMap((p) => p.partitions));
  for await (const c of jsm.consumers.list(names.stream)) {
    if (!overlaps(names, c.name, c.config, mine)) continue;
    try {
      await jsm.consumers.delete(names.stream, c.name);
    } catch (err) {
      if ((err as { name?: string }).name !== 'ConsumerNotFoundError') throw err;
    }
  }
  for (const plan of plans) {
    const from = resumeSeq(plan);
    await jsm.consumers.add(names.stream, {
      durable_name: plan.name,
      ...plan.filter,
      ack_policy: AckPolicy.All,
      ack_wait: nanos(120_000),
      // The same budget per partition as one consumer each had: what a flush has not acknowledged yet.
      max_ack_pending: limits.maxAckPendingPerPartition * plan.partitions.length,
      ...(from > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
  }
}
