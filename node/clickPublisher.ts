/**
 * Batches clicks per partition and publishes them to JetStream (docs/architecture.md, “Principles”,
 * 1: the edge never waits). The redirect only calls {@link ClickPublisher.add}; nothing here ever
 * makes it wait. A batch goes out after `batchMaxEvents` clicks or `batchMaxDelayMs`, with
 * `Nats-Msg-Id` = `<edge>.<seq>` so a retried publish is stored once. When NATS is unreachable,
 * slow (too many publishes in flight) or a publish fails, batches go to the disk spool; while the
 * spool holds anything, new batches queue behind it so partitions keep their order, and a drain
 * loop replays it once NATS answers.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../schema/config.ts';
import { natsNames, type NatsNames } from '../schema/subjects.ts';
import { ClickBatchWriter, type ClickRecorded } from '../schema/wire.ts';
import type { Spool, SpooledBatch } from './spool.ts';
import type { EdgeMetrics } from './metrics.ts';
import type { AckedPublisher } from './ackedPublisher.ts';

/** Spooled batches replayed per ack round trip. */
const DRAIN_WINDOW = 128;

/** Batches clicks per partition into JetStream, spooling when it cannot. */
export class ClickPublisher {
  private readonly names: NatsNames;
  private readonly pending: ClickBatchWriter[];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private inFlight = 0;
  private inFlightClicks = 0;
  private connected = true;
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly acks: AckedPublisher,
    private readonly cfg: ClusterConfig,
    private readonly instance: string,
    private readonly spool: Spool,
    private readonly metrics: EdgeMetrics,
    private readonly log: Logger,
  ) {
    this.names = natsNames(cfg);
    this.pending = Array.from({ length: cfg.partitions }, () => new ClickBatchWriter());
    this.metrics.spoolDepth.set(spool.depth);
    void this.watchStatus();
    if (spool.depth > 0) void this.drain();
  }

  /** Queue a click for its partition. Never blocks, never throws for I/O. */
  add(partition: number, click: ClickRecorded): void {
    const batch = this.pending[partition] as ClickBatchWriter;
    batch.add(click);
    if (batch.count >= this.cfg.edge.batchMaxEvents) this.flushPartition(partition);
    else if (!this.timer) this.timer = setTimeout(() => this.flushAll(), this.cfg.edge.batchMaxDelayMs);
  }

  /** Clicks accepted and not yet acknowledged by JetStream nor spooled. */
  get unconfirmed(): number {
    return this.pending.reduce((n, b) => n + b.count, 0) + this.inFlightClicks;
  }

  private flushAll(): void {
    this.timer = undefined;
    for (let p = 0; p < this.pending.length; p++) if ((this.pending[p] as ClickBatchWriter).count > 0) this.flushPartition(p);
  }

  private flushPartition(p: number): void {
    const writer = this.pending[p] as ClickBatchWriter;
    const clicks = writer.count;
    const seq = ++this.seq;
    const batch: SpooledBatch = {
      subject: this.names.partitionSubject(p),
      msgId: `${this.instance}.${seq}`,
      payload: writer.finish(this.instance, seq),
    };
    if (!this.connected || this.spool.depth > 0 || this.inFlight >= this.cfg.edge.maxInFlightBatches) this.toSpool(batch);
    else this.publish(batch, clicks);
  }

  private publish(b: SpooledBatch, clicks: number): void {
    this.inFlight++;
    this.inFlightClicks += clicks;
    const t0 = performance.now();
    this.acks.publish(b.subject, b.payload, b.msgId, (err) => {
      this.inFlight--;
      this.inFlightClicks -= clicks;
      if (err) {
        this.log.warn({ err: err.message, msgId: b.msgId }, 'publish failed; batch spooled');
        this.toSpool(b);
      } else {
        this.metrics.publishLatency.observe(performance.now() - t0);
      }
      this.settle();
    });
  }

  private send(b: SpooledBatch): Promise<void> {
    return new Promise((resolve, reject) => this.acks.publish(b.subject, b.payload, b.msgId, (err) => (err ? reject(err) : resolve())));
  }

  private toSpool(b: SpooledBatch): void {
    if (this.spool.depth === 0) {
      this.log.warn({ connected: this.connected, inFlight: this.inFlight }, 'clicks going to the disk spool until JetStream catches up');
    }
    this.spool.append(b);
    this.metrics.spoolDepth.set(this.spool.depth);
    if (this.connected) void this.drain();
  }

  /**
   * Replay the spool oldest first while NATS answers: a window of batches is published at once
   * (one ack round trip per window, not per batch) and removed only when all of it is acked; a
   * window that fails is sent again whole, its msg ids making the retried part a no-op.
   */
  private drain(): Promise<void> {
    this.draining ??= this.replay().finally(() => {
      this.draining = undefined;
      this.settle();
      if (this.spool.depth === 0 && this.connected && !this.closed) this.log.info('spool drained');
    });
    return this.draining;
  }

  private async replay(): Promise<void> {
    for (let next = this.spool.oldest(DRAIN_WINDOW); next && this.connected && !this.closed; next = this.spool.oldest(DRAIN_WINDOW)) {
      const t0 = performance.now();
      try {
        await Promise.all(next.batches.map((b) => this.send(b)));
      } catch (err) {
        this.log.warn({ err: String(err), depth: this.spool.depth }, 'spool replay paused');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      this.metrics.publishLatency.observe(performance.now() - t0);
      next.done();
      this.metrics.spoolDepth.set(this.spool.depth);
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warn('NATS disconnected: clicks go to the spool');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log.info({ depth: this.spool.depth }, 'NATS reconnected: replaying the spool');
        void this.drain();
      }
    }
  }

  private settle(): void {
    if (this.inFlight === 0 && !this.draining && (this.spool.depth === 0 || !this.connected || this.closed)) {
      for (const f of this.idle.splice(0)) f();
    }
  }

  /**
   * Flush what is pending and wait (up to `timeoutMs`) for publishes and the drain to finish.
   * Batches still unacknowledged then go to the spool file, for the next edge to replay (their
   * msg ids make that a no-op for any JetStream did store); the caller closes the spool after
   * this resolves.
   */
  async close(timeoutMs: number): Promise<void> {
    clearTimeout(this.timer);
    this.flushAll();
    const done = new Promise<void>((r) => {
      this.idle.push(r);
      this.settle();
    });
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
    this.closed = true;
    // The replay stops after its current window; the spool file must stay open until then.
    await this.draining;
  }
}
