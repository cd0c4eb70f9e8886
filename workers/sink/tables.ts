/**
 * The table registry: every ClickHouse table a flush writes, once, in the order a flush writes them
 * (docs/architecture.md, “Exactly once”). Recovery, the sink's retry and the partition loop's rows
 * all read this list; a new table is one entry here and one row function beside the others.
 *
 * Kinds:
 * - `raw`: append-only log rows made by the actors' effects, one entry of lines per message, so a
 *   retry leaves out the messages that landed (`max(seq)` per partition);
 * - `summing`: per-minute aggregates summed in the queue, tagged with the partition's last sequence;
 * - `lookup`: rows read by key only, where a row written twice changes nothing;
 * - `replacing`: versioned state (snapshots, checkpoints, rules, running figures): the latest
 *   version of a key wins, so a row written twice changes nothing.
 * `counted` tables are those where a row written twice would count twice.
 */
import type { AlertRow } from './alertRow.ts';
import type { ClickRow } from './clickRow.ts';
import type { CreditPart, CreditRow } from './creditRow.ts';
import type { EventRow } from './eventRow.ts';
import type { AccrualRow, LedgerRow } from './commissionRow.ts';

/**
 * A row of `fraud_state`, the partition-versioned snapshot: key '' is the partition's own part;
 * `<prefix>:<key>` an actor of a kind kept there (workers/runtime/actorKinds.ts; '' state: gone).
 */
export interface FraudStateRow {
  partition: number;
  key: string;
  seq: number;
  state: string;
}

/** The rows of raw tables a message produced, by table. */
export interface RawRows {
  clicks: ClickRow[];
  events: EventRow[];
  attribution_credits: CreditRow[];
  fraud_alerts: AlertRow[];
  commission_ledger: LedgerRow[];
}

/** A row of `revshare_accruals`, keyed by its `id`: the latest version wins. */
export type { AccrualRow };

/** The raw tables. */
export type RawTable = keyof RawRows;

/** Where the summing tables' inputs come from: the message's raw rows, or parts never stored. */
export interface SumInputs {
  clicks: ClickRow[];
  events: EventRow[];
  creditParts: CreditPart[];
}

/** A table a flush writes. */
export type TableSpec =
  | { name: RawTable; kind: 'raw'; counted: true }
  | { name: 'click_minutes' | 'event_minutes' | 'credit_minutes'; kind: 'summing'; counted: true; from: keyof SumInputs }
  | { name: 'click_lookup' | 'visitor_clicks'; kind: 'lookup'; counted: false }
  | { name: 'revshare_accruals' | 'partition_rules' | 'checkpoints' | 'fraud_state'; kind: 'replacing'; counted: false };

/**
 * Every table, in write order. The order is what recovery relies on: a player snapshot never lands
 * before the event rows it accounts for, and the fraud state lands after the checkpoint, so its
 * version is never ahead of the rows (recovery resumes from the older of the two).
 */
export const TABLES = [
  { name: 'clicks', kind: 'raw', counted: true },
  { name: 'click_lookup', kind: 'lookup', counted: false },
  { name: 'visitor_clicks', kind: 'lookup', counted: false },
  { name: 'click_minutes', kind: 'summing', counted: true, from: 'clicks' },
  { name: 'events', kind: 'raw', counted: true },
  { name: 'event_minutes', kind: 'summing', counted: true, from: 'events' },
  { name: 'attribution_credits', kind: 'raw', counted: true },
  { name: 'credit_minutes', kind: 'summing', counted: true, from: 'creditParts' },
  { name: 'fraud_alerts', kind: 'raw', counted: true },
  { name: 'commission_ledger', kind: 'raw', counted: true },
  { name: 'revshare_accruals', kind: 'replacing', counted: false },
  { name: 'partition_rules', kind: 'replacing', counted: false },
  { name: 'checkpoints', kind: 'replacing', counted: false },
  { name: 'fraud_state', kind: 'replacing', counted: false },
] as const satisfies readonly TableSpec[];

/** Tables a flush writes. */
export type Table = (typeof TABLES)[number]['name'];

/** Tables where a row written twice would count twice: before a retry, what already landed is skipped. */
export const COUNTED_TABLES: readonly Table[] = TABLES.filter((t) => t.counted).map((t) => t.name);

/** The raw tables, in write order. */
export const RAW_TABLES: readonly RawTable[] = TABLES.flatMap((t) => (t.kind === 'raw' ? [t.name] : []));

/** No rows of any raw table. */
export function noRawRows(): RawRows {
  return { clicks: [], events: [], attribution_credits: [], fraud_alerts: [], commission_ledger: [] };
}
