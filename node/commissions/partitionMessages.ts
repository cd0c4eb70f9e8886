/**
 * Messages for commission actors, put into their partitions' streams and answered by the workers
 * once their effects are committed to ClickHouse (docs/commissions.md): the operators' lifecycle
 * commands (node/commissions/api.ts) and the figures of revenue imports (node/revenue/merge.ts).
 * An actor applies them in order with everything else its lines see; the sender waits on one NATS
 * inbox for one answer per affiliate item.
 */
import { createInbox, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { AffstreamError } from '../../schema/errors.ts';
import type { CommandAnswer } from '../../schema/commissions.ts';
import { KIND_HEADER, type MessageKind } from '../../schema/eventWire.ts';
import { partitionOf } from '../../schema/shard.ts';
import type { NatsNames } from '../../schema/subjects.ts';

/** What sending needs. */
export interface PartitionSendDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  names: NatsNames;
  partitions: number;
  /** How long to wait for the answers; past it the messages stay durable in the stream and apply. */
  answerTimeoutMs: number;
}

/** One partition message. */
export interface PartitionMessage {
  partition: number;
  kind: MessageKind;
  /** How many answers it asks for: one per affiliate item. */
  answers: number;
  /** Its `Nats-Msg-Id` and bytes, for the inbox the answers go to. */
  encode(replyTo: string): { msgId: string; data: Uint8Array };
}

/**
 * Items (one per affiliate) by the partition of their affiliate's actors, in chunks whose `weight`
 * sums to at most `maxWeight` (an item heavier than that is a chunk of its own; default: one chunk
 * per partition), so that no message outgrows what NATS carries.
 */
export function byPartition<I extends { affiliateId: string }>(
  items: Iterable<I>,
  partitions: number,
  weight: (item: I) => number = () => 0,
  maxWeight = Infinity,
): Array<{ partition: number; items: I[] }> {
  const open = new Map<number, { partition: number; items: I[]; weight: number }>();
  const chunks: Array<{ partition: number; items: I[]; weight: number }> = [];
  for (const item of items) {
    const partition = partitionOf(item.affiliateId, partitions);
    const w = weight(item);
    let chunk = open.get(partition);
    if (!chunk || (chunk.items.length > 0 && chunk.weight + w > maxWeight)) {
      chunk = { partition, items: [], weight: 0 };
      open.set(partition, chunk);
      chunks.push(chunk);
    }
    chunk.items.push(item);
    chunk.weight += w;
  }
  return chunks.map(({ partition, items: list }) => ({ partition, items: list }));
}

/**
 * Publish `messages` and wait for every answer: all of them, or null when not every worker answered
 * within the timeout (the messages are durable in the stream and will apply). Throws `unavailable`
 * with `unqueued` as its message when one cannot be published.
 */
export async function publishAnswered(d: PartitionSendDeps, messages: readonly PartitionMessage[], unqueued: string): Promise<CommandAnswer[] | null> {
  const expected = messages.reduce((n, m) => n + m.answers, 0);
  if (expected === 0) return [];
  const replyTo = createInbox();
  const sub = d.nc.subscribe(replyTo, { max: expected });
  const answers: CommandAnswer[] = [];
  // Ends with the last answer (max) or when the timer gives up waiting.
  const answered = (async () => {
    for await (const m of sub) answers.push(m.json() as CommandAnswer);
  })();
  const timer = setTimeout(() => sub.unsubscribe(), d.answerTimeoutMs);
  try {
    for (const m of messages) {
      const h = natsHeaders();
      h.set(KIND_HEADER, m.kind);
      const { msgId, data } = m.encode(replyTo);
      await d.js.publish(d.names.partitionSubject(m.partition), data, { msgID: msgId, headers: h });
    }
  } catch (err) {
    clearTimeout(timer);
    sub.unsubscribe();
    throw new AffstreamError('unavailable', unqueued, { cause: err });
  }
  await answered;
  clearTimeout(timer);
  return answers.length === expected ? answers : null;
}
