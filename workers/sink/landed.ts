/**
 * What has landed in ClickHouse: for each counted table (workers/sink/tables.ts) and partition,
 * the last message whose rows it holds. Recovery reads it once at start so a replay does not write
 * rows again; the sink reads it after an insert whose outcome is unknown, before retrying it.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Table } from './tables.ts';

/** Per counted table and partition, the last message ClickHouse holds rows of: replayed messages at or below are not written again. */
export type Landed = Map<Table, Map<number, number>>;

/** `max(seq)` per partition in `table`; partitions with no rows are absent. */
export async function landedSeqs(ch: ClickHouseClient, table: string, partitions: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (partitions.length === 0) return out;
  const rs = await ch.query({
    query: `SELECT partition, max(seq) AS seq FROM ${table} WHERE partition IN (${partitions.map(Number).join(',')}) GROUP BY partition`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  for (const r of await rs.json<{ partition: number; seq: number }>()) out.set(Number(r.partition), Number(r.seq));
  return out;
}
