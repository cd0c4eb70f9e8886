/**
 * Publishes validated events to their players' partitions, merging the events of the batches that
 * are ready at the same moment. A 1,000-event frame over 64 partitions is ~16 events per partition;
 * published alone, each of its messages pays JetStream's per-message costs (the edge's request
 * bookkeeping, the server's store and ack, the worker's fetch) for a handful of events. Batches
 * whose deduplication answers arrive together — the stream pipelines up to 64 frames per
 * connection — are instead gathered until the event loop's current turn ends (`setImmediate`),
 * then published as one message per partition.
 *
 * A batch's promise resolves once every message holding one of its events is acknowledged by
 * JetStream, and rejects with 503 `unavailable` if any of them fails: the client resends the
 * batch, and events already stored are dropped as repeats by the partition (docs/protocol.md §6).
 */
import { AffstreamError } from '../../schema/errors.ts';
import type { PlayerEvent } from '../../schema/events.ts';
import { encodeEventBatch, KIND_HEADER } from '../../schema/eventWire.ts';
import { partitionOf } from '../../schema/shard.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import type { AckedPublisher } from '../ackedPublisher.ts';

/** Events per JetStream message at most: a message stays far below NATS's 1 MiB payload limit. */
export const MAX_EVENTS_PER_MESSAGE = 2000;

/** Dependencies of {@link PartitionPublisher}. */
export interface PartitionPublisherDeps {
  /** The edge's acked publisher (shared with the click path). */
  acks: Pick<AckedPublisher, 'publish'>;
  names: NatsNames;
  partitions: number;
  /** This edge's instance id: the prefix of its `Nats-Msg-Id`s. */
  instance: string;
}

/** A batch waiting for its messages. */
interface Waiter {
  /** Messages holding its events not yet acknowledged. */
  remaining: number;
  failed: boolean;
  resolve(): void;
  reject(err: AffstreamError): void;
}

/** The events gathered for one partition, and the batches they belong to. */
interface Pending {
  events: PlayerEvent[];
  waiters: Set<Waiter>;
  /** Receive time of the earliest batch gathered. */
  receivedAt: number;
}

/** The header that tells the partition loop these are events. */
const EVENTS_KIND = { [KIND_HEADER]: 'events' } as const;

/** One JetStream message per partition for the batches gathered in one turn of the event loop. */
export class PartitionPublisher {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private scheduled = false;

  constructor(private readonly d: PartitionPublisherDeps) {}

  /** Publish `events` (received at `receivedAt`); resolves when all are durable, else rejects with 503 `unavailable`. */
  publish(events: readonly PlayerEvent[], receivedAt: number): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { remaining: 0, failed: false, resolve, reject };
      for (const e of events) {
        const p = partitionOf(`${e.brandId}:${e.playerId}`, this.d.partitions);
        let pending = this.pending.get(p);
        if (!pending) {
          pending = { events: [], waiters: new Set(), receivedAt };
          this.pending.set(p, pending);
        }
        pending.events.push(e);
        if (!pending.waiters.has(waiter)) {
          pending.waiters.add(waiter);
          waiter.remaining++;
        }
        if (pending.events.length >= MAX_EVENTS_PER_MESSAGE) this.send(p, pending);
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    for (const [p, pending] of this.pending) this.send(p, pending);
  }

  private send(partition: number, pending: Pending): void {
    this.pending.delete(partition);
    const seq = ++this.seq;
    const data = encodeEventBatch(this.d.instance, seq, pending.receivedAt, pending.events);
    const done = (err: Error | undefined): void => {
      if (!err) {
        for (const w of pending.waiters) if (--w.remaining === 0 && !w.failed) w.resolve();
        return;
      }
      for (const w of pending.waiters) {
        if (w.failed) continue;
        w.failed = true;
        w.reject(new AffstreamError('unavailable', 'events could not be made durable; retry', { cause: err }));
      }
    };
    this.d.acks.publish(this.d.names.partitionSubject(partition), data, `${this.d.instance}.e${seq}`, done, EVENTS_KIND);
  }
}
