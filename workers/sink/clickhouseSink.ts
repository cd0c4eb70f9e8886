/**
 * Writes the partitions' rows to ClickHouse, idempotently (DESIGN.md principle 4).
 *
 * Every message a partition consumes enters the queue in stream order, with the rows it produced
 * (maybe none). A flush inserts a prefix of the queue, cut at message boundaries, as ONE insert
 * (one block: at most `flushMaxRows` rows), so for every partition ClickHouse holds exactly the
 * messages up to some sequence — which is the resume point a restarted worker reads back
 * (`max(seq)` per partition). Only then are the messages acknowledged to JetStream.
 *
 * An insert whose outcome is unknown (timeout, connection reset, server stopped mid-request) may
 * or may not have landed. Before trying again the sink asks ClickHouse how far each partition got
 * and drops what is already there, so a retry never writes a row twice.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickRow } from './clickRow.ts';
import { resumePoints } from '../runtime/recovery.ts';

/** A consumed message and the rows it produced. */
export interface QueuedMessage {
  partition: number;
  seq: number;
  rows: ClickRow[];
}

/** What the sink reports back. */
export interface SinkEvents {
  /** Messages of `partition` up to `seq` are durable in ClickHouse. */
  durable(partition: number, seq: number): void;
  /** A flush took `ms` for `rows` rows. */
  flushed(rows: number, ms: number): void;
  /** A flush failed; it will be retried. */
  failed(err: unknown): void;
}

/** Queue and flusher of the raw click log. */
export class ClickHouseSink {
  private queue: QueuedMessage[] = [];
  private queuedRows = 0;
  private uncertain = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly ch: ClickHouseClient,
    private readonly table: string,
    private readonly maxRows: number,
    private readonly events: SinkEvents,
  ) {}

  /** Rows waiting. */
  get depth(): number {
    return this.queuedRows;
  }

  /** Messages waiting (with or without rows). */
  get messages(): number {
    return this.queue.length;
  }

  /** Queue a consumed message. */
  push(m: QueuedMessage): void {
    this.queue.push(m);
    this.queuedRows += m.rows.length;
  }

  /** Flush everything queued now (one flush at a time); rejects when ClickHouse refuses, leaving the queue intact. */
  flush(): Promise<void> {
    this.running ??= this.flushAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async flushAll(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.uncertain) await this.dropLanded();
      const chunk = this.takeChunk();
      const rows = chunk.flatMap((m) => m.rows);
      if (rows.length > 0) {
        const t0 = performance.now();
        try {
          await this.ch.insert({ table: this.table, values: rows, format: 'JSONEachRow' });
        } catch (err) {
          this.uncertain = true;
          this.queue = [...chunk, ...this.queue];
          this.queuedRows += rows.length;
          this.events.failed(err);
          throw err;
        }
        this.events.flushed(rows.length, performance.now() - t0);
      }
      this.reportDurable(chunk);
    }
  }

  /** The longest queue prefix of whole messages within `maxRows` (at least one message). */
  private takeChunk(): QueuedMessage[] {
    let n = 0;
    let rows = 0;
    while (n < this.queue.length) {
      const r = (this.queue[n] as QueuedMessage).rows.length;
      if (n > 0 && rows + r > this.maxRows) break;
      rows += r;
      n++;
    }
    this.queuedRows -= rows;
    return this.queue.splice(0, n);
  }

  /** After an insert of unknown outcome: drop queued messages ClickHouse already holds. */
  private async dropLanded(): Promise<void> {
    const partitions = [...new Set(this.queue.map((m) => m.partition))];
    const landed = await resumePoints(this.ch, this.table, partitions);
    const kept: QueuedMessage[] = [];
    const dropped: QueuedMessage[] = [];
    for (const m of this.queue) ((landed.get(m.partition) ?? 0) >= m.seq ? dropped : kept).push(m);
    this.queue = kept;
    this.queuedRows = kept.reduce((n, m) => n + m.rows.length, 0);
    this.uncertain = false;
    this.reportDurable(dropped);
  }

  private reportDurable(chunk: QueuedMessage[]): void {
    const last = new Map<number, number>();
    for (const m of chunk) last.set(m.partition, m.seq);
    for (const [p, seq] of last) this.events.durable(p, seq);
  }
}
