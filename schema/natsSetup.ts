/**
 * Creates (or brings up to date) the JetStream stream and KV bucket the cluster needs.
 * Idempotent: `up`, every worker and the tests call it.
 */
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { natsUrl, type ClusterConfig } from './config.ts';
import { natsNames } from './subjects.ts';

const DAY_MS = 86_400_000;

/** Ensure the event, alert and postback streams exist with the configured limits; update them when they changed. */
export async function ensureStream(nc: NatsConnection, cfg: ClusterConfig): Promise<void> {
  const names = natsNames(cfg);
  await ensureOneStream(nc, cfg, names.stream, names.streamSubjects);
  await ensureOneStream(nc, cfg, names.fraudStream, names.fraudAlerts);
  // A job leaves the postback stream when it is delivered or given up (work queue). A worker that
  // replays its partition republishes the jobs of the changes it replays, with the same ids: the
  // dedupe window is a day at least, far beyond any replay. A job may wait `retryForMs` after its
  // first attempt, and longer for that attempt while no worker runs: the stream keeps it twice that.
  // (JetStream refuses a dedupe window longer than the age.)
  const dedupeMs = Math.max(DAY_MS, cfg.nats.duplicateWindowMs);
  await ensureOneStream(nc, cfg, names.postbackStream, names.postbackSubject, {
    retention: RetentionPolicy.Workqueue,
    max_age: nanos(Math.max(cfg.nats.streamMaxAgeDays * DAY_MS, 2 * cfg.postbacks.retryForMs, dedupeMs)),
    duplicate_window: nanos(dedupeMs),
  });
}

/**
 * Ensure stream `name` on `subjects` exists with the cluster's storage, limits, dedupe window and
 * replicas, or with `overrides` of them. Exported for streams that must be stored exactly like the
 * event stream: the ingest benchmark's floor publishes to one, so that JetStream's share of its
 * cost is the edge's.
 */
export async function ensureOneStream(nc: NatsConnection, cfg: ClusterConfig, name: string, subjects: string, overrides: Partial<StreamConfig> = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const want: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: [subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(cfg.nats.streamMaxAgeDays * 86_400_000),
    duplicate_window: nanos(cfg.nats.duplicateWindowMs),
    num_replicas: cfg.nats.replicas,
    max_msg_size: 8 * 1024 * 1024,
    ...overrides,
  };
  try {
    const info = await jsm.streams.info(name);
    const c = info.config;
    if (c.max_age !== want.max_age || c.duplicate_window !== want.duplicate_window || c.num_replicas !== want.num_replicas) {
      await jsm.streams.update(name, { ...c, ...want });
    }
  } catch (err) {
    if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err;
    await jsm.streams.add(want);
  }
}

/** Open (creating when needed) the catalog KV bucket. History 1: only the current value matters. */
export async function openCatalogBucket(nc: NatsConnection, cfg: ClusterConfig): Promise<KV> {
  return new Kvm(nc).create(natsNames(cfg).catalogBucket, { history: 1, replicas: cfg.nats.replicas });
}

/** Open (creating when needed) the bucket of fraud pauses in force. */
export async function openFraudBucket(nc: NatsConnection, cfg: ClusterConfig): Promise<KV> {
  return new Kvm(nc).create(natsNames(cfg).fraudBucket, { history: 1, replicas: cfg.nats.replicas });
}

/** Open (creating when needed) the bucket of the affiliates' postback endpoint states. */
export async function openPostbackEndpointsBucket(nc: NatsConnection, cfg: ClusterConfig): Promise<KV> {
  return new Kvm(nc).create(natsNames(cfg).postbackEndpointsBucket, { history: 1, replicas: cfg.nats.replicas });
}

/**
 * Open (creating when needed) the bucket of the postback jobs being retried. An entry matters only
 * while its job can still be retried, so entries expire a day after `postbacks.retryForMs`; the
 * bucket's age follows a change of that setting.
 */
export async function openPostbackJobsBucket(nc: NatsConnection, cfg: ClusterConfig): Promise<KV> {
  const ttl = cfg.postbacks.retryForMs + DAY_MS;
  const kv = await new Kvm(nc).create(natsNames(cfg).postbackJobsBucket, { history: 1, replicas: cfg.nats.replicas, ttl });
  const jsm = await jetstreamManager(nc);
  const stream = `KV_${natsNames(cfg).postbackJobsBucket}`;
  const info = await jsm.streams.info(stream);
  if (info.config.max_age !== nanos(ttl)) await jsm.streams.update(stream, { ...info.config, max_age: nanos(ttl) });
  return kv;
}

/**
 * Connect to the configured NATS. Reconnects forever: an edge must outlive any NATS outage (it
 * spools meanwhile), and a worker simply resumes.
 */
export function connectNats(cfg: ClusterConfig, name: string): Promise<NatsConnection> {
  return connect({
    servers: natsUrl(cfg),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    maxPingOut: 2,
    // Otherwise every publish builds two Error objects with stack traces up front (~11 µs each
    // publish on this machine, measured in the redirect benchmark's profile).
    noAsyncTraces: true,
  });
}

/** Everything `up` needs on NATS before edges and workers start; uses `nc` or a connection of its own. */
export async function ensureNats(cfg: ClusterConfig, nc?: NatsConnection): Promise<void> {
  const conn = nc ?? (await connectNats(cfg, `${cfg.namespace}-setup`));
  try {
    await ensureStream(conn, cfg);
    await openCatalogBucket(conn, cfg);
    await openFraudBucket(conn, cfg);
    await openPostbackEndpointsBucket(conn, cfg);
    await openPostbackJobsBucket(conn, cfg);
  } finally {
    if (!nc) await conn.close();
  }
}
