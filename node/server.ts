/**
 * The edge's HTTP surface: one uWS app with every route. Sync routes (the redirect, health) answer
 * inline; everything async goes through {@link route}.
 */
import { App, us_listen_socket_close, us_socket_local_port, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../schema/config.ts';
import type { Catalog } from '../schema/catalogStore.ts';
import { AffstreamError } from '../schema/errors.ts';
import type { ClickPublisher } from './clickPublisher.ts';
import { adminApi } from './admin.ts';
import { errorReply, json, route, send } from './http.ts';
import type { EdgeMetrics } from './metrics.ts';
import { redirectHandler } from './redirect.ts';
import { reportsApi } from './reports.ts';
import { TrustedProxies } from './visitor.ts';
import type { Ingest } from './ingest/ingest.ts';
import { postbackHandler } from './ingest/postback.ts';
import { pixelHandler } from './ingest/pixel.ts';
import { webhookHandler } from './ingest/webhook.ts';
import { streamRoute } from './ingest/stream.ts';
import { liveApi } from './live.ts';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { FraudPauses } from './fraud/pauses.ts';
import { fraudApi } from './fraud/api.ts';
import { commissionApi } from './commissions/api.ts';
import { postbacksApi } from './postbacks/api.ts';
import { revenueImportHandler } from './revenue/api.ts';
import { liveSocket } from './liveSocket.ts';
import { natsNames } from '../schema/subjects.ts';

/** Everything the edge's routes need. */
export interface EdgeDeps {
  cfg: ClusterConfig;
  adminToken: string;
  catalog: Catalog;
  publisher: ClickPublisher;
  metrics: EdgeMetrics;
  clickhouse: ClickHouseClient;
  ingest: Ingest;
  redis: Redis;
  nc: NatsConnection;
  js: JetStreamClient;
  pauses: FraudPauses;
  log: Logger;
  /** Whether this edge can take traffic (catalog loaded, not shutting down). */
  ready(): { ready: boolean; detail: Record<string, unknown> };
}

/** A listening edge. */
export interface EdgeServer {
  port: number;
  /**
   * Stop taking connections, give the open ones `graceMs` to finish what they are asking, then
   * close them all: from then on no request is answered, so every click answered is already in
   * the publisher when the caller flushes it (a keep-alive connection would otherwise go on
   * getting 302s whose clicks the stopping edge never publishes).
   */
  close(graceMs: number): Promise<void>;
}

function build(d: EdgeDeps): { app: TemplatedApp; stopFeeds: () => void } {
  const logErr = (err: unknown) => d.log.error({ err }, 'request failed');
  const small = { maxBody: d.cfg.edge.maxAdminBodyBytes, log: logErr };
  const one = { ...small, params: 1 };
  const two = { ...small, params: 2 };
  const events = { maxBody: d.cfg.edge.maxEventBodyBytes, log: logErr, params: 1 };
  const postback = route(postbackHandler(d.ingest), events);
  const admin = adminApi(d.catalog, d.adminToken);
  const redirectDeps = { cfg: d.cfg, catalog: d.catalog, publisher: d.publisher, proxies: new TrustedProxies(d.cfg.edge.trustedProxies), metrics: d.metrics, pauses: d.pauses };
  const names = natsNames(d.cfg);
  const commissions = commissionApi({
    ch: d.clickhouse, nc: d.nc, js: d.js, names, partitions: d.cfg.partitions, catalog: d.catalog, adminToken: d.adminToken, answerTimeoutMs: d.cfg.edge.commandTimeoutMs,
  });
  const fraud = fraudApi({ ch: d.clickhouse, js: d.js, names, partitions: d.cfg.partitions, catalog: d.catalog, pauses: d.pauses, adminToken: d.adminToken });
  const postbacks = postbacksApi({
    ch: d.clickhouse, nc: d.nc, cfg: d.cfg, names, catalog: d.catalog, adminToken: d.adminToken, onError: (err) => d.log.error({ err }, 'postback endpoints watch failed'),
  });
  const notFound = (_: unknown) => {
    throw new AffstreamError('not_found', 'no such endpoint');
  };
  const app = App();
  streamRoute(app, d.ingest, { maxBytes: d.cfg.edge.maxEventBodyBytes, maxEvents: d.cfg.edge.maxEventsPerBatch }, d.log);
  const stopFeeds = liveSocket(app, {
    nc: d.nc, names, namespace: d.cfg.namespace, catalog: d.catalog, redis: d.redis, adminToken: d.adminToken, log: d.log,
    onAlert: (a) => d.metrics.fraudAlerts.labels(a.rule, a.action).inc(),
  });
  app
    .get('/c/:code', redirectHandler(redirectDeps, false))
    .head('/c/:code', redirectHandler(redirectDeps, true))
    .get('/healthz', (res) => send(res, json(200, { ok: true })))
    .get('/readyz', (res) => {
      const r = d.ready();
      send(res, json(r.ready ? 200 : 503, { ok: r.ready, ...r.detail }));
    })
    .get('/pb/:brand', postback)
    .post('/pb/:brand', postback)
    .get('/px/:brand', route(pixelHandler({ ingest: d.ingest, proxies: redirectDeps.proxies, registry: d.metrics.registry, log: d.log }), one))
    .post('/v1/events', route(webhookHandler(d.ingest, d.cfg.edge.maxEventsPerBatch), { ...events, params: 0 }))
    .get('/metrics', route(async () => ({ status: 200, headers: { 'Content-Type': d.metrics.registry.contentType }, body: await d.metrics.registry.metrics() }), small))
    .get('/api/v1/live/affiliates/:id', route(liveApi(d.redis, d.cfg.namespace, d.catalog, d.adminToken), one))
    .get('/api/v1/reports/:name', route(reportsApi(d.clickhouse, d.catalog, d.adminToken), one))
    .get('/api/v1/fraud/alerts', route(fraud.alerts, small))
    .get('/api/v1/fraud/pauses', route(fraud.pauses, small))
    .del('/api/v1/fraud/pauses/:id', route(fraud.lift, one))
    .post('/api/v1/fraud/pauses/:id/lift', route(fraud.lift, one))
    .get('/api/v1/commissions', route(commissions.list, small))
    .post('/api/v1/commissions/approve-due', route(commissions.approveDue, small))
    .get('/api/v1/commissions/:id', route(commissions.get, one))
    .post('/api/v1/commissions/:id/approve', route(commissions.transition('approve'), one))
    .post('/api/v1/commissions/:id/hold', route(commissions.transition('hold'), one))
    .post('/api/v1/commissions/:id/reject', route(commissions.transition('reject'), one))
    .post('/api/v1/commissions/:id/pay', route(commissions.transition('pay'), one))
    .get('/api/v1/postbacks', route(postbacks.attempts, small))
    .get('/api/v1/postbacks/endpoints', route(postbacks.endpoints, small))
    .post('/api/v1/postbacks/endpoints/:affiliateId/enable', route(postbacks.enable, one))
    .post('/api/v1/revenue-imports', revenueImportHandler({
      ch: d.clickhouse, nc: d.nc, js: d.js, names, partitions: d.cfg.partitions, answerTimeoutMs: d.cfg.edge.commandTimeoutMs, catalog: d.catalog,
      adminToken: d.adminToken, maxBytes: d.cfg.edge.maxImportBodyBytes, log: logErr,
    }))
    .get('/api/v1/:kind', route(admin.list, one))
    .get('/api/v1/:kind/:id', route(admin.get, two))
    .put('/api/v1/:kind/:id', route(admin.put, two))
    .del('/api/v1/:kind/:id', route(admin.delete, two))
    .any('/*', route(notFound, small))
    .any('/c/:code', (res) => send(res, errorReply(new AffstreamError('method_not_allowed', 'use GET or HEAD'), logErr)));
  return {
    app,
    stopFeeds: () => {
      stopFeeds();
      postbacks.close();
    },
  };
}

/** Listen on the configured port (shared with the other edge processes through SO_REUSEPORT). */
export function listen(d: EdgeDeps, port = d.cfg.edge.port): Promise<EdgeServer> {
  const { app, stopFeeds } = build(d);
  return new Promise((resolve, reject) => {
    app.listen(d.cfg.edge.host, port, (socket: us_listen_socket | false) => {
      if (!socket) {
        reject(new Error(`edge cannot listen on ${d.cfg.edge.host}:${port} (edge.port / AFFSTREAM_EDGE_PORT)`));
        return;
      }
      resolve({
        port: us_socket_local_port(socket),
        close: async (graceMs) => {
          stopFeeds();
          us_listen_socket_close(socket);
          await new Promise((r) => setTimeout(r, graceMs));
          app.close();
        },
      });
    });
  });
}
