/**
 * Prometheus metrics of a worker process (docs/api.md, “Operations”), served on `worker.metricsPort`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's metrics. */
export interface WorkerMetrics {
  registry: Registry;
  flushLatency: Histogram;
  rowsFlushed: Counter;
  flushFailures: Counter;
  consumerLag: Gauge<'consumer'>;
  queuedRows: Gauge;
  duplicates: Counter;
  fraudAlerts: Counter<'rule' | 'action'>;
  /** Scores of clicks and registrations; its running mean is `fraud_score_avg`. */
  fraudScores: { observe(score: number): void };
  /**
   * `conversion_latency_ms`: from the edge accepting a conversion (registration or deposit) to
   * the worker having attributed and applied it, ms.
   */
  conversionLatency: Histogram;
  /** Instances abandoned after a partition loop died, and started afresh (workers/supervisor.ts). */
  restarts: Counter;
  /** Messages skipped because each attempt to apply them killed their partition loop. */
  quarantined: Counter;
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

/**
 * Period of the event-loop monitor's timer, ms. Fine enough to read a stall to within 5 ms, where
 * the default 10 ms would be half the 20 ms the worker's p99 may reach (docs/api.md,
 * “Operations”); coarse enough that its 200 wake-ups a second are nothing beside the messages the
 * worker handles. 1 ms would cost a wake-up per millisecond to resolve what no target asks for.
 */
const LOOP_DELAY_RESOLUTION_MS = 5;

/**
 * `worker_event_loop_delay_{p50,p99,max}_ms`: how late the event loop ran a timer due every
 * {@link LOOP_DELAY_RESOLUTION_MS}, over the time since the previous scrape: how long an event
 * arriving then waited behind the work in hand (flushes, snapshots, GC). The histogram records
 * each whole interval between the timer's runs, so the resolution is taken off. The first gauge
 * of a scrape to collect takes the window and resets the histogram, whichever order the registry
 * collects them in; a window without one run of the timer (scrapes a few ms apart) reads 0. A reset
 * forgets when the timer last ran, so the interval from a scrape to the timer's next run (5 ms, or
 * a stall that starts within it) belongs to no window: a blind spot of 0.5% at one scrape a second.
 */
function eventLoopDelay(registry: Registry): void {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  histogram.enable();
  const delayMs = (ns: number) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
  type Window = { p50: number; p99: number; max: number };
  let window: Window | undefined;
  let readers = new Set<keyof Window>();
  const read = (which: keyof Window): number => {
    if (window === undefined || readers.has(which)) {
      const empty = histogram.count === 0;
      window = empty ? { p50: 0, p99: 0, max: 0 } : { p50: delayMs(histogram.percentile(50)), p99: delayMs(histogram.percentile(99)), max: delayMs(histogram.max) };
      histogram.reset();
      readers = new Set();
    }
    readers.add(which);
    return window[which];
  };
  const gauge = (which: keyof Window, help: string) =>
    new Gauge({
      name: `worker_event_loop_delay_${which}_ms`,
      help,
      registers: [registry],
      collect() {
        this.set(read(which));
      },
    });
  gauge('p50', 'Median event-loop delay since the previous scrape, ms');
  gauge('p99', '99th percentile of the event-loop delay since the previous scrape, ms');
  gauge('max', 'Longest event-loop delay since the previous scrape, ms');
}

/** Create the worker's registry. */
export function workerMetrics(labels: Record<string, string>): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  eventLoopDelay(registry);
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
    consumerLag: new Gauge({ name: 'consumer_lag', help: 'Messages of the consumer (a worker reads its partitions through one) not yet delivered to it', labelNames: ['consumer'], registers: [registry] }),
    queuedRows: new Gauge({ name: 'worker_queued_rows', help: 'Rows consumed and not yet in ClickHouse', registers: [registry] }),
    duplicates: new Counter({ name: 'events_duplicate_total', help: 'Events dropped by a partition as already applied', registers: [registry] }),
    fraudAlerts: new Counter({ name: 'fraud_alerts_total', help: 'Fraud alerts raised, by rule and action', labelNames: ['rule', 'action'], registers: [registry] }),
    fraudScores: scoreAverage(registry),
    conversionLatency: new Histogram({
      name: 'conversion_latency_ms',
      help: 'Time from the edge accepting a conversion (registration or deposit) to the worker having attributed and applied it',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    restarts: new Counter({ name: 'worker_restarts_total', help: 'Worker instances abandoned after a partition loop died, and started afresh', registers: [registry] }),
    quarantined: new Counter({ name: 'worker_messages_quarantined_total', help: 'Messages skipped because applying them killed their partition loop each time', registers: [registry] }),
  };
}
