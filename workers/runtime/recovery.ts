/**
 * Recovery: ClickHouse is the durable record of what each partition has applied.
 *
 * - `checkpoints` says up to which message every table of a flush was written: the loop replays
 *   from there.
 * - While replaying, rows a table already holds are not written again: `max(seq)` per partition
 *   of `clicks` and of `events` (each insert is all-or-nothing and covers a prefix of messages).
 * - Player actors come back from their latest snapshot; a replayed message at or below a
 *   snapshot's version is not applied to that player again.
 * - The unique-click memory and the event-id memory are rebuilt from the rows themselves.
 *
 * So a crash at any instant — before, during or after any insert — restarts from a state that
 * matches ClickHouse exactly, and the replay neither loses nor doubles anything.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PartitionLoop } from './partition.ts';
import { DEDUPE_WINDOW_MS } from './partition.ts';
import { rememberClick, type AffiliateSettings } from '../actors/affiliate.ts';
import type { PlayerState } from '../actors/player.ts';

async function rows<T>(ch: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await ch.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<T>();
}

/** `max(seq)` per partition in `table`; partitions with no rows are absent. */
export async function landedSeqs(ch: ClickHouseClient, table: string, partitions: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (partitions.length === 0) return out;
  const found = await rows<{ partition: number; seq: number }>(
    ch,
    `SELECT partition, max(seq) AS seq FROM ${table} WHERE partition IN (${partitions.map(Number).join(',')}) GROUP BY partition`,
  );
  for (const r of found) out.set(Number(r.partition), Number(r.seq));
  return out;
}

/** Per partition, the rows ClickHouse already holds: replayed messages at or below are not written again. */
export interface Landed {
  clicks: Map<number, number>;
  events: Map<number, number>;
}

/** Restore every loop; returns what each table already holds. */
export async function recoverPartitions(ch: ClickHouseClient, loops: Map<number, PartitionLoop>, settings: AffiliateSettings): Promise<Landed> {
  const partitions = [...loops.keys()];
  const loop = (p: number) => loops.get(Number(p)) as PartitionLoop;
  const [checkpoints, clicks, events] = await Promise.all([landedSeqs(ch, 'checkpoints', partitions), landedSeqs(ch, 'clicks', partitions), landedSeqs(ch, 'events', partitions)]);
  for (const p of partitions) loop(p).lastSeq = checkpoints.get(p) ?? 0;
  if (partitions.length === 0) return { clicks, events };
  const list = partitions.join(',');

  const uniques = await ch.query({
    query: `SELECT partition, affiliate_id, code, ip, toUInt32(toDate(ts)) AS day FROM clicks
            WHERE partition IN (${list}) AND is_unique = 1 AND ts >= now() - ${(settings.uniqueDays + 1) * 86_400}`,
    format: 'JSONEachRow',
  });
  for await (const batch of uniques.stream<{ partition: number; affiliate_id: string; code: string; ip: string; day: number }>()) {
    for (const row of batch) {
      const r = row.json();
      rememberClick(loop(r.partition).affiliate(r.affiliate_id), Number(r.day), r.code, r.ip, settings);
    }
  }

  const seen = await ch.query({
    query: `SELECT partition, brand_id, event_id, toUInt64(ts) * 1000 AS at FROM events
            WHERE partition IN (${list}) AND ts >= now() - ${DEDUPE_WINDOW_MS / 1000} ORDER BY ts`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  for await (const batch of seen.stream<{ partition: number; brand_id: string; event_id: string; at: number }>()) {
    for (const row of batch) {
      const r = row.json();
      loop(r.partition).rememberEvent(r.brand_id, r.event_id, Number(r.at));
    }
  }

  const snapshots = await ch.query({
    query: `SELECT partition, player_key, max(seq) AS version, argMax(state, seq) AS state FROM player_state WHERE partition IN (${list}) GROUP BY partition, player_key`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  for await (const batch of snapshots.stream<{ partition: number; player_key: string; version: number; state: string }>()) {
    for (const row of batch) {
      const r = row.json();
      const l = loop(r.partition);
      const state = JSON.parse(r.state) as PlayerState;
      l.players.set(r.player_key, state);
      l.playerSeq.set(r.player_key, Number(r.version));
      l.restoredSeq.set(r.player_key, Number(r.version));
      for (const e of state.pending) l.rememberEvent(e.brandId, e.eventId, e.ts);
    }
  }
  return { clicks, events };
}
