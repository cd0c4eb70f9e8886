/**
 * A benchmark runs in a namespace of its own (`bench_<timestamp>`) so its clicks and events never
 * mix with a real cluster's, and removes it afterwards: at 50k clicks/s a ten-second run leaves
 * hundreds of megabytes in JetStream and ClickHouse, and every ingested event leaves a Redis key
 * (the edge's duplicate check) that would otherwise live for 8 days.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { clickhouse, type ClusterConfig, connectNats, ensureOneStream, natsNames, redisUrl } from '../../schema/mod.ts';
import type { AccrualRow, LineGroupRow } from '../generator/verify.ts';

/** Prefix of every benchmark namespace; {@link dropNamespace} refuses any other. */
export const BENCH_PREFIX = 'bench_';

/** A fresh namespace name, `bench_<yyyymmddhhmmss>` (UTC). */
export function benchNamespace(now = new Date()): string {
  return `${BENCH_PREFIX}${now.toISOString().replace(/\D/g, '').slice(0, 14)}`;
}

/** Rows of the namespace's `clicks` table and how many distinct click ids they hold. */
export async function countClicks(cfg: ClusterConfig): Promise<{ rows: number; distinct: number }> {
  const ch = clickhouse(cfg, { timeoutMs: 10_000 });
  try {
    const rs = await ch.query({ query: 'SELECT count() AS rows, uniqExact(click_id) AS distinct_ids FROM clicks', format: 'JSONEachRow' });
    const [row] = await rs.json<{ rows: string | number; distinct_ids: string | number }>();
    return { rows: Number(row?.rows ?? 0), distinct: Number(row?.distinct_ids ?? 0) };
  } finally {
    await ch.close();
  }
}

/** Rows of the namespace's `events` table: cheap enough to poll while the worker writes. */
export async function countEventRows(cfg: ClusterConfig): Promise<number> {
  const ch = clickhouse(cfg, { timeoutMs: 10_000 });
  try {
    const rs = await ch.query({ query: 'SELECT count() AS rows FROM events', format: 'JSONEachRow' });
    const [row] = await rs.json<{ rows: string | number }>();
    return Number(row?.rows ?? 0);
  } finally {
    await ch.close();
  }
}

/**
 * Waits until the `events` table holds `expected` rows, or its count has not moved for
 * `quietMs`, or `timeoutMs` passed; logs progress every 5 s. Returns how long it waited, ms.
 */
export function waitForEventRows(cfg: ClusterConfig, expected: number, limits: { timeoutMs: number; quietMs: number }, log: (line: string) => void): Promise<number> {
  return waitForRows('events', () => countEventRows(cfg), expected, limits, log);
}

/** {@link waitForEventRows} for any count: `what` names it in the progress lines. */
export async function waitForRows(what: string, count: () => Promise<number>, expected: number, limits: { timeoutMs: number; quietMs: number }, log: (line: string) => void): Promise<number> {
  const start = Date.now();
  let rows = await count();
  let changedAt = start;
  let reportedAt = start;
  while (rows < expected) {
    const now = Date.now();
    if (now - start > limits.timeoutMs || now - changedAt > limits.quietMs) break;
    if (now - reportedAt >= 5_000) {
      reportedAt = now;
      log(`  ${rows.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} ${what} in ClickHouse`);
    }
    await sleep(250);
    const next = await count();
    if (next !== rows) changedAt = Date.now();
    rows = next;
  }
  return Date.now() - start;
}

/** What the namespace's `events` table holds: counts and exact decimal sums (text). */
export interface EventCounts {
  rows: number;
  distinctIds: number;
  byType: Record<string, number>;
  depositAmount: string;
  betStake: string;
  betWin: string;
}

/** Rows of the namespace's `events` table: how many, how many distinct (brand, event id), by type, and the money. */
export async function countEvents(cfg: ClusterConfig): Promise<EventCounts> {
  const ch = clickhouse(cfg, { timeoutMs: 30_000 });
  try {
    // Sums of Decimal64 are Decimal128 in ClickHouse: toString keeps them exact.
    const perType = await ch.query({
      query: 'SELECT toString(type) AS type, count() AS n, toString(sum(amount)) AS amount, toString(sum(win)) AS win FROM events GROUP BY type',
      format: 'JSONEachRow',
    });
    const types = await perType.json<{ type: string; n: string | number; amount: string; win: string }>();
    const distinct = await ch.query({ query: 'SELECT uniqExact(brand_id, event_id) AS ids FROM events', format: 'JSONEachRow' });
    const [ids] = await distinct.json<{ ids: string | number }>();
    const of = (type: string) => types.find((t) => t.type === type);
    return {
      rows: types.reduce((n, t) => n + Number(t.n), 0),
      distinctIds: Number(ids?.ids ?? 0),
      byType: Object.fromEntries(types.map((t) => [t.type, Number(t.n)])),
      depositAmount: of('deposit')?.amount ?? '0',
      betStake: of('bet')?.amount ?? '0',
      betWin: of('bet')?.win ?? '0',
    };
  } finally {
    await ch.close();
  }
}

/** Distinct commission lines in the namespace's `commission_ledger` (each line's versions are one line). */
export async function countCommissionLines(cfg: ClusterConfig): Promise<number> {
  const ch = clickhouse(cfg, { timeoutMs: 10_000 });
  try {
    const rs = await ch.query({ query: 'SELECT uniqExact(id) AS lines FROM commission_ledger', format: 'JSONEachRow' });
    const [row] = await rs.json<{ lines: string | number }>();
    return Number(row?.lines ?? 0);
  } finally {
    await ch.close();
  }
}

/**
 * The namespace's commission lines as they stand — each id's latest version — per brand,
 * affiliate, kind and plan version: how many, their exact sum, how many held. Reversals are the
 * kind `<kind> reversal`, and a parent's share of a RevShare line `subaffiliate of revshare` (it
 * has no player), the groups of the commission ledger (loadtest/generator/commissionLedger.ts).
 */
export async function commissionLineGroups(cfg: ClusterConfig): Promise<LineGroupRow[]> {
  const ch = clickhouse(cfg, { timeoutMs: 30_000 });
  try {
    // Aliases apart from the column names: ClickHouse 18 would read a same-named alias inside argMax.
    const rs = await ch.query({
      query: `SELECT b AS brand_id, a AS affiliate_id, plan AS plan_version, count() AS lines, toString(sum(amt)) AS amount, sum(st = 'held') AS held,
          multiIf(rev != '', concat(k, ' reversal'), k = 'subaffiliate' AND player = '', 'subaffiliate of revshare', k) AS kind
        FROM (
          SELECT id, argMax(brand_id, version) AS b, argMax(affiliate_id, version) AS a, argMax(kind, version) AS k, argMax(player_id, version) AS player,
            argMax(reversal_of, version) AS rev, argMax(plan_version, version) AS plan, argMax(amount, version) AS amt, argMax(status, version) AS st
          FROM commission_ledger GROUP BY id
        ) GROUP BY brand_id, affiliate_id, kind, plan_version`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Omit<LineGroupRow, 'lines' | 'held'> & { lines: string | number; held: string | number }>();
    return rows.map((r) => ({ ...r, lines: Number(r.lines), held: Number(r.held) }));
  } finally {
    await ch.close();
  }
}

/** The namespace's RevShare accruals as they stand: each id's latest row (`revshare_accruals`). */
export async function revshareAccruals(cfg: ClusterConfig): Promise<AccrualRow[]> {
  const ch = clickhouse(cfg, { timeoutMs: 30_000 });
  try {
    const rs = await ch.query({
      query: `SELECT b AS brand_id, a AS affiliate_id, p AS period, plan AS plan_version, toString(n) AS ngr, toString(h) AS held_ngr, f AS ftds, pc AS pct,
          toString(am) AS amount, c AS closed
        FROM (
          SELECT id, argMax(brand_id, version) AS b, argMax(affiliate_id, version) AS a, argMax(period, version) AS p, argMax(plan_version, version) AS plan,
            argMax(ngr, version) AS n, argMax(held_ngr, version) AS h, argMax(ftds, version) AS f, argMax(pct, version) AS pc, argMax(amount, version) AS am,
            argMax(closed, version) AS c
          FROM revshare_accruals GROUP BY id
        )`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Omit<AccrualRow, 'ftds' | 'closed'> & { ftds: string | number; closed: string | number }>();
    return rows.map((r) => ({ ...r, ftds: Number(r.ftds), closed: Number(r.closed) === 1 }));
  } finally {
    await ch.close();
  }
}

/**
 * Deletes the namespace's ClickHouse database, its JetStream streams (events, fraud alerts, the
 * ingest floor's) and KV buckets (catalog, fraud pauses), and its Redis keys (event-id claims,
 * live counters, all prefixed `<namespace>:`).
 */
export async function dropNamespace(cfg: ClusterConfig): Promise<void> {
  if (!cfg.namespace.startsWith(BENCH_PREFIX)) throw new Error(`refusing to drop namespace ${cfg.namespace}: not a benchmark namespace`);
  const ch = clickhouse(cfg, { database: null });
  try {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${cfg.clickhouse.database}` });
  } finally {
    await ch.close();
  }
  const names = natsNames(cfg);
  // A KV bucket is the stream KV_<bucket>.
  await deleteStreams(cfg, [names.stream, `KV_${names.catalogBucket}`, names.fraudStream, `KV_${names.fraudBucket}`, floorStream(cfg).stream]);
  const redis = new Redis(redisUrl(cfg), { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    // SCAN in steps rather than KEYS: a run leaves millions of keys, and KEYS would block Redis.
    for await (const keys of redis.scanStream({ match: `${cfg.namespace}:*`, count: 10_000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * The stream of the `ingest` benchmark's floor (bare/uwsIngest.ts): each frame as it came, one
 * message per frame. Apart from the event stream, so no worker ever reads a frame as events and
 * the edge's count of JetStream messages stays its own; stored like the event stream, so that
 * JetStream costs the floor what it costs the edge.
 */
export function floorStream(cfg: Pick<ClusterConfig, 'namespace'>): { stream: string; subject: string } {
  return { stream: `${cfg.namespace.toUpperCase()}_FLOOR`, subject: `${cfg.namespace}.floor` };
}

/** Creates the namespace's {@link floorStream}. */
export async function createFloorStream(cfg: ClusterConfig): Promise<void> {
  const nc = await connectNats(cfg, `${cfg.namespace}-floor`);
  try {
    const { stream, subject } = floorStream(cfg);
    await ensureOneStream(nc, cfg, stream, subject);
  } finally {
    await nc.close();
  }
}

/** Deletes the JetStream streams `streams`, those that exist. */
export async function deleteStreams(cfg: ClusterConfig, streams: readonly string[]): Promise<void> {
  const nc = await connectNats(cfg, `${cfg.namespace}-cleanup`);
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of streams) {
      await jsm.streams.delete(stream).catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err;
      });
    }
  } finally {
    await nc.close();
  }
}
