/**
 * Cluster configuration: the types, the defaults, the environment overrides and the validation
 * that runs at boot. `cluster.config.ts` at the project root holds the topology the operator
 * edits; `loadConfig()` merges it over the defaults, applies the environment and validates.
 * Every rejection names the key, the value and what is allowed.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './errors.ts';

/** Edge nodes: the HTTP front (redirects, admin API, reports, metrics). */
export interface EdgeConfig {
  /** Edge processes; they share `port` (SO_REUSEPORT). Default 1. */
  count: number;
  /** Interface to listen on. Default `0.0.0.0`. */
  host: string;
  /** Port of every edge process (env `AFFSTREAM_EDGE_PORT`). Default 8080. */
  port: number;
  /** Peers whose `X-Forwarded-For`, `CF-IPCountry` and `X-Country-Code` are believed: exact IPs or `a.b.c.d/n` ranges. Default loopback. */
  trustedProxies: string[];
  /** A partition's click batch is published once it holds this many clicks. Default 512. */
  batchMaxEvents: number;
  /** …or once its oldest click has waited this long (ms). Default 50: with 64 partitions, shorter waits mean tiny batches and a JetStream publish per handful of clicks; 50 ms is nothing against the 2 s freshness budget. */
  batchMaxDelayMs: number;
  /** Publishes awaiting a JetStream ack before new batches go to the spool. Default 1024. */
  maxInFlightBatches: number;
  /** JetStream publish timeout (ms) after which a batch goes to the spool. Default 3000. */
  publishTimeoutMs: number;
  /** Answer for a geo-blocked visitor when the brand has no `restrictedUrl`. Default 451. */
  restrictedStatus: 451 | 302;
  /** Largest admin-API JSON body accepted, bytes. Default 65536. */
  maxAdminBodyBytes: number;
  /** Largest event body (JSON or msgpack) or WebSocket frame, bytes (docs/protocol.md). Default 1048576. */
  maxEventBodyBytes: number;
  /** Most events in one batch or frame (docs/protocol.md). Default 10000. */
  maxEventsPerBatch: number;
  /** Largest revenue file uploaded to `POST /api/v1/revenue-imports`, bytes (read as a stream, never held whole). Default 4 GiB. */
  maxImportBodyBytes: number;
  /**
   * How long a commission transition waits for the worker to confirm it (ms) before answering 202
   * (the command is durable in the stream and applies anyway). Default 10000.
   */
  commandTimeoutMs: number;
}

/** Worker processes: partition loops, actors, ClickHouse flushes. */
export interface WorkerConfig {
  /** Worker processes. Default 1 (partition leases across workers come with scale-out). */
  count: number;
  /**
   * Rows are flushed to ClickHouse at least this often (ms). Default 1000: a flush is 13 inserts,
   * each a new part of a few dozen files, and on a 2-core machine a flush took ~580 ms on average
   * even at 300 events/s (bench attribution), so 500 ms meant flushing back to back. At 1,000 ms
   * ClickHouse used 0.20 instead of 0.44 cores under bench fraud at 1,000 events/s, and at 500
   * events/s the trigger → pause p99 was 107 and 115 ms against 132–210 ms (three runs at 500 ms);
   * the aggregates stayed within the 2 s freshness target of docs/reports.md, “Freshness” (at 300
   * events/s: p50 569 ms, max 1,795 ms).
   */
  flushIntervalMs: number;
  /** …or as soon as this many rows wait. Default 100000 (one insert stays one block). */
  flushMaxRows: number;
  /** Unacknowledged JetStream messages a partition may hold between flushes. Default 20000. */
  maxAckPending: number;
  /**
   * A worker pulls its partitions' messages at most this often (ms) while a pull brings less than
   * a full batch (docs/architecture.md, “How a worker consumes”): what arrives meanwhile is applied
   * together, for one wake-up. Default 5: at most 5 ms added to each hop.
   */
  pullIntervalMs: number;
  /** Messages one pull brings at most. Default 500. */
  pullBatch: number;
  /** UTC days of unique-click memory kept per affiliate, for late clicks. Default 2. */
  uniqueDays: number;
  /** Rows a worker holds before it stops consuming until ClickHouse takes them. Default 500000. */
  maxQueuedRows: number;
  /** Port of the worker's `/metrics` (process i listens on port + i; 0 = none). Default 9464. */
  metricsPort: number;
}

/** NATS JetStream. */
export interface NatsConfig {
  /** External server (env `NATS_URL`); when unset the project starts its own on `port`. */
  url: string | undefined;
  /** Port of the embedded server. Default 14222. */
  port: number;
  /** JetStream publish dedupe window (ms) for `Nats-Msg-Id`. Default 900000 (15 min). */
  duplicateWindowMs: number;
  /** How long the event stream keeps messages (days). Default 7. */
  streamMaxAgeDays: number;
  /** Stream replicas: 1 on one server, 3 on a production cluster. Default 1. */
  replicas: number;
}

/** ClickHouse. */
export interface ClickHouseConfig {
  /** External server (env `CLICKHOUSE_URL`, HTTP interface); when unset the project starts its own. */
  url: string | undefined;
  /** HTTP port of the embedded server. Default 18123. */
  httpPort: number;
  /** Native TCP port of the embedded server. Default 19000. */
  tcpPort: number;
  /** Database; default `affstream` (namespace-derived). */
  database: string;
  /** User, env `CLICKHOUSE_USER`. Default `default`. */
  user: string;
  /** Password, env `CLICKHOUSE_PASSWORD`. Default empty. */
  password: string;
}

/** Redis. */
export interface RedisConfig {
  /** External server (env `REDIS_URL`); when unset the project starts its own on `port`. */
  url: string | undefined;
  /** Port of the embedded server. Default 16379. */
  port: number;
}

/** Attribution models per brand: the rules file (docs/configuration.md, “Attribution rules file”). */
export interface AttributionConfig {
  /**
   * The versioned JSON rules file naming each brand's attribution model (env
   * `AFFSTREAM_ATTRIBUTION_RULES`); relative paths are from the project root. Watched by the
   * workers and reloaded without restart; '' = no file, last click for every brand. Default
   * `attribution.rules.json`.
   */
  rulesFile: string;
  /** The file is also re-read this often (ms), for file systems where change notifications do not arrive. Default 1000. */
  reloadPollMs: number;
}

/**
 * Outbound postbacks: how the workers tell affiliates about every status change of their
 * commission lines (docs/commissions.md, “Outbound postbacks”).
 */
export interface PostbacksConfig {
  /** Longest one request may take, from connecting to the last byte of the answer (ms). Default 10000. */
  requestTimeoutMs: number;
  /** Requests in flight per worker process. Default 64. */
  concurrency: number;
  /**
   * Requests in flight to one affiliate's endpoint per worker process. Default 8: the other slots
   * stay free for the other affiliates while one endpoint is slow.
   */
  endpointConcurrency: number;
  /** Wait after a job's first failed attempt (ms), doubled after each further one. Default 30000. */
  backoffBaseMs: number;
  /** Longest wait between two attempts of a job (ms). Default 3600000 (1 h). */
  backoffMaxMs: number;
  /** A job is retried until this long after its first attempt (ms), then given up. Default 86400000 (24 h). */
  retryForMs: number;
  /** Consecutive failed attempts that disable an affiliate's endpoint. Default 10. */
  disableAfter: number;
  /** …when they all fall within this span (ms). Default 259200000 (72 h). */
  disableWindowMs: number;
  /** How often the jobs of a disabled endpoint look again whether an operator re-enabled it (ms). Default 60000. */
  disabledRecheckMs: number;
}

/** The whole cluster. */
export interface ClusterConfig {
  /** Prefix of every stream, bucket, database and key the cluster owns; lets clusters share servers. Default `affstream`. */
  namespace: string;
  /** Where embedded servers, spools and pid files live. Default `.data`. */
  dataDir: string;
  /** Partition count P, a power of two from 1 to 4096. Default 64. */
  partitions: number;
  /** Admin bearer token (env `AFFSTREAM_ADMIN_TOKEN`); generated by `up` when unset. */
  adminToken: string | undefined;
  /** pino level. Default `info`. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  edge: EdgeConfig;
  worker: WorkerConfig;
  nats: NatsConfig;
  clickhouse: ClickHouseConfig;
  redis: RedisConfig;
  attribution: AttributionConfig;
  postbacks: PostbacksConfig;
}

/** What `cluster.config.ts` may set: any subset of the tree. */
export type ClusterConfigInput = {
  [K in keyof ClusterConfig]?: ClusterConfig[K] extends object | undefined
    ? Partial<NonNullable<ClusterConfig[K]>> | ClusterConfig[K]
    : ClusterConfig[K];
};

/** Typed helper for `cluster.config.ts`. */
export function defineCluster(input: ClusterConfigInput): ClusterConfigInput {
  return input;
}

/** The defaults, documented on each field above. */
export function defaultConfig(): ClusterConfig {
  return {
    namespace: 'affstream',
    dataDir: '.data',
    partitions: 64,
    adminToken: undefined,
    logLevel: 'info',
    edge: {
      count: 1,
      host: '0.0.0.0',
      port: 8080,
      trustedProxies: ['127.0.0.0/8', '::1'],
      batchMaxEvents: 512,
      batchMaxDelayMs: 50,
      maxInFlightBatches: 1024,
      publishTimeoutMs: 3000,
      restrictedStatus: 451,
      maxAdminBodyBytes: 65536,
      commandTimeoutMs: 10_000,
      maxEventBodyBytes: 1024 * 1024,
      maxEventsPerBatch: 10_000,
      maxImportBodyBytes: 4 * 1024 ** 3,
    },
    worker: { count: 1, flushIntervalMs: 1000, flushMaxRows: 100_000, maxAckPending: 20_000, pullIntervalMs: 5, pullBatch: 500, uniqueDays: 2, maxQueuedRows: 500_000, metricsPort: 9464 },
    nats: { url: undefined, port: 14222, duplicateWindowMs: 900_000, streamMaxAgeDays: 7, replicas: 1 },
    clickhouse: { url: undefined, httpPort: 18123, tcpPort: 19000, database: '', user: 'default', password: '' },
    redis: { url: undefined, port: 16379 },
    attribution: { rulesFile: 'attribution.rules.json', reloadPollMs: 1000 },
    postbacks: {
      requestTimeoutMs: 10_000,
      concurrency: 64,
      endpointConcurrency: 8,
      backoffBaseMs: 30_000,
      backoffMaxMs: 3_600_000,
      retryForMs: 86_400_000,
      disableAfter: 10,
      disableWindowMs: 259_200_000,
      disabledRecheckMs: 60_000,
    },
  };
}

type Env = Record<string, string | undefined>;

/** Environment variables and the key each overrides. */
export const ENV_OVERRIDES: ReadonlyArray<[string, string]> = [
  ['AFFSTREAM_NAMESPACE', 'namespace'],
  ['AFFSTREAM_DATA_DIR', 'dataDir'],
  ['AFFSTREAM_PARTITIONS', 'partitions'],
  ['AFFSTREAM_ADMIN_TOKEN', 'adminToken'],
  ['AFFSTREAM_LOG_LEVEL', 'logLevel'],
  ['AFFSTREAM_EDGES', 'edge.count'],
  ['AFFSTREAM_EDGE_HOST', 'edge.host'],
  ['AFFSTREAM_EDGE_PORT', 'edge.port'],
  ['AFFSTREAM_TRUSTED_PROXIES', 'edge.trustedProxies'],
  ['AFFSTREAM_BATCH_MAX_EVENTS', 'edge.batchMaxEvents'],
  ['AFFSTREAM_BATCH_MAX_DELAY_MS', 'edge.batchMaxDelayMs'],
  ['AFFSTREAM_MAX_EVENT_BODY_BYTES', 'edge.maxEventBodyBytes'],
  ['AFFSTREAM_MAX_EVENTS_PER_BATCH', 'edge.maxEventsPerBatch'],
  ['AFFSTREAM_MAX_IMPORT_BODY_BYTES', 'edge.maxImportBodyBytes'],
  ['AFFSTREAM_WORKERS', 'worker.count'],
  ['AFFSTREAM_FLUSH_INTERVAL_MS', 'worker.flushIntervalMs'],
  ['AFFSTREAM_WORKER_METRICS_PORT', 'worker.metricsPort'],
  ['NATS_URL', 'nats.url'],
  ['AFFSTREAM_NATS_PORT', 'nats.port'],
  ['CLICKHOUSE_URL', 'clickhouse.url'],
  ['CLICKHOUSE_USER', 'clickhouse.user'],
  ['CLICKHOUSE_PASSWORD', 'clickhouse.password'],
  ['AFFSTREAM_CLICKHOUSE_HTTP_PORT', 'clickhouse.httpPort'],
  ['AFFSTREAM_CLICKHOUSE_TCP_PORT', 'clickhouse.tcpPort'],
  ['REDIS_URL', 'redis.url'],
  ['AFFSTREAM_REDIS_PORT', 'redis.port'],
  ['AFFSTREAM_ATTRIBUTION_RULES', 'attribution.rulesFile'],
  ['AFFSTREAM_POSTBACK_TIMEOUT_MS', 'postbacks.requestTimeoutMs'],
  ['AFFSTREAM_POSTBACK_CONCURRENCY', 'postbacks.concurrency'],
  ['AFFSTREAM_POSTBACK_ENDPOINT_CONCURRENCY', 'postbacks.endpointConcurrency'],
  ['AFFSTREAM_POSTBACK_BACKOFF_BASE_MS', 'postbacks.backoffBaseMs'],
  ['AFFSTREAM_POSTBACK_BACKOFF_MAX_MS', 'postbacks.backoffMaxMs'],
  ['AFFSTREAM_POSTBACK_RETRY_FOR_MS', 'postbacks.retryForMs'],
  ['AFFSTREAM_POSTBACK_DISABLE_AFTER', 'postbacks.disableAfter'],
  ['AFFSTREAM_POSTBACK_DISABLE_WINDOW_MS', 'postbacks.disableWindowMs'],
  ['AFFSTREAM_POSTBACK_DISABLED_RECHECK_MS', 'postbacks.disabledRecheckMs'],
];

/**
 * Merge `input` over the defaults, apply `env`, validate. Throws {@link ConfigError} naming the
 * first bad key.
 */
export function loadConfig(input: ClusterConfigInput = {}, env: Env = process.env): ClusterConfig {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) {
    if (!(key in base)) throw new ConfigError(key, value, `one of ${Object.keys(base).join(', ')}`);
    const current = base[key];
    if (isObject(current) && value !== undefined) {
      if (!isObject(value)) throw new ConfigError(key, value, 'an object');
      const sub: Record<string, unknown> = value;
      for (const k of Object.keys(sub)) {
        if (!(k in current)) throw new ConfigError(`${key}.${k}`, sub[k], `one of ${Object.keys(current).map((c) => `${key}.${c}`).join(', ')}`);
      }
      base[key] = { ...current, ...sub };
    } else if (value !== undefined) {
      base[key] = value;
    }
  }
  for (const [name, path] of ENV_OVERRIDES) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') setPath(base, path, fromEnv(name, path, raw, getPath(base, path)));
  }
  const cfg = base as unknown as ClusterConfig;
  if (!cfg.clickhouse.database) cfg.clickhouse.database = cfg.namespace;
  validate(cfg);
  return cfg;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() as string;
  const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, obj);
  parent[last] = value;
}

function fromEnv(name: string, path: string, raw: string, current: unknown): unknown {
  if (typeof current === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new ConfigError(`${path} (env ${name})`, raw, 'a number');
    return n;
  }
  if (Array.isArray(current)) return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return raw;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const NAMESPACE = /^[a-z][a-z0-9_]{0,39}$/;

function int(key: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(key, v, `an integer from ${min} to ${max}`);
  }
}

function url(key: string, v: unknown, schemes: string[]): void {
  if (v === undefined) return;
  let ok = false;
  try {
    ok = typeof v === 'string' && schemes.includes(new URL(v).protocol.replace(':', ''));
  } catch {
    ok = false;
  }
  if (!ok) throw new ConfigError(key, v, `a URL with scheme ${schemes.join(' or ')}`);
}

/** Validate a merged config; throws {@link ConfigError}. */
export function validate(c: ClusterConfig): void {
  if (typeof c.namespace !== 'string' || !NAMESPACE.test(c.namespace)) {
    throw new ConfigError('namespace', c.namespace, 'lower-case letters, digits and _, starting with a letter, at most 40');
  }
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new ConfigError('dataDir', c.dataDir, 'a directory path');
  int('partitions', c.partitions, 1, 4096);
  if ((c.partitions & (c.partitions - 1)) !== 0) throw new ConfigError('partitions', c.partitions, 'a power of two (1, 2, 4, … 4096)');
  if (c.adminToken !== undefined && (typeof c.adminToken !== 'string' || c.adminToken.length < 16)) {
    throw new ConfigError('adminToken', '(hidden)', 'a string of at least 16 characters');
  }
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(c.logLevel)) throw new ConfigError('logLevel', c.logLevel, `one of ${levels.join(', ')}`);
  int('edge.count', c.edge.count, 1, 64);
  int('edge.port', c.edge.port, 0, 65535);
  if (typeof c.edge.host !== 'string' || c.edge.host === '') throw new ConfigError('edge.host', c.edge.host, 'an interface address');
  if (!Array.isArray(c.edge.trustedProxies) || !c.edge.trustedProxies.every((p) => typeof p === 'string' && /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(p))) {
    throw new ConfigError('edge.trustedProxies', c.edge.trustedProxies, 'a list of IP addresses or CIDR ranges');
  }
  int('edge.batchMaxEvents', c.edge.batchMaxEvents, 1, 10_000);
  int('edge.batchMaxDelayMs', c.edge.batchMaxDelayMs, 0, 1000);
  int('edge.maxInFlightBatches', c.edge.maxInFlightBatches, 1, 100_000);
  int('edge.publishTimeoutMs', c.edge.publishTimeoutMs, 100, 120_000);
  if (c.edge.restrictedStatus !== 451 && c.edge.restrictedStatus !== 302) throw new ConfigError('edge.restrictedStatus', c.edge.restrictedStatus, '451 or 302');
  int('edge.maxAdminBodyBytes', c.edge.maxAdminBodyBytes, 1024, 16 * 1024 * 1024);
  int('edge.commandTimeoutMs', c.edge.commandTimeoutMs, 100, 600_000);
  int('edge.maxEventBodyBytes', c.edge.maxEventBodyBytes, 1024, 64 * 1024 * 1024);
  int('edge.maxEventsPerBatch', c.edge.maxEventsPerBatch, 1, 1_000_000);
  int('edge.maxImportBodyBytes', c.edge.maxImportBodyBytes, 1024, 2 ** 50);
  if (c.worker.count !== 1) throw new ConfigError('worker.count', c.worker.count, '1: one worker owns every partition until partition leases are built');
  int('worker.flushIntervalMs', c.worker.flushIntervalMs, 10, 60_000);
  int('worker.flushMaxRows', c.worker.flushMaxRows, 100, 1_000_000);
  int('worker.maxAckPending', c.worker.maxAckPending, 100, 1_000_000);
  int('worker.pullIntervalMs', c.worker.pullIntervalMs, 1, 1_000);
  int('worker.pullBatch', c.worker.pullBatch, 1, 10_000);
  int('worker.uniqueDays', c.worker.uniqueDays, 1, 31);
  int('worker.maxQueuedRows', c.worker.maxQueuedRows, 1000, 10_000_000);
  int('worker.metricsPort', c.worker.metricsPort, 0, 65535);
  url('nats.url', c.nats.url, ['nats', 'tls']);
  int('nats.port', c.nats.port, 1, 65535);
  int('nats.duplicateWindowMs', c.nats.duplicateWindowMs, 1000, 7 * 86_400_000);
  int('nats.streamMaxAgeDays', c.nats.streamMaxAgeDays, 1, 3650);
  if (![1, 3, 5].includes(c.nats.replicas)) throw new ConfigError('nats.replicas', c.nats.replicas, '1, 3 or 5');
  url('clickhouse.url', c.clickhouse.url, ['http', 'https']);
  int('clickhouse.httpPort', c.clickhouse.httpPort, 1, 65535);
  int('clickhouse.tcpPort', c.clickhouse.tcpPort, 1, 65535);
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(c.clickhouse.database)) throw new ConfigError('clickhouse.database', c.clickhouse.database, 'an identifier ([A-Za-z_][A-Za-z0-9_]*)');
  url('redis.url', c.redis.url, ['redis', 'rediss']);
  int('redis.port', c.redis.port, 1, 65535);
  if (typeof c.attribution.rulesFile !== 'string' || !/^[^\0]*\.json$|^$/.test(c.attribution.rulesFile)) {
    throw new ConfigError('attribution.rulesFile', c.attribution.rulesFile, "a path to a .json file, or '' for last click everywhere");
  }
  int('attribution.reloadPollMs', c.attribution.reloadPollMs, 100, 60_000);
  const pb = c.postbacks;
  int('postbacks.requestTimeoutMs', pb.requestTimeoutMs, 100, 120_000);
  int('postbacks.concurrency', pb.concurrency, 1, 4096);
  int('postbacks.endpointConcurrency', pb.endpointConcurrency, 1, pb.concurrency);
  int('postbacks.backoffBaseMs', pb.backoffBaseMs, 10, 86_400_000);
  int('postbacks.backoffMaxMs', pb.backoffMaxMs, pb.backoffBaseMs, 86_400_000);
  int('postbacks.retryForMs', pb.retryForMs, 1000, 7 * 86_400_000);
  int('postbacks.disableAfter', pb.disableAfter, 1, 1000);
  int('postbacks.disableWindowMs', pb.disableWindowMs, 1000, 30 * 86_400_000);
  int('postbacks.disabledRecheckMs', pb.disabledRecheckMs, 100, 3_600_000);
}

/** True for ids of brands, affiliates and links: 1–64 of `A-Za-z0-9_-` (docs/api.md, `invalid_id`). */
export function isId(s: unknown): s is string {
  return typeof s === 'string' && ID.test(s);
}

/** The folder of `cluster.config.ts`, against which relative paths of the config are read. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The absolute path of the attribution rules file, or undefined when there is none (last click everywhere). */
export function rulesFilePath(c: ClusterConfig): string | undefined {
  const f = c.attribution.rulesFile;
  if (f === '') return undefined;
  return isAbsolute(f) ? f : resolve(PROJECT_ROOT, f);
}

/** The NATS URL in force: the external one, or the embedded server's. */
export function natsUrl(c: ClusterConfig): string {
  return c.nats.url ?? `nats://127.0.0.1:${c.nats.port}`;
}

/** The ClickHouse HTTP URL in force. */
export function clickhouseUrl(c: ClusterConfig): string {
  return c.clickhouse.url ?? `http://127.0.0.1:${c.clickhouse.httpPort}`;
}

/** The Redis URL in force. */
export function redisUrl(c: ClusterConfig): string {
  return c.redis.url ?? `redis://127.0.0.1:${c.redis.port}`;
}
