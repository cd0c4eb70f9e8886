/**
 * Writes the partitions' output to ClickHouse, idempotently (docs/architecture.md, “Exactly once”).
 *
 * Every message a partition consumes enters the queue in stream order with the rows it produced
 * (maybe none); the rows are turned into TabSeparated lines (workers/sink/tsv.ts) and summed into
 * the aggregates there and then (see {@link Batch}), so a flush has little left to compute and the
 * row objects die young. A flush takes the whole queue (between two batches:
 * {@link SinkEvents.boundary}) plus, when due, the partitions' snapshots, and writes the tables of
 * the registry (workers/sink/tables.ts) in its order, ending with `checkpoints` and `fraud_state`. Each table gets ONE insert (one block: the
 * queue is bounded well below ClickHouse's 1M-row block), so for every partition a table holds
 * exactly the rows of the messages up to some sequence. The order matters for recovery
 * (workers/runtime/recovery.ts): the snapshots land after the checkpoint, so their version is never
 * ahead of the rows (recovery resumes from the older of the two). Only then are the messages
 * acknowledged to JetStream.
 *
 * An insert whose outcome is unknown (timeout, connection reset, server stopped mid-request) may
 * or may not have landed. The sink retries the same flush, and before re-inserting a counted table
 * (raw logs and aggregates) asks ClickHouse how far each partition got in that table and skips what
 * is there, so a retry never writes a row twice. Snapshots, checkpoints and partition rules are
 * ReplacingMergeTree rows keyed by version, `click_lookup` is only ever read by id and
 * `visitor_clicks` by visitor, deduplicated by click id: writing one twice changes nothing.
 */
import { insertStream } from '../../schema/clickhouse/client.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickRow } from './clickRow.ts';
import { clickMinutes, creditMinutes, eventMinutes, isVisitorTouch, lookupRow, type AggregateRow, type MinuteSums } from './aggregates.ts';
import { LineBuffer, slicedLines } from './lineBuffer.ts';
import { landedSeqs, type Landed } from './landed.ts';
import type { OutboxItem } from './outbox.ts';
import { TsvEncoder } from './tsv.ts';
import { COUNTED_TABLES, RAW_TABLES, TABLES, type AccrualRow, type FraudStateRow, type RawRows, type RawTable, type SumInputs, type Table } from './tables.ts';

/** A consumed message and the rows it produced. */
export interface QueuedMessage {
  partition: number;
  seq: number;
  raw: RawRows;
  /** Summed into `credit_minutes`, not stored. */
  creditParts: SumInputs['creditParts'];
  /** The attribution rules (canonical JSON) this message put in force, if it was a `rules` message. */
  rules?: string;
  /** What the message sends out once its rows are committed. */
  outbox?: OutboxItem[];
  /** Running RevShare figures (`revshare_accruals`): the latest of an id wins. */
  accruals?: AccrualRow[];
}

/** A batch a consumer delivered, once its messages are queued ({@link ClickHouseSink.delivered}). */
export interface DeliveredBatch {
  /** The consumer's name: a flush acknowledges each consumer once, with its last batch. */
  consumer: string;
  /** The partitions the consumer delivers: each has applied every one of its messages up to `seq`. */
  partitions: readonly number[];
  /** Stream sequence of the batch's last message. */
  seq: number;
  /** Messages in the batch. */
  count: number;
  /** Acknowledges the batch, and with it everything the consumer delivered before (JetStream AckAll). */
  ack: () => void;
}

/** The snapshots a flush writes: taken when the flush takes the queue, so they match its messages. */
export interface Snapshots {
  /** Asked for when their table's turn comes: the rows may be serialized meanwhile (workers/runtime/copyOnWriteSnapshot.ts). */
  fraud(): FraudStateRow[];
}

/** What the sink reports back. */
export interface SinkEvents {
  /** A flush took `ms` for `rows` rows. */
  flushed(rows: number, ms: number): void;
  /** A flush failed; it will be retried. */
  failed(err: unknown): void;
  /**
   * Asked before a flush takes the queue: null when it may take it now, else a promise after which
   * it takes it before anything else runs — so the host can make that a moment between two batches.
   */
  boundary(): Promise<void> | null;
  /** Awaited after a flush takes the queue and before it writes: what its messages sent elsewhere must be out first. */
  beforeWrite(): Promise<void>;
  /** Awaited once the counted tables of a flush landed, before its checkpoint: send what its messages send after commit. */
  committed(outbox: readonly OutboxItem[]): Promise<void>;
}

type SumTable = Extract<(typeof TABLES)[number], { kind: 'summing' }>['name'];

const lines = (rows: readonly object[], tsv: TsvEncoder): string => {
  let text = '';
  for (const r of rows) text += `${tsv.line(r)}\n`;
  return text;
};

/** An encoder per table; `visitor_clicks` is written with the lines made for `click_lookup`, so it shares its encoder. */
function encoders(): Record<Table, TsvEncoder> {
  const byTable = Object.fromEntries(TABLES.map((t) => [t.name, new TsvEncoder(t.name)])) as Record<Table, TsvEncoder>;
  byTable.visitor_clicks = byTable.click_lookup;
  return byTable;
}

/** What one flush writes, serialized and summed as its messages were queued. */
class Batch {
  messages = 0;
  /** Rows queued (raw rows and credit parts), for the backpressure. */
  rows = 0;
  /** Click and event rows: what the flush metric counts. */
  logRows = 0;
  readonly lastSeqs = new Map<number, number>();
  /**
   * Per partition, the position its checkpoint says: every message of the partition up to it is
   * in this flush or an earlier one — its own last message, or later the last of a batch its
   * consumer delivered (a partition without traffic moves on with the others, so a restart never
   * replays from a quiet partition's last message).
   */
  readonly positions = new Map<number, number>();
  /** Per consumer, the acknowledgement of its last batch. */
  readonly acks = new Map<string, () => void>();
  /** Each table's lines, and with them its columns. */
  readonly tsv = encoders();
  readonly raw = Object.fromEntries(RAW_TABLES.map((t) => [t, new LineBuffer()])) as Record<RawTable, LineBuffer>;
  readonly sums: Record<SumTable, MinuteSums<never, unknown>> = {
    click_minutes: clickMinutes() as MinuteSums<never, unknown>,
    event_minutes: eventMinutes() as MinuteSums<never, unknown>,
    credit_minutes: creditMinutes() as MinuteSums<never, unknown>,
  };
  readonly lookup = new LineBuffer();
  readonly visitors = new LineBuffer();
  readonly rules: Array<{ partition: number; seq: number; rules: string }> = [];
  readonly outbox: OutboxItem[] = [];
  /** Latest running figures by id: an open period changes with nearly every event, one row per flush is enough. */
  readonly accruals = new Map<string, AccrualRow>();

  /** Queue `m`, leaving out the rows of tables that held them at recovery (`fresh` is false for those). */
  add(m: QueuedMessage, fresh: (table: Table) => boolean): void {
    const { partition, seq } = m;
    for (const t of RAW_TABLES) this.rows += m.raw[t].length;
    this.rows += m.creditParts.length;
    this.logRows += m.raw.clicks.length + m.raw.events.length;
    if (seq > (this.lastSeqs.get(partition) ?? 0)) this.lastSeqs.set(partition, seq);
    const inputs: SumInputs = { clicks: m.raw.clicks, events: m.raw.events, creditParts: m.creditParts };
    for (const t of TABLES) {
      switch (t.kind) {
        case 'raw':
          if (fresh(t.name)) this.raw[t.name].append(partition, seq, m.raw[t.name] as object[], this.tsv[t.name]);
          break;
        case 'summing':
          if (inputs[t.from].length > 0 && fresh(t.name)) this.sums[t.name].add(partition, inputs[t.from] as never[]);
          break;
        case 'lookup':
        case 'replacing':
          break;
        default:
          unhandled(t);
      }
    }
    if (m.raw.clicks.length > 0) {
      // `visitor_clicks` holds the same line as `click_lookup` for a visitor's touch: made once.
      const made = m.raw.clicks.map((r) => this.tsv.click_lookup.line(lookupRow(r)));
      this.lookup.appendLines(partition, seq, made);
      this.visitors.appendLines(partition, seq, made.filter((_, i) => isVisitorTouch(m.raw.clicks[i] as ClickRow)));
    }
    if (m.rules !== undefined) this.rules.push({ partition, seq, rules: m.rules });
    if (m.outbox) this.outbox.push(...m.outbox);
    for (const a of m.accruals ?? []) this.accruals.set(a.id, a);
  }

  /** Count a delivered batch whose messages were added, and move its partitions' positions. */
  delivered(d: DeliveredBatch): void {
    this.messages += d.count;
    this.acks.set(d.consumer, d.ack);
    for (const p of d.partitions) if (d.seq > (this.positions.get(p) ?? 0)) this.positions.set(p, d.seq);
  }

  /** The checkpoints of this flush: per partition, the later of its last message and its position. */
  checkpoints(): Array<{ partition: number; seq: number }> {
    const at = new Map(this.positions);
    for (const [p, seq] of this.lastSeqs) if (seq > (at.get(p) ?? 0)) at.set(p, seq);
    return [...at].map(([partition, seq]) => ({ partition, seq }));
  }
}

/** The compiler names a table kind (or name) a switch forgot. */
function unhandled(t: never): never {
  throw new Error(`table ${JSON.stringify(t)} is not handled`);
}

/** One flush: what it writes, which tables already have it, and per table what had landed before a retry. */
interface Flush {
  batch: Batch;
  snapshots: Snapshots;
  done: Set<Table>;
  uncertain: Set<Table>;
  landed: Landed;
  /** Its outbox went out (after the counted tables, before the checkpoint). */
  sent: boolean;
}

/** The last counted table in write order: after it, a flush's outbox goes out. */
const LAST_COUNTED = COUNTED_TABLES[COUNTED_TABLES.length - 1] as Table;

/** Queue and flusher of everything the partitions write. */
export class ClickHouseSink {
  private queue = new Batch();
  private pending: Flush | undefined;
  private running: Promise<void> | undefined;
  /**
   * A flush was asked for while one ran. Only then does the next start at once: starting one
   * whenever messages arrived during the last (always, under steady traffic) kept ClickHouse
   * inserting back to back, each flush a dozen small inserts and parts to merge, and it doubled
   * the time a fraud alert took to go through the worker (bench fraud at 1,000 events/s, p50).
   */
  private again = false;

  /**
   * @param landed what each counted table held at recovery: rows of replayed messages at or below
   *   are not written again (rows of later messages never are).
   */
  constructor(
    private readonly ch: ClickHouseClient,
    private readonly snapshots: () => Snapshots,
    private readonly events: SinkEvents,
    private readonly landed: ReadonlyMap<Table, ReadonlyMap<number, number>> = new Map(),
  ) {}

  /** Rows waiting (queued or in a flush not yet written). */
  get depth(): number {
    return this.queue.rows + (this.pending?.batch.rows ?? 0);
  }

  /** Messages waiting. */
  get messages(): number {
    return this.queue.messages + (this.pending?.batch.messages ?? 0);
  }

  /** Queue the output of an applied message (call {@link delivered} after its batch's). */
  push(m: QueuedMessage): void {
    this.queue.add(m, (table) => m.seq > (this.landed.get(table)?.get(m.partition) ?? 0));
  }

  /** A consumer's batch was applied and its messages' output pushed: a flush acknowledges it once written. */
  delivered(d: DeliveredBatch): void {
    this.queue.delivered(d);
  }

  /**
   * Write what is queued (one flush at a time); rejects when ClickHouse refuses, keeping everything
   * for the retry. Asked for while a flush runs, the next one starts as soon as that one ends.
   */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    // Asked for during this flush, or not at all: a request before a failed one is not carried over.
    this.again = false;
    if (!this.pending && this.queue.messages > 0) {
      const later = this.events.boundary();
      if (later) await later;
      this.pending = { batch: this.queue, snapshots: this.snapshots(), done: new Set(), uncertain: new Set(), landed: new Map(), sent: false };
      this.queue = new Batch();
    }
    const f = this.pending;
    if (!f) return;
    const t0 = performance.now();
    await this.events.beforeWrite();
    await this.write(f);
    this.pending = undefined;
    this.events.flushed(f.batch.logRows, performance.now() - t0);
    for (const ack of f.batch.acks.values()) ack();
    if (this.again) await this.run();
  }

  private async write(f: Flush): Promise<void> {
    const b = f.batch;
    // After an uncertain insert: how far each partition got in the table.
    const landedBefore = (table: Table, partition: number) => f.landed.get(table)?.get(partition) ?? 0;
    // Each table's body, built only when the table's turn comes.
    const body = (t: (typeof TABLES)[number]): string | Buffer | Promise<Buffer> => {
      switch (t.kind) {
        case 'raw':
          return b.raw[t.name].body((partition, seq) => seq > landedBefore(t.name, partition));
        case 'summing':
          return slicedLines<AggregateRow>(b.sums[t.name].rows(b.lastSeqs, (p, seq) => seq <= landedBefore(t.name, p)), b.tsv[t.name]);
        case 'lookup':
          switch (t.name) {
            case 'click_lookup':
              return b.lookup.body();
            case 'visitor_clicks':
              return b.visitors.body();
            default:
              return unhandled(t);
          }
        case 'replacing':
          switch (t.name) {
            case 'revshare_accruals':
              return lines([...b.accruals.values()], b.tsv[t.name]);
            case 'partition_rules':
              return lines(b.rules, b.tsv[t.name]);
            case 'checkpoints':
              return lines(b.checkpoints(), b.tsv[t.name]);
            case 'fraud_state':
              return slicedLines(f.snapshots.fraud(), b.tsv[t.name]);
            default:
              return unhandled(t);
          }
        default:
          return unhandled(t);
      }
    };
    for (const t of TABLES) {
      const table = t.name;
      if (!f.done.has(table)) {
        if (f.uncertain.has(table) && t.counted) {
          f.landed.set(table, await landedSeqs(this.ch, table, [...b.lastSeqs.keys()]));
          f.uncertain.delete(table);
        }
        const text = await body(t);
        if (text.length > 0) {
          try {
            await insertStream(this.ch, b.tsv[table].insertQuery(), [text]);
          } catch (err) {
            f.uncertain.add(table);
            this.events.failed(err);
            throw err;
          }
        }
        f.done.add(table);
      }
      if (table === LAST_COUNTED && !f.sent) {
        await this.events.committed(b.outbox);
        f.sent = true;
      }
    }
  }
}
