/**
 * Sends a flush's outbox (workers/sink/outbox.ts) once its ledger rows are committed: outbound
 * postback jobs into the postbacks stream (JetStream, `Nats-Msg-Id` = the job id, so a replay
 * after a crash republishes nothing twice), and answers to the API calls waiting on commands
 * (plain NATS: nobody may be listening any more, which is fine).
 *
 * A job that cannot be published keeps the flush from reaching its checkpoint: the sink retries
 * the flush, and nothing is acknowledged that the affiliate might never hear of.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsNames } from '../../schema/subjects.ts';
import type { OutboxItem } from '../sink/outbox.ts';

const encoder = new TextEncoder();

/** Carries out outboxes. */
export class OutboxSender {
  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
  ) {}

  /** Send `items`; resolves once every postback job is stored in JetStream. */
  async send(items: readonly OutboxItem[]): Promise<void> {
    const stored: Array<Promise<unknown>> = [];
    for (const item of items) {
      switch (item.kind) {
        case 'postback':
          stored.push(this.js.publish(this.names.postbackSubject, encoder.encode(JSON.stringify(item.job)), { msgID: item.job.id }));
          break;
        case 'answer':
          this.nc.publish(item.replyTo, encoder.encode(JSON.stringify(item.body)));
          break;
        default: {
          const unknown: never = item;
          throw new Error(`outbox item ${JSON.stringify(unknown)} is not handled`);
        }
      }
    }
    await Promise.all(stored);
  }
}
