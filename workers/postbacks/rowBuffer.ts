/**
 * Rows of one ClickHouse table, held and inserted in batches: at most one insert per interval (or
 * sooner once a batch is full), never one per row. A failed insert keeps its rows for the next
 * round; the tables it writes are ReplacingMergeTree keyed by the rows' identity, so an insert
 * that landed although it reported failure and is written again changes nothing.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';

/** Rows per insert; a fuller buffer inserts before its interval is over. */
const BATCH_ROWS = 10_000;
/** Rows held while ClickHouse is away; beyond that the oldest are dropped (and counted in the log). */
const MAX_HELD_ROWS = 200_000;
/** Rounds a stopping buffer makes before it gives up its last rows. */
const FINAL_ROUNDS = 3;

/** A table's buffered rows. */
export class RowBuffer<R extends object> {
  private rows: R[] = [];
  private flushing: Promise<void> | undefined;
  private dropped = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ch: ClickHouseClient,
    private readonly table: string,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
  }

  /** Rows waiting for their insert. */
  get depth(): number {
    return this.rows.length;
  }

  /** Hold a row for the next insert. */
  push(row: R): void {
    this.rows.push(row);
    if (this.rows.length > MAX_HELD_ROWS) {
      this.rows.shift();
      this.dropped++;
    }
    if (this.rows.length >= BATCH_ROWS) void this.flush();
  }

  /** Insert what is held (one insert per batch); resolves when done or failed (the rows are kept then). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.rows.length === 0) return Promise.resolve();
    this.flushing = this.insertHeld().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async insertHeld(): Promise<void> {
    if (this.dropped > 0) {
      this.log.error({ table: this.table, dropped: this.dropped }, 'ClickHouse away too long: oldest rows dropped');
      this.dropped = 0;
    }
    while (this.rows.length > 0) {
      const batch = this.rows.splice(0, BATCH_ROWS);
      try {
        await this.ch.insert({ table: this.table, values: batch, format: 'JSONEachRow' });
      } catch (err) {
        this.rows.unshift(...batch);
        this.log.warn({ table: this.table, err: String(err), held: this.rows.length }, 'insert failed; rows kept, will retry');
        return;
      }
    }
  }

  /** Stop the interval and insert what is left (a few tries). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (let round = 0; round < FINAL_ROUNDS && (this.rows.length > 0 || this.flushing); round++) await this.flush();
    if (this.rows.length > 0) this.log.error({ table: this.table, lost: this.rows.length }, 'rows not inserted at stop');
  }
}
