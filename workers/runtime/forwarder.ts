/**
 * Publishes the messages a partition's actors send to actors of other partitions (effects as data:
 * the loop returns them, this carries them out).
 *
 * Per source partition, one round of publishes is in flight at a time, one message per target
 * partition; what the source's next messages forward meanwhile waits and goes out, coalesced per
 * target, in the next round. So each target sees a source's items in the source's order, and under
 * load a target gets one message for many source messages instead of one each (every JetStream
 * message costs a wake-up and an ack on both sides: docs/architecture.md, “Measured here”). Each
 * item carries its source message's sequence: a batch republished after a crash, cut differently,
 * is still applied once per item (the target skips items at or below the last it applied).
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

/** What one source partition has to forward: items waiting per target, and the round in flight. */
interface SourceQueue {
  waiting: Map<number, { fromSeq: number; items: ForwardedItem[] }>;
  /** Resolves once the round that takes the waiting items is published. */
  waitingDone: Deferred;
  /** The round being published. */
  inFlight: Promise<void> | undefined;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Ordered, coalesced, retried publishing of forwarded items. */
export class Forwarder {
  private readonly sources = new Map<number, SourceQueue>();
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly log: Logger,
  ) {}

  /** Send what the message at `fromSeq` of partition `from` produced, by target partition. */
  send(from: number, fromSeq: number, forwards: ReadonlyMap<number, ForwardedItem[]>): void {
    if (forwards.size === 0) return;
    let q = this.sources.get(from);
    if (!q) this.sources.set(from, (q = { waiting: new Map(), waitingDone: deferred(), inFlight: undefined }));
    for (const [to, items] of forwards) {
      const batch = q.waiting.get(to) ?? { fromSeq, items: [] };
      batch.fromSeq = fromSeq;
      for (const item of items) batch.items.push({ ...item, seq: fromSeq });
      q.waiting.set(to, batch);
    }
    if (!q.inFlight) void this.drain(from, q);
  }

  /** Publish rounds until nothing waits; items sent during a round go in the next. */
  private async drain(from: number, q: SourceQueue): Promise<void> {
    while (q.waiting.size > 0) {
      const round = q.waiting;
      const done = q.waitingDone;
      q.waiting = new Map();
      q.waitingDone = deferred();
      q.inFlight = Promise.all([...round].map(([to, b]) => this.publish(from, to, b.fromSeq, b.items))).then(() => undefined);
      await q.inFlight;
      done.resolve();
    }
    q.inFlight = undefined;
  }

  private async publish(from: number, to: number, fromSeq: number, items: ForwardedItem[]): Promise<void> {
    const h = natsHeaders();
    h.set(KIND_HEADER, 'forwarded');
    const data = encodeForwarded({ from, fromSeq, items }, to);
    const publish = () => this.js.publish(this.names.partitionSubject(to), data, { msgID: forwardedId(from, fromSeq, to), headers: h });
    await retrying(`forwarding ${from}→${to}`, this.log, publish, () => this.stopped).catch(() => undefined);
  }

  /** Resolves once everything sent so far is stored in JetStream (what is sent meanwhile is not waited for). */
  async settled(): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const q of this.sources.values()) {
      if (q.inFlight) waits.push(q.inFlight);
      if (q.waiting.size > 0) waits.push(q.waitingDone.promise);
    }
    await Promise.all(waits);
  }

  /** Stop retrying (shutdown). */
  stop(): void {
    this.stopped = true;
  }
}
