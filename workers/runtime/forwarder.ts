/**
 * Publishes the messages a partition's actors send to actors of other partitions (effects as data:
 * the loop returns them, this carries them out). Per source partition, batches go out one at a time
 * and in order, so each target sees a source's batches in the source's order; a republished batch
 * (after a crash) has the same `Nats-Msg-Id` and the target drops it by its source sequence too.
 *
 * The sink awaits {@link Forwarder.settled} before writing a flush: a source message is never
 * recorded as done in ClickHouse while what it sent could still be lost.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { encodeForwarded, forwardedId, KIND_HEADER, type ForwardedItem } from '../../schema/eventWire.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { retrying } from './retrying.ts';

/** Ordered, retried publishing of forwarded batches. */
export class Forwarder {
  private readonly chains = new Map<number, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly log: Logger,
  ) {}

  /** Send what the message at `fromSeq` of partition `from` produced, by target partition. */
  send(from: number, fromSeq: number, forwards: ReadonlyMap<number, ForwardedItem[]>): void {
    if (forwards.size === 0) return;
    const previous = this.chains.get(from) ?? Promise.resolve();
    this.chains.set(from, previous.then(() => this.publishAll(from, fromSeq, forwards)));
  }

  private async publishAll(from: number, fromSeq: number, forwards: ReadonlyMap<number, ForwardedItem[]>): Promise<void> {
    for (const [to, items] of forwards) {
      const h = natsHeaders();
      h.set(KIND_HEADER, 'forwarded');
      const data = encodeForwarded({ from, fromSeq, items }, to);
      const publish = () => this.js.publish(this.names.partitionSubject(to), data, { msgID: forwardedId(from, fromSeq, to), headers: h });
      await retrying(`forwarding ${from}→${to}`, this.log, publish, () => this.stopped).catch(() => undefined);
    }
  }

  /** Resolves once everything sent so far is stored in JetStream. */
  async settled(): Promise<void> {
    await Promise.all(this.chains.values());
  }

  /** Stop retrying (shutdown). */
  stop(): void {
    this.stopped = true;
  }
}
