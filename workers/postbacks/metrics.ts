/** Prometheus metrics of the postback dispatcher, on the worker's registry. */
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/** The dispatcher's metrics. */
export interface PostbackMetrics {
  /** Attempt rows by result (`ok`, `failed`, `gave_up`, `skipped`). */
  attempts: Counter<'result'>;
  /** Duration of one request, answered or not. */
  latency: Histogram;
  /** Endpoints this process disabled after consecutive failures (an alert each). */
  disabled: Counter;
  /** Jobs in the stream not yet delivered to any dispatcher. */
  pending: Gauge;
  /** Requests in flight in this process. */
  inFlight: Gauge;
}

/** The metric `name` of `registry`, created by `make` when it is not there yet (a second dispatcher shares it). */
function once<M extends Metric>(registry: Registry, name: string, make: (registers: Registry[]) => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make([registry]);
}

/** Register (or reuse) the dispatcher's metrics on `registry`. */
export function postbackMetrics(registry: Registry): PostbackMetrics {
  return {
    attempts: once(registry, 'postback_attempts_total', (registers) => new Counter({ name: 'postback_attempts_total', help: 'Outbound postback attempts recorded, by result', labelNames: ['result'], registers })),
    latency: once(registry, 'postback_latency_ms', (registers) => new Histogram({
      name: 'postback_latency_ms', help: 'Duration of one outbound postback request', buckets: [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000], registers,
    })),
    disabled: once(registry, 'postback_endpoints_disabled_total', (registers) => new Counter({ name: 'postback_endpoints_disabled_total', help: 'Affiliate postback endpoints disabled after consecutive failures', registers })),
    pending: once(registry, 'postback_jobs_pending', (registers) => new Gauge({ name: 'postback_jobs_pending', help: 'Postback jobs in the stream not yet delivered to a dispatcher', registers })),
    inFlight: once(registry, 'postback_requests_in_flight', (registers) => new Gauge({ name: 'postback_requests_in_flight', help: 'Outbound postback requests in flight in this process', registers })),
  };
}
