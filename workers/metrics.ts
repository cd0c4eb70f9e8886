/**
 * Prometheus metrics of a worker process (SPEC §11), served on `worker.metricsPort`.
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
  };
}
