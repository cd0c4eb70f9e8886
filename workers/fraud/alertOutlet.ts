/**
 * Carries out what a raised alert means outside the partition (docs/fraud.md, “Actions”): the alert on the
 * JetStream alert subject (its id as `Nats-Msg-Id`, so a replay publishes nothing new), and for a
 * pause or block, the entry in the fraud KV bucket that every edge watches — the next click of that
 * sub-ID is marked within milliseconds, and `GET /api/v1/fraud/pauses` lists it. Retried until
 * done; the sink awaits {@link AlertOutlet.settled} before a flush records the alert as written.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { PAUSE_ACTIONS, pauseKey, pauseOf, type FraudAlert, type FraudPause } from '../../schema/fraud.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { retrying } from '../runtime/retrying.ts';

/** Publishes alerts and pauses. */
export class AlertOutlet {
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly kv: KV,
    private readonly names: NatsNames,
    private readonly log: Logger,
  ) {}

  /** Publish `alerts`, in order. */
  send(alerts: readonly FraudAlert[]): void {
    for (const a of alerts) this.chain = this.chain.then(() => this.publish(a));
  }

  /** Remove lifted pauses from the bucket, after anything sent before (a replayed put comes first). */
  clear(pauses: ReadonlyArray<Pick<FraudPause, 'affiliate_id' | 'sub_id' | 'action'>>): void {
    for (const p of pauses) {
      const remove = () => this.kv.delete(pauseKey(p));
      this.chain = this.chain.then(() => retrying(`lift of ${pauseKey(p)}`, this.log, remove, () => this.stopped).catch(() => undefined));
    }
  }

  private async publish(a: FraudAlert): Promise<void> {
    const publish = async () => {
      if (PAUSE_ACTIONS.has(a.action)) {
        const pause = pauseOf(a);
        await this.kv.put(pauseKey(pause), JSON.stringify(pause));
      }
      await this.js.publish(this.names.fraudAlerts, JSON.stringify(a), { msgID: a.id });
    };
    await retrying(`alert ${a.id}`, this.log, publish, () => this.stopped).catch(() => undefined);
  }

  /** Resolves once every alert sent so far is out. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Stop retrying (shutdown). */
  stop(): void {
    this.stopped = true;
  }
}
