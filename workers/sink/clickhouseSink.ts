/**
 * Writes the partitions' output to ClickHouse, idempotently (DESIGN.md principle 4).
 *
 * Every message a partition consumes enters the queue in stream order with the rows it produced
 * (maybe none). A flush takes the whole queue plus the snapshots of the players those messages
 * changed, and writes, in this order: `clicks`, `click_lookup`, `visitor_clicks`, `click_minutes`,
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
import { clickLookupRows, clickMinuteRows, creditMinuteRows, eventMinuteRows, lastSeqs, visitorClickRows } from './aggregates.ts';
import type { CreditPart, CreditRow } from './creditRow.ts';
import type { AlertRow } from './alertRow.ts';
import type { FraudStateRow } from '../runtime/partition.ts';
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
  players: SnapshotRow[];
  fraud: FraudStateRow[];
}

/** What the sink reports back. */
export interface SinkEvents {
  /** Messages of `partition` up to `seq` are durable in ClickHouse. */
  durable(partition: number, seq: number): void;
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
const COUNTED: ReadonlySet<Table> = new Set(COUNTED_TABLES);

/** One flush: what it writes, which tables already have it, and per table what had landed before a retry. */
interface Flush {
  messages: QueuedMessage[];
  snapshots: Snapshots;
  done: Set<Table>;
  uncertain: Set<Table>;
  landed: Map<Table, Map<number, number>>;
}

/** Rows serialized between two turns of the event loop, while a flush may still yield. */
const ROWS_PER_SLICE = 2_000;
/**
 * How long a flush lets the partition loops run between its slices. A slice at a time, a flush
 * of a normal load never holds the loop for long, and the messages waiting behind it (a
 * registration's resolution, a forward, an alert) go on: bench fraud's trigger → pause p50 was
 * 207 and 260 ms in two runs with flushes in one go, 43–199 ms in four runs like this. But each
 * turn waits behind every partition loop, so a flush of a big queue that kept yielding took 5–20 s
 * under bench mixed and the lag kept growing: past this budget a flush finishes in one go.
 */
const YIELD_BUDGET_MS = 100;

/** The JSONEachRow body of `rows`, a slice at a time with turns of the event loop between until `yieldUntil`. */
async function serialize<R>(rows: readonly R[], line: (row: R) => string, yieldUntil: number): Promise<string> {
  let body = '';
  for (let i = 0; i < rows.length; i++) {
    body += `${line(rows[i] as R)}\n`;
    if ((i + 1) % ROWS_PER_SLICE === 0 && performance.now() < yieldUntil) await new Promise((r) => setImmediate(r));
  }
  return body;
}

/** Insert a JSONEachRow body (pre-serialized: the client's own serializer would quote decimals). */
async function insertBody(ch: ClickHouseClient, table: string, body: string): Promise<void> {
  const r = await ch.exec({ query: `INSERT INTO ${table} FORMAT JSONEachRow`, values: Readable.from([body]) });
  // A dangling response stream would poison the socket (DESIGN.md pitfalls).
  r.stream.resume();
  await new Promise<void>((resolve, reject) => r.stream.once('end', resolve).once('error', reject));
}

/** Queue and flusher of everything the partitions write. */
export class ClickHouseSink {
  private queue: QueuedMessage[] = [];
  private queuedRows = 0;
  private pending: Flush | undefined;
  /** Rows of the pending flush (kept, not recounted: `depth` is read for every consumed message). */
  private pendingRows = 0;
  private running: Promise<void> | undefined;

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
    return this.queuedRows + this.pendingRows;
  }

  /** Messages waiting. */
  get messages(): number {
    return this.queue.length + (this.pending?.messages.length ?? 0);
  }

  /** Queue a consumed message. */
  push(m: QueuedMessage): void {
    this.queue.push(m);
    this.queuedRows += m.clicks.length + m.events.length + m.credits.length + m.creditParts.length + m.alerts.length;
  }

  /** Write what is queued (one flush at a time); rejects when ClickHouse refuses, keeping everything for the retry. */
  flush(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    if (!this.pending && this.queue.length > 0) {
      this.pending = { messages: this.queue, snapshots: this.snapshots(), done: new Set(), uncertain: new Set(), landed: new Map() };
      this.pendingRows = this.queuedRows;
      this.queue = [];
      this.queuedRows = 0;
    }
    const f = this.pending;
    if (!f) return;
    const t0 = performance.now();
    await this.events.beforeWrite();
    const rows = await this.write(f);
    this.pending = undefined;
    this.pendingRows = 0;
    this.events.flushed(rows, performance.now() - t0);
    for (const [p, seq] of lastSeqs(f.messages)) this.events.durable(p, seq);
    // Messages that arrived during the insert go out now rather than a flush interval later.
    if (this.queue.length > 0) await this.run();
  }

  private async write(f: Flush): Promise<number> {
    const yieldUntil = performance.now() + YIELD_BUDGET_MS;
    let rows = 0;
    // The messages whose rows `table` does not hold yet.
    const todo = (table: Table) =>
      f.messages.filter((m) => m.seq > Math.max(f.landed.get(table)?.get(m.partition) ?? 0, this.landed.get(table)?.get(m.partition) ?? 0));
    const json = (r: object) => JSON.stringify(r);
    // Each table's rows and how one becomes a line; rows are gathered only when the table's turn comes.
    const steps: Array<[Table, () => [readonly object[], (r: never) => string]]> = [
      ['clicks', () => [todo('clicks').flatMap((m) => m.clicks), json]],
      ['click_lookup', () => [clickLookupRows(f.messages), json]],
      ['visitor_clicks', () => [visitorClickRows(f.messages), json]],
      ['click_minutes', () => [clickMinuteRows(todo('click_minutes')), json]],
      ['events', () => [todo('events').flatMap((m) => m.events), toJsonLine]],
      ['event_minutes', () => [eventMinuteRows(todo('event_minutes')), toJsonLine]],
      ['attribution_credits', () => [todo('attribution_credits').flatMap((m) => m.credits), json]],
      ['credit_minutes', () => [creditMinuteRows(todo('credit_minutes')), toJsonLine]],
      ['fraud_alerts', () => [todo('fraud_alerts').flatMap((m) => m.alerts), json]],
      ['partition_rules', () => [f.messages.flatMap((m) => (m.rules === undefined ? [] : [{ partition: m.partition, seq: m.seq, rules: m.rules }])), json]],
      ['player_state', () => [f.snapshots.players, json]],
      ['checkpoints', () => [[...lastSeqs(f.messages)].map(([partition, seq]) => ({ partition, seq })), json]],
      ['fraud_state', () => [f.snapshots.fraud, json]],
    ];
    for (const [table, gather] of steps) {
      if (f.done.has(table)) continue;
      if (f.uncertain.has(table) && COUNTED.has(table)) {
        f.landed.set(table, await landedSeqs(this.ch, table, [...new Set(f.messages.map((m) => m.partition))]));
        f.uncertain.delete(table);
      }
      const [tableRows, line] = gather();
      if (tableRows.length > 0) {
        const body = await serialize(tableRows, line as (r: object) => string, yieldUntil);
        try {
          await insertBody(this.ch, table, body);
        } catch (err) {
          f.uncertain.add(table);
          this.events.failed(err);
          throw err;
        }
      }
      rows += table === 'clicks' || table === 'events' ? tableRows.length : 0;
      f.done.add(table);
    }
    return rows;
  }
}
