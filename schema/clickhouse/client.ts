/**
 * The ClickHouse client every process uses. Settings chosen for ClickHouse 18.16 as much as for
 * current releases: no compression negotiation, keep-alive sockets retired before the server's
 * own keep-alive timeout (DESIGN.md pitfalls).
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { clickhouseUrl, type ClusterConfig } from '../config.ts';

/** A client on the cluster's database (or on the server's default database with `database: null`). */
export function clickhouse(cfg: ClusterConfig, opts: { database?: string | null; timeoutMs?: number } = {}): ClickHouseClient {
  return createClient({
    url: clickhouseUrl(cfg),
    username: cfg.clickhouse.user,
    password: cfg.clickhouse.password,
    ...(opts.database === null ? {} : { database: opts.database ?? cfg.clickhouse.database }),
    compression: { request: false, response: false },
    request_timeout: opts.timeoutMs ?? 30_000,
    keep_alive: { enabled: true, idle_socket_ttl: 2_000 },
    // Its own logger prints multi-line text to stderr; every failure is reported by our pino logs.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/** Quote a ClickHouse string literal. */
export function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
