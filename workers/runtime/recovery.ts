/**
 * Recovery: ClickHouse is the durable record of what a partition has applied. The resume point of
 * a partition is the largest stream sequence in its raw log, and the actors' state is rebuilt from
 * the same rows, so a crash at any instant — before, during or after an insert — restarts from a
 * state that matches ClickHouse exactly.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PartitionLoop } from './partition.ts';
import { rememberClick, type AffiliateSettings } from '../actors/affiliate.ts';

/** `max(seq)` per partition in `table`; partitions with no rows are absent. */
export async function resumePoints(ch: ClickHouseClient, table: string, partitions: number[]): Promise<Map<number, number>> {
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

/** Restore each loop's stream position and its affiliates' unique-click memory. */
export async function recoverPartitions(ch: ClickHouseClient, table: string, loops: Map<number, PartitionLoop>, settings: AffiliateSettings): Promise<void> {
  const partitions = [...loops.keys()];
  for (const [p, seq] of await resumePoints(ch, table, partitions)) (loops.get(p) as PartitionLoop).lastSeq = seq;
  if (partitions.length === 0) return;
  const rs = await ch.query({
    query: `SELECT partition, affiliate_id, code, ip, toUInt32(toDate(ts)) AS day FROM ${table}
            WHERE partition IN (${partitions.join(',')}) AND is_unique = 1 AND ts >= now() - ${(settings.uniqueDays + 1) * 86_400}`,
    format: 'JSONEachRow',
  });
  for await (const batch of rs.stream<{ partition: number; affiliate_id: string; code: string; ip: string; day: number }>()) {
    for (const row of batch) {
      const r = row.json();
      const loop = loops.get(Number(r.partition)) as PartitionLoop;
      rememberClick(loop.affiliate(r.affiliate_id), Number(r.day), r.code, r.ip, settings);
    }
  }
}
