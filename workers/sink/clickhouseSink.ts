/**
 * Writes the partitions' output to ClickHouse, idempotently (DESIGN.md principle 4).
 *
 * Every message a partition consumes enters the queue in stream order with the rows it produced
 * (maybe none); the rows are turned into JSON lines and summed into the aggregates there and then
 * (see {@link Batch}), so a flush has little left to compute and the row objects die young. A
 * flush takes the whole queue plus the snapshots of the players those messages changed, and
 * writes, in this order: `clicks`, `click_lookup`, `visitor_clicks`, `click_minutes`,
 * `events`, `event_minutes`, `attribution_credits`, `credit_minutes`, `fraud_alerts`,
 * `partition_rules`, `player_state`, `checkpoints`, `fraud_state`. Each table gets ONE insert (one block: the queue is bounded well below ClickHouse's 1M-row block),
 * so for every partition a table holds exactly the rows of the messages up to some sequence. The
 * order matters for recovery (workers/runtime/recovery.ts): a player snapshot never lands before
 * the event rows it accounts for, and the fraud state lands after the checkpoint, so its version
 * is never ahead of the rows (recovery resumes from the older of the two). Only then are the
 * messages acknowledged to JetStream.
 *
 * An insert whose outcome is unknown (timeout, connection reset, server stopped mid-request) may
 * or may not have landed. The sink retries the same flush, and before re-inserting a counted table
 * (raw logs and aggregates) asks ClickHouse how far each partition got in that table and skips what
 * is there, so a retry never writes a row twice. Snapshots, checkpoints and partition rules are
 * ReplacingMergeTree rows keyed by version, `click_lookup` is only ever read by id and
 * `visitor_clicks` by visitor, deduplicated by click id: writing one twice changes nothing.
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickRow } from './clickRow.ts';
import { toJsonLine, type EventRow } from './eventRow.ts';
import { clickMinutes, creditMinutes, eventMinutes, isVisitorTouch, lookupRow, type AggregateRow, type MinuteSums } from './aggregates.ts';
import type { CreditPart, CreditRow } from './creditRow.ts';
import type { AlertRow } from './alertRow.ts';
import type { FraudStateRow } from '../runtime/partition.ts';
import { LineBuffer, slicedLines } from './lineBuffer.ts';
import { landedSeqs } from '../runtime/recovery.ts';

/** A consumed message and the rows it produced. */
export interface QueuedMessage {
  partition: number;
  seq: number;
  clicks: ClickRow[];
  events: EventRow[];
  credits: CreditRow[];
  /** Summed into `credit_minutes`, not stored. */
  creditParts: CreditPart[];
  /** The attribution rules (canonical JSON) this message put in force, if it was a `rules` message. */
  rules?: string;
  alerts: AlertRow[];
  /**
   * Acknowledges the message, and with it every earlier one of its partition (JetStream AckAll):
   * called once they are durable in ClickHouse. A flush keeps only the last of each partition, so
   * the queue does not hold on to every consumed message.
   */
  ack?: () => void;
}

/** A player snapshot row. */
export interface SnapshotRow {
  partition: number;
  player_key: string;
  seq: number;
  state: string;
}

/** The snapshots a flush writes: taken when the flush takes the queue, so they match its messages. */
export interface Snapshots {
  /** Asked for when their table's turn comes: the rows may be serialized meanwhile (workers/runtime/copyOnWriteSnapshot.ts). */
  players(): SnapshotRow[];
  fraud(): FraudStateRow[];
}

/** What the sink reports back. */
export interface SinkEvents {
  /** A flush took `ms` for `rows` rows. */
  flushed(rows: number, ms: number): void;
  /** A flush failed; it will be retried. */
  failed(err: unknown): void;
  /** Awaited after a flush takes the queue and before it writes: what its messages sent elsewhere must be out first. */
  beforeWrite(): Promise<void>;
}

/** Tables a flush writes. */
export type Table =
  | 'clicks' | 'click_lookup' | 'visitor_clicks' | 'click_minutes' | 'events' | 'event_minutes' | 'attribution_credits' | 'credit_minutes'
  | 'fraud_alerts' | 'partition_rules' | 'player_state' | 'checkpoints' | 'fraud_state';

/** Tables where a row written twice would count twice: before a retry, what already landed is skipped. */
export const COUNTED_TABLES: readonly Table[] = ['clicks', 'click_minutes', 'events', 'event_minutes', 'attribution_credits', 'credit_minutes', 'fraud_alerts'];

/** The counted raw logs: one entry of lines per message, so a retry can leave out the messages that landed. */
type RawTable = 'clicks' | 'events' | 'attribution_credits' | 'fraud_alerts';
/** The counted aggregates: one row per partition and key, all tagged with the partition's last sequence. */
type SumTable = 'click_minutes' | 'event_minutes' | 'credit_minutes';

const json = (r: object): string => JSON.stringify(r);
const lines = <R>(rows: readonly R[], line: (r: R) => string): string => {
  let text = '';
  for (const r of rows) text += `${line(r)}\n`;
  return text;
};

/** What one flush writes, serialized and summed as its messages were queued. */
class Batch {
  messages = 0;
  /** Rows queued (raw rows, credit parts and alerts), for the backpressure. */
  rows = 0;
  /** Click and event rows: what the flush metric counts. */
  logRows = 0;
  readonly lastSeqs = new Map<number, number>();
  /** Per partition, the acknowledgement of its last message. */
  readonly acks = new Map<number, () => void>();
  readonly raw: Record<RawTable, LineBuffer> = { clicks: new LineBuffer(), events: new LineBuffer(), attribution_credits: new LineBuffer(), fraud_alerts: new LineBuffer() };
  readonly sums: { click_minutes: MinuteSums<ClickRow, unknown>; event_minutes: MinuteSums<EventRow, unknown>; credit_minutes: MinuteSums<CreditPart, unknown> } = {
    click_minutes: clickMinutes(),
    event_minutes: eventMinutes(),
    credit_minutes: creditMinutes(),
  };
  readonly lookup = new LineBuffer();
  readonly visitors = new LineBuffer();
  readonly rules: Array<{ partition: number; seq: number; rules: string }> = [];

  /** Queue `m`, leaving out the rows of tables that held them at recovery (`fresh` is false for those). */
  add(m: QueuedMessage, fresh: (table: Table) => boolean): void {
    const { partition, seq } = m;
    this.messages++;
    this.rows += m.clicks.length + m.events.length + m.credits.length + m.creditParts.length + m.alerts.length;
    this.logRows += m.clicks.length + m.events.length;
    if (seq > (this.lastSeqs.get(partition) ?? 0)) {
      this.lastSeqs.set(partition, seq);
      if (m.ack) this.acks.set(partition, m.ack);
    }
    const raw = <R>(table: RawTable, rows: readonly R[], line: (r: R) => string) => {
      if (fresh(table)) this.raw[table].append(partition, seq, rows, line);
    };
    raw('clicks', m.clicks, json);
    raw('events', m.events, toJsonLine);
    raw('attribution_credits', m.credits, json);
    raw('fraud_alerts', m.alerts, json);
    if (m.clicks.length > 0) {
      // `visitor_clicks` holds the same line as `click_lookup` for a visitor's touch: made once.
      const made = m.clicks.map((r) => json(lookupRow(r)));
      const asIs = (line: string) => line;
      this.lookup.append(partition, seq, made, asIs);
      this.visitors.append(partition, seq, made.filter((_, i) => isVisitorTouch(m.clicks[i] as ClickRow)), asIs);
      if (fresh('click_minutes')) this.sums.click_minutes.add(partition, m.clicks);
    }
    if (m.events.length > 0 && fresh('event_minutes')) this.sums.event_minutes.add(partition, m.events);
    if (m.creditParts.length > 0 && fresh('credit_minutes')) this.sums.credit_minutes.add(partition, m.creditParts);
    if (m.rules !== undefined) this.rules.push({ partition, seq, rules: m.rules });
  }
}

/** One flush: what it writes, which tables already have it, and per table what had landed before a retry. */
interface Flush {
  batch: Batch;
  snapshots: Snapshots;
  done: Set<Table>;
  uncertain: Set<Table>;
  landed: Map<Table, Map<number, number>>;
}

/** Insert a JSONEachRow body (pre-serialized: the client's own serializer would quote decimals). */
async function insertBody(ch: ClickHouseClient, table: string, body: string | Buffer): Promise<void> {
  const r = await ch.exec({ query: `INSERT INTO ${table} FORMAT JSONEachRow`, values: Readable.from([body]) });
  // A dangling response stream would poison the socket (DESIGN.md pitfalls).
  r.stream.resume();
  await new Promise<void>((resolve, reject) => r.stream.once('end', resolve).once('error', reject));
}

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

  /** Queue a consumed message. */
  push(m: QueuedMessage): void {
    this.queue.add(m, (table) => m.seq > (this.landed.get(table)?.get(m.partition) ?? 0));
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
      this.pending = { batch: this.queue, snapshots: this.snapshots(), done: new Set(), uncertain: new Set(), landed: new Map() };
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
    const raw = (table: RawTable) => () => b.raw[table].body((partition, seq) => seq > landedBefore(table, partition));
    const sums = (table: SumTable, line: (r: AggregateRow) => string) => () =>
      slicedLines(b.sums[table].rows(b.lastSeqs, (p, seq) => seq <= landedBefore(table, p)), line);
    // Each table's body, built only when the table's turn comes.
    const steps: Array<[Table, () => string | Buffer | Promise<Buffer>]> = [
      ['clicks', raw('clicks')],
      ['click_lookup', () => b.lookup.body()],
      ['visitor_clicks', () => b.visitors.body()],
      ['click_minutes', sums('click_minutes', json)],
      ['events', raw('events')],
      ['event_minutes', sums('event_minutes', toJsonLine)],
      ['attribution_credits', raw('attribution_credits')],
      ['credit_minutes', sums('credit_minutes', toJsonLine)],
      ['fraud_alerts', raw('fraud_alerts')],
      ['partition_rules', () => lines(b.rules, json)],
      ['player_state', () => slicedLines(f.snapshots.players(), json)],
      ['checkpoints', () => lines([...b.lastSeqs].map(([partition, seq]) => ({ partition, seq })), json)],
      ['fraud_state', () => slicedLines(f.snapshots.fraud(), json)],
    ];
    for (const [table, body] of steps) {
      if (f.done.has(table)) continue;
      if (f.uncertain.has(table) && COUNTED_TABLES.includes(table)) {
        f.landed.set(table, await landedSeqs(this.ch, table, [...b.lastSeqs.keys()]));
        f.uncertain.delete(table);
      }
      const text = await body();
      if (text.length > 0) {
        try {
          await insertBody(this.ch, table, text);
        } catch (err) {
          f.uncertain.add(table);
          this.events.failed(err);
          throw err;
        }
      }
      f.done.add(table);
    }
  }
}
