/**
 * What has landed in ClickHouse: for each counted table (workers/sink/tables.ts) and partition,
 * the last message whose rows it holds. Recovery reads it once at start so a replay does not write
 * rows again; the sink reads it after an insert whose outcome is unknown, before retrying it.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Table } from './tables.ts';
import { selectRows } from '../../schema/clickhouse/client.ts';

/** Per counted table and partition, the last message ClickHouse holds rows of: replayed messages at or below are not written again. */
export type Landed = Map<Table, Map<number, number>>;

/** `max(seq)` per partition in `table`; partitions with no rows are absent. */
export async function landedSeqs(ch: ClickHouseClient, table: string, partitions: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (partitions.length === 0) return out;
  const rows = await selectRows<{ partition: number; seq: number }>(
    ch,
    `SELECT partition, max(seq) AS seq FROM ${table} WHERE partition IN (${partitions.map(Number).join(',')}) GROUP BY partition`,
  );
  for (const r of rows) out.set(Number(r.partition), Number(r.seq));
  return out;
}
