/**
 * Prometheus metrics of a worker process (docs/api.md, “Operations”), served on `worker.metricsPort`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's metrics. */
export interface WorkerMetrics {
  registry: Registry;
  flushLatency: Histogram;
  rowsFlushed: Counter;
  flushFailures: Counter;
  consumerLag: Gauge<'partition'>;
  queuedRows: Gauge;
  duplicates: Counter;
  fraudAlerts: Counter<'rule' | 'action'>;
  /** Scores of clicks and registrations; its running mean is `fraud_score_avg`. */
  fraudScores: { observe(score: number): void };
}

/**
 * `fraud_score_avg`: the mean fraud score of the clicks and registrations counted since the
 * previous scrape (the last value is kept while nothing is counted).
 */
function scoreAverage(registry: Registry): { observe(score: number): void } {
  let sum = 0;
  let count = 0;
  let last = 0;
  new Gauge({
    name: 'fraud_score_avg',
    help: 'Mean fraud score (0-100) of the clicks and registrations counted since the previous scrape',
    registers: [registry],
    collect() {
      if (count > 0) last = sum / count;
      sum = 0;
      count = 0;
      this.set(last);
    },
  });
  return {
    observe(score) {
      sum += score;
      count++;
    },
  };
}

/** Create the worker's registry. */
export function workerMetrics(labels: Record<string, string>): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    flushLatency: new Histogram({
      name: 'clickhouse_flush_latency_ms',
      help: 'Duration of one ClickHouse insert of raw rows',
      buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000],
      registers: [registry],
    }),
    rowsFlushed: new Counter({ name: 'clickhouse_rows_flushed_total', help: 'Raw rows written to ClickHouse', registers: [registry] }),
    flushFailures: new Counter({ name: 'clickhouse_flush_failures_total', help: 'Inserts that failed and will be retried', registers: [registry] }),
    consumerLag: new Gauge({ name: 'consumer_lag', help: 'Messages of the partition not yet delivered to its worker', labelNames: ['partition'], registers: [registry] }),
    queuedRows: new Gauge({ name: 'worker_queued_rows', help: 'Rows consumed and not yet in ClickHouse', registers: [registry] }),
    duplicates: new Counter({ name: 'events_duplicate_total', help: 'Events dropped by a partition as already applied', registers: [registry] }),
    fraudAlerts: new Counter({ name: 'fraud_alerts_total', help: 'Fraud alerts raised, by rule and action', labelNames: ['rule', 'action'], registers: [registry] }),
    fraudScores: scoreAverage(registry),
  };
}
