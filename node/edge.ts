/**
 * One edge process: NATS connection, catalog mirror, click publisher with its spool, ClickHouse
 * client for reports, and the HTTP server. {@link startEdge} is what `node/main.ts` runs and what
 * integration tests start in-process.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { ClusterConfig } from '../schema/config.ts';
import { Catalog } from '../schema/catalogStore.ts';
import { connectNats } from '../schema/natsSetup.ts';
import { clickhouse } from '../schema/clickhouse/client.ts';
import { ClickPublisher } from './clickPublisher.ts';
import { AckedPublisher } from './ackedPublisher.ts';
import { edgeMetrics } from './metrics.ts';
import { listen } from './server.ts';
import { Spool } from './spool.ts';
import { Redis } from 'ioredis';
import { jetstream } from '@nats-io/jetstream';
import { redisUrl } from '../schema/config.ts';
import { natsNames } from '../schema/subjects.ts';
import { EventDedupe } from './ingest/dedupe.ts';
import { Ingest } from './ingest/ingest.ts';
import { FraudPauses } from './fraud/pauses.ts';

/** How long a stopping edge lets its open connections finish their requests before it closes them. */
const CONNECTION_GRACE_MS = 250;

/** A running edge. */
export interface Edge {
  port: number;
  instance: string;
  publisher: ClickPublisher;
  /** Stop taking requests, flush clicks (spooling what NATS does not take within `timeoutMs`), close. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Start an edge. `port` overrides the configured one (tests use 0 for a free port). */
export async function startEdge(cfg: ClusterConfig, opts: { adminToken: string; port?: number; log?: Logger; root?: string }): Promise<Edge> {
  // A fresh id per process start: batch ids (`<instance>.<seq>`) must never repeat across restarts.
  const instance = `${hostname().replace(/[^A-Za-z0-9_-]/g, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = (opts.log ?? pino({ level: cfg.logLevel })).child({ edge: instance });
  const nc = await connectNats(cfg, `edge-${instance}`);
  const catalog = await Catalog.open(nc, cfg, (err) => log.error({ err }, 'catalog watch failed'));
  const pauses = await FraudPauses.open(nc, cfg, (err) => log.error({ err }, 'fraud pauses watch failed'));
  const metrics = edgeMetrics({ edge: instance });
  // Per namespace: an edge adopts the spools of dead edges, and must never replay another cluster's.
  const spool = new Spool(join(resolve(opts.root ?? process.cwd(), cfg.dataDir), 'spool', cfg.namespace), instance);
  // One ack subscription for both hot paths; closed once neither publishes any more.
  const acks = new AckedPublisher(nc, cfg.edge.publishTimeoutMs, log);
  const publisher = new ClickPublisher(nc, acks, cfg, instance, spool, metrics, log);
  const ch = clickhouse(cfg);
  // Redis only answers "duplicate?"; the edge must start and ingest without it.
  const redis = new Redis(redisUrl(cfg), { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
  redis.on('error', (err) => log.debug({ err: String(err) }, 'redis'));
  const js = jetstream(nc, { timeout: cfg.edge.publishTimeoutMs });
  const dedupe = new EventDedupe(redis, cfg.namespace, log);
  const ingest = new Ingest({
    acks,
    names: natsNames(cfg),
    partitions: cfg.partitions,
    catalog,
    dedupe,
    instance,
    count: (type, n) => metrics.events.labels(type).inc(n),
  });
  let stopping = false;
  const server = await listen(
    {
      cfg, adminToken: opts.adminToken, catalog, publisher, metrics, clickhouse: ch, ingest, redis, nc, js, pauses, log,
      ready: () => ({ ready: !stopping, detail: { edge: instance, nats: nc.isClosed() ? 'closed' : 'connected-or-reconnecting', spoolDepth: spool.depth, unconfirmedClicks: publisher.unconfirmed } }),
    },
    opts.port,
  );
  log.info({ port: server.port, partitions: cfg.partitions }, 'edge listening');
  return {
    port: server.port,
    instance,
    publisher,
    async stop(timeoutMs = 10_000) {
      stopping = true;
      await server.close(CONNECTION_GRACE_MS);
      await publisher.close(timeoutMs);
      acks.close();
      spool.close();
      catalog.close();
      pauses.close();
      // Confirmations not yet sent would turn resends of those events into republishes.
      await dedupe.settled();
      redis.disconnect();
      await Promise.allSettled([nc.drain(), ch.close()]);
      log.info('edge stopped');
    },
  };
}
