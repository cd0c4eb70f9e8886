/**
 * The ClickHouse client every process uses. Settings chosen for ClickHouse 18.16 as much as for
 * current releases: no compression negotiation, keep-alive sockets retired before the server's
 * own keep-alive timeout (docs/architecture.md, “Pitfalls”).
 */
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { clickhouseUrl, type ClusterConfig } from '../config.ts';
import { AffstreamError } from '../errors.ts';

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

/**
 * Run `query` (an `INSERT … FORMAT …`) with `values` as its body, streamed, and wait for the
 * server's answer. For bodies serialized by the caller: the client's own serializer would quote
 * decimals. Rejects with the client's error when the insert fails.
 */
export async function insertStream(ch: ClickHouseClient, query: string, values: Readable | Iterable<string | Buffer>): Promise<void> {
  const r = await ch.exec({ query, values: values instanceof Readable ? values : Readable.from(values) });
  // A dangling response stream would poison the socket (docs/architecture.md, “Pitfalls”).
  r.stream.resume();
  await new Promise<void>((resolve, reject) => r.stream.once('end', resolve).once('error', reject));
}

/** Quote a ClickHouse string literal. */
export function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The rows of a query, read whole, with 64-bit integers as JSON numbers rather than strings. */
export async function selectRows<T>(ch: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await ch.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<T>();
}

/**
 * {@link selectRows} for an API handler: any failure (ClickHouse down, a timeout) is
 * `503 unavailable`, "`what` are unavailable (ClickHouse)", so the caller knows to retry.
 */
export async function selectOrUnavailable<T>(ch: ClickHouseClient, query: string, what: string): Promise<T[]> {
  try {
    return await selectRows<T>(ch, query);
  } catch (err) {
    throw new AffstreamError('unavailable', `${what} are unavailable (ClickHouse)`, { cause: err });
  }
}

/**
 * `column` (a DateTime) from `fromMs` up to, not including, `toMs`, widened to whole seconds; times
 * before the epoch are taken as the epoch (DateTime cannot hold them).
 */
export function timeRange(column: string, fromMs: number, toMs: number): string {
  return `${column} >= toDateTime(${Math.max(0, Math.floor(fromMs / 1000))}) AND ${column} < toDateTime(${Math.max(0, Math.ceil(toMs / 1000))})`;
}

/** `column = 'value'` for each column whose value is not '' (a filter the caller did not ask for is none). */
export function equalities(values: Record<string, string>): string[] {
  return Object.entries(values).filter(([, v]) => v !== '').map(([column, v]) => `${column} = ${quote(v)}`);
}
