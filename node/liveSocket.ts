/**
 * The live WebSocket `GET /v1/live?affiliate={id}` or `?brand={id}` (docs/fraud.md, “Alerts and
 * pauses”): fraud alerts as they are raised, and for an affiliate its counters every second.
 * Authenticated like the live API (`Authorization: Bearer` or `token=`): the admin token may watch
 * any affiliate or brand, an affiliate's API key only itself. Server → client text frames, JSON:
 * `{"type":"alert","alert":{…}}` and `{"type":"counters","counters":{…}}`.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Catalog } from '../schema/catalogStore.ts';
import { AffstreamError } from '../schema/errors.ts';
import type { FraudAlert } from '../schema/fraud.ts';
import type { NatsNames } from '../schema/subjects.ts';
import { requestScope } from './auth.ts';
import { readLiveCounters } from './live.ts';
import { errorReply, statusLine } from './http.ts';

/** What the live socket needs. */
export interface LiveSocketDeps {
  nc: NatsConnection;
  names: NatsNames;
  namespace: string;
  catalog: Catalog;
  redis: Redis;
  adminToken: string;
  log: Logger;
  /** Called for every alert seen (metrics). */
  onAlert(a: FraudAlert): void;
}

interface Watcher {
  topic: string;
  affiliateId: string;
}

const COUNTERS_MS = 1_000;

/** Register `/v1/live` on `app`; returns the function that stops its feeds. */
export function liveSocket(app: TemplatedApp, d: LiveSocketDeps): () => void {
  /** Affiliate id → connections watching it: whose counters to read each second. */
  const watched = new Map<string, number>();
  app.ws<Watcher>('/v1/live', {
    idleTimeout: 120,
    sendPingsAutomatically: true,
    maxBackpressure: 4 * 1024 * 1024,
    upgrade: (res, req, context) => {
      const query = new URLSearchParams(req.getQuery() ?? '');
      const auth = req.getHeader('authorization') || (query.get('token') ? `Bearer ${query.get('token')}` : '');
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      try {
        const scope = requestScope(auth, d.adminToken, d.catalog);
        const affiliateId = query.get('affiliate') ?? '';
        const brandId = query.get('brand') ?? '';
        if ((affiliateId === '') === (brandId === '')) throw new AffstreamError('invalid_parameter', 'give exactly one of affiliate= or brand=');
        if (!scope.all && affiliateId !== scope.affiliateId) throw new AffstreamError('forbidden', 'an affiliate API key watches only its own affiliate');
        if (affiliateId && !d.catalog.affiliates.has(affiliateId)) throw new AffstreamError('not_found', `no affiliate ${affiliateId}`);
        if (brandId && !d.catalog.brands.has(brandId)) throw new AffstreamError('unknown_brand', `no brand ${brandId}`);
        const topic = affiliateId ? `affiliate/${affiliateId}` : `brand/${brandId}`;
        res.upgrade<Watcher>({ topic, affiliateId }, key, protocol, extensions, context);
      } catch (err) {
        const r = errorReply(err, (e) => d.log.error({ err: e }, 'live socket upgrade failed'));
        res.cork(() => res.writeStatus(statusLine(r.status ?? 500)).writeHeader('Content-Type', 'application/json').end(r.body as string));
      }
    },
    open: (ws) => {
      const w = ws.getUserData();
      ws.subscribe(w.topic);
      if (w.affiliateId) watched.set(w.affiliateId, (watched.get(w.affiliateId) ?? 0) + 1);
    },
    close: (ws) => {
      const w = ws.getUserData();
      if (!w.affiliateId) return;
      const n = (watched.get(w.affiliateId) ?? 1) - 1;
      if (n <= 0) watched.delete(w.affiliateId);
      else watched.set(w.affiliateId, n);
    },
  });

  const sub: Subscription = d.nc.subscribe(d.names.fraudAlerts, {
    callback: (err, m) => {
      if (err) return;
      try {
        const alert = JSON.parse(m.string()) as FraudAlert;
        d.onAlert(alert);
        const frame = JSON.stringify({ type: 'alert', alert });
        app.publish(`affiliate/${alert.affiliate_id}`, frame);
        app.publish(`brand/${alert.brand_id}`, frame);
      } catch (e) {
        d.log.warn({ err: String(e) }, 'unreadable fraud alert');
      }
    },
  });
  const timer = setInterval(() => {
    for (const id of watched.keys()) {
      readLiveCounters(d.redis, d.namespace, id)
        .then((counters) => app.publish(`affiliate/${id}`, JSON.stringify({ type: 'counters', counters })))
        .catch(() => undefined);
    }
  }, COUNTERS_MS);
  return () => {
    clearInterval(timer);
    sub.unsubscribe();
  };
}
