/**
 * Prometheus metrics of an edge process (docs/api.md, “Operations”), served at `/metrics`.
 * prom-client is the de-facto Node client: exposition format, histograms and default process
 * metrics done right.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The statuses a redirected click is counted under. */
export type ClickStatus = 'ok' | 'bot' | 'geo_blocked' | 'inactive';

const CLICK_STATUSES: readonly ClickStatus[] = ['ok', 'bot', 'geo_blocked', 'inactive'];

/** The edge's metrics. */
export interface EdgeMetrics {
  registry: Registry;
  /**
   * Clicks redirected, by status: plain integers the redirect increments, turned into
   * `clicks_total` when scraped. A prom-client counter increment (label hashing, map lookups)
   * costs about a microsecond, too much for every click.
   */
  clicks: Record<ClickStatus, number>;
  publishLatency: Histogram;
  spoolDepth: Gauge;
  events: Counter<'type'>;
  fraudAlerts: Counter<'rule' | 'action'>;
}

/** Create the edge's registry; `labels` (edge instance) are added to every series. */
export function edgeMetrics(labels: Record<string, string>): EdgeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  const clicks: Record<ClickStatus, number> = { ok: 0, bot: 0, geo_blocked: 0, inactive: 0 };
  const reported: Record<ClickStatus, number> = { ok: 0, bot: 0, geo_blocked: 0, inactive: 0 };
  new Counter({
    name: 'clicks_total',
    help: 'Clicks redirected, by status (ok, bot, geo_blocked, inactive)',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      for (const status of CLICK_STATUSES) {
        const n = clicks[status] - reported[status];
        if (n > 0) this.inc({ status }, n);
        reported[status] = clicks[status];
      }
    },
  });
  return {
    registry,
    clicks,
    publishLatency: new Histogram({
      name: 'jetstream_publish_latency_ms',
      help: 'Time from publishing a click batch to its JetStream ack',
      buckets: [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 3000],
      registers: [registry],
    }),
    spoolDepth: new Gauge({ name: 'spool_depth', help: 'Click batches waiting in the disk spool', registers: [registry] }),
    events: new Counter({ name: 'events_total', help: 'Player events accepted (durable in JetStream), by type', labelNames: ['type'], registers: [registry] }),
    fraudAlerts: new Counter({ name: 'fraud_alerts_total', help: 'Fraud alerts seen on the alert subject, by rule and action', labelNames: ['rule', 'action'], registers: [registry] }),
  };
}
