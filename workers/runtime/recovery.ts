/**
 * Recovery: ClickHouse is the durable record of what each partition has applied.
 *
 * - `checkpoints` says up to which message every table of a flush was written, and `fraud_state`
 *   which message the partition's snapshot — every actor of every kind — includes (it lands after
 *   the checkpoint, so it is never ahead): the loop replays from the older of the two (from the
 *   start when a partition has no snapshot yet). A worker writes the snapshots of all its
 *   partitions in one insert, so they resume from one position.
 * - While replaying, rows a table already holds are not written again: `max(seq)` per partition
 *   of each counted table — raw logs and aggregates (each insert is all-or-nothing and covers a
 *   prefix of messages).
 * - Players snapshotted on their own, each at its own version (`player_state`, written by workers
 *   before players joined the partition's snapshot), cannot resume with the others: when those are
 *   all there is, every partition replays from the stream's start.
 * - The unique-click memory, the event-id memory and the click-flood window are rebuilt from the
 *   rows up to the resume point, so the replay recomputes the rest exactly as the first time.
 * - The attribution rules in force at the resume point are the latest `partition_rules` row at or
 *   below it (a later one belongs to a message the replay applies again).
 *
 * So a crash at any instant — before, during or after any insert — restarts from a state that
 * matches ClickHouse exactly, and the replay neither loses nor doubles anything.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PartitionLoop } from './partition.ts';
import { DEDUPE_WINDOW_MS } from './partition.ts';
import type { LiveCounters } from './liveCounters.ts';
import { COUNTED_TABLES } from '../sink/tables.ts';
import { ACTOR_KINDS } from './actorKinds.ts';
import { landedSeqs, type Landed } from '../sink/landed.ts';
import { parseRules } from '../../schema/attributionRules.ts';
import { selectRows } from '../../schema/clickhouse/client.ts';

/** Restore every loop; returns what each table already holds. */
export async function recoverPartitions(ch: ClickHouseClient, loops: Map<number, PartitionLoop>, settings: { uniqueDays: number }): Promise<Landed> {
  const partitions = [...loops.keys()];
  const loop = (p: number) => loops.get(Number(p)) as PartitionLoop;
  const checkpoints = await landedSeqs(ch, 'checkpoints', partitions);
  const landed: Landed = new Map(await Promise.all(COUNTED_TABLES.map(async (t) => [t, await landedSeqs(ch, t, partitions)] as const)));
  if (partitions.length === 0) return landed;
  const list = partitions.join(',');
  // `version`, not `seq`: ClickHouse 18.16 aliases are global, and argMax reads the column.
  let fraud = await selectRows<{ partition: number; key: string; version: number; state: string }>(
    ch,
    `SELECT partition, key, max(seq) AS version, argMax(state, seq) AS state FROM fraud_state WHERE partition IN (${list}) GROUP BY partition, key`,
  );
  if (!fraud.some((f) => f.key.startsWith(`${ACTOR_KINDS.player.prefix}:`))) {
    const [legacy] = await selectRows<{ n: number }>(ch, `SELECT count() AS n FROM player_state WHERE partition IN (${list})`);
    if (Number(legacy?.n ?? 0) > 0) fraud = [];
  }
  for (const p of partitions) loop(p).lastSeq = 0;
  for (const f of fraud) {
    const l = loop(f.partition);
    l.restoreFraud(f.key, f.state);
    // The partition's own row is written with every snapshot: its version is the snapshot's.
    if (f.key === '') l.lastSeq = Math.min(checkpoints.get(Number(f.partition)) ?? 0, Number(f.version));
  }
  const upTo = (p: number, seq: number) => seq <= loop(p).lastSeq;

  for (const r of await selectRows<{ partition: number; seq: number; rules: string }>(ch, `SELECT partition, seq, rules FROM partition_rules WHERE partition IN (${list}) ORDER BY seq`)) {
    const l = loop(r.partition);
    const seq = Number(r.seq);
    if (seq <= l.lastSeq && seq > l.rulesSeq) {
      l.rules = parseRules(r.rules, `partition_rules (partition ${r.partition}, seq ${seq})`);
      l.rulesSeq = seq;
    }
  }

  const uniques = await ch.query({
    query: `SELECT partition, seq, affiliate_id, code, ip, toUInt32(toDate(ts)) AS day FROM clicks
            WHERE partition IN (${list}) AND is_unique = 1 AND ts >= now() - ${(settings.uniqueDays + 1) * 86_400}`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  for await (const batch of uniques.stream<{ partition: number; seq: number; affiliate_id: string; code: string; ip: string; day: number }>()) {
    for (const row of batch) {
      const r = row.json();
      if (upTo(r.partition, r.seq)) loop(r.partition).restoreUniqueClick(r.affiliate_id, Number(r.day), r.code, r.ip);
    }
  }

  const floods = await ch.query({
    query: `SELECT partition, seq, affiliate_id, ip, toUInt64(ts) * 1000 + ts_ms AS at FROM clicks
            WHERE partition IN (${list}) AND ts >= now() - 120 ORDER BY partition, seq, idx`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  for await (const batch of floods.stream<{ partition: number; seq: number; affiliate_id: string; ip: string; at: number }>()) {
    for (const row of batch) {
      const r = row.json();
      if (upTo(r.partition, r.seq)) loop(r.partition).restoreFloodClick(r.affiliate_id, r.ip, Number(r.at));
    }
  }

  const seen = await ch.query({
    query: `SELECT partition, seq, brand_id, event_id, toUInt64(ts) * 1000 AS at FROM events
            WHERE partition IN (${list}) AND ts >= now() - ${DEDUPE_WINDOW_MS / 1000} ORDER BY ts`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  for await (const batch of seen.stream<{ partition: number; seq: number; brand_id: string; event_id: string; at: number }>()) {
    for (const row of batch) {
      const r = row.json();
      if (upTo(r.partition, r.seq)) loop(r.partition).rememberEvent(r.brand_id, r.event_id, Number(r.at));
    }
  }

  return landed;
}

/** Rebuild today's live counters (UTC) of each partition from the rows ClickHouse holds. */
export async function recoverLive(ch: ClickHouseClient, live: Map<number, LiveCounters>): Promise<void> {
  const list = [...live.keys()].join(',');
  if (list === '') return;
  const counter = (p: number) => live.get(Number(p)) as LiveCounters;
  for (const r of await selectRows<{ partition: number; affiliate_id: string; day: string; clicks: number; u: number; b: number; g: number }>(
    ch,
    `SELECT partition, affiliate_id, toString(toDate(ts)) AS day, count() AS clicks, sum(is_unique) AS u, sum(bot) AS b, sum(geo_blocked) AS g
     FROM clicks WHERE partition IN (${list}) AND ts >= toDateTime(today()) GROUP BY partition, affiliate_id, day`,
  )) {
    counter(r.partition).restore(r.affiliate_id, r.day, { clicks: Number(r.clicks), unique_clicks: Number(r.u), bot_clicks: Number(r.b), geo_blocked_clicks: Number(r.g) }, {});
  }
  for (const r of await selectRows<{ partition: number; affiliate_id: string; day: string; reg: number; ftds: number; deps: number; fa: string; da: string; ngr: string }>(
    ch,
    `SELECT partition, affiliate_id, toString(toDate(ts)) AS day, countIf(type = 'registration') AS reg, sum(is_ftd) AS ftds, countIf(type = 'deposit') AS deps,
            toString(sumIf(amount, is_ftd = 1)) AS fa, toString(sumIf(amount, type = 'deposit')) AS da, toString(sum(ngr)) AS ngr
     FROM events WHERE partition IN (${list}) AND affiliate_id != '' AND ts >= toDateTime(today()) GROUP BY partition, affiliate_id, day`,
  )) {
    counter(r.partition).restore(r.affiliate_id, r.day, { registrations: Number(r.reg), ftds: Number(r.ftds), deposits: Number(r.deps) }, { ftd_amount: r.fa, deposit_amount: r.da, ngr: r.ngr });
  }
}
