/**
 * The worker's figures in `bench mixed` (loadtest/README.md, “mixed”): Prometheus text read into
 * values and histogram buckets, quantiles at bucket resolution, and the event-loop delay of the
 * load from the per-second samples.
 */
import { describe, expect, it } from 'vitest';
import { promBuckets, promMax, promSum, promValues } from '../../loadtest/lib/net.ts';
import { loopDelaySummary } from '../../loadtest/lib/sampler.ts';
import { bucketQuantile } from '../../loadtest/lib/stats.ts';
import { conversionLatencyOf, workerSection } from '../../loadtest/scenarios/mixed.ts';

const METRICS = `# HELP conversion_latency_ms Time from the edge accepting a conversion
# TYPE conversion_latency_ms histogram
conversion_latency_ms_bucket{le="1",worker="1"} 0
conversion_latency_ms_bucket{le="10",worker="1"} 40
conversion_latency_ms_bucket{le="100",worker="1"} 95
conversion_latency_ms_bucket{le="1000",worker="1"} 99
conversion_latency_ms_bucket{le="+Inf",worker="1"} 100
conversion_latency_ms_sum{worker="1"} 2000
conversion_latency_ms_count{worker="1"} 100
conversion_latency_ms_bucket{le="1",worker="2"} 0
conversion_latency_ms_bucket{le="10",worker="2"} 10
conversion_latency_ms_bucket{le="100",worker="2"} 95
conversion_latency_ms_bucket{le="1000",worker="2"} 100
conversion_latency_ms_bucket{le="+Inf",worker="2"} 100
worker_event_loop_delay_max_ms{worker="1"} 12.5
worker_event_loop_delay_max_ms{worker="2"} 48
worker_event_loop_delay_max_ms_created{worker="2"} 1700000000
`;

describe('reading /metrics', () => {
  it('takes every series of a metric and nothing of a longer name', () => {
    expect(promValues(METRICS, 'worker_event_loop_delay_max_ms')).toEqual([12.5, 48]);
    expect(promMax(METRICS, 'worker_event_loop_delay_max_ms')).toBe(48);
    expect(promSum(METRICS, 'worker_event_loop_delay_max_ms')).toBe(60.5);
    expect(promMax(METRICS, 'worker_event_loop_delay_p99_ms')).toBeUndefined();
  });

  it("sums a histogram's buckets over the processes, by bound, +Inf last", () => {
    expect(promBuckets(METRICS, 'conversion_latency_ms')).toEqual([
      { le: 1, count: 0 },
      { le: 10, count: 50 },
      { le: 100, count: 190 },
      { le: 1000, count: 199 },
      { le: Infinity, count: 200 },
    ]);
    expect(promBuckets(METRICS, 'clickhouse_flush_latency_ms')).toEqual([]);
  });
});

describe('quantiles from cumulative buckets', () => {
  const buckets = [
    { le: 5, count: 50 },
    { le: 25, count: 98 },
    { le: 100, count: 99 },
    { le: Infinity, count: 100 },
  ];

  it('is the upper bound of the bucket holding the nearest-rank observation', () => {
    expect(bucketQuantile(buckets, 0.5)).toBe(5);
    expect(bucketQuantile(buckets, 0.51)).toBe(25);
    expect(bucketQuantile(buckets, 0.99)).toBe(100);
    expect(bucketQuantile(buckets, 1)).toBe(Infinity);
  });

  it('lands in the first bucket for the lowest ranks, and is undefined with nothing observed', () => {
    expect(bucketQuantile([{ le: 1, count: 3 }, { le: Infinity, count: 3 }], 0.001)).toBe(1);
    expect(bucketQuantile([{ le: 1, count: 0 }, { le: Infinity, count: 0 }], 0.5)).toBeUndefined();
    expect(bucketQuantile([], 0.5)).toBeUndefined();
  });

  it('gives the conversion latency of a /metrics text, and renders it as bounds', () => {
    const c = conversionLatencyOf(METRICS);
    expect(c).toMatchObject({ conversions: 200, p50Ms: 100, p99Ms: 1000 });
    expect(conversionLatencyOf('process_cpu_seconds_total 1\n')).toBeUndefined();
    const md = workerSection({ workerLoopDelay: undefined, conversionLatency: c }).join('\n');
    expect(md).toContain('| 200 | ≤ 100 | ≤ 1,000 |');
    const beyond = workerSection({ workerLoopDelay: undefined, conversionLatency: { conversions: 1, p50Ms: Infinity, p99Ms: Infinity, buckets: [{ le: 10_000, count: 0 }, { le: Infinity, count: 1 }] } });
    expect(beyond.join('\n')).toContain('| 1 | > 10,000 | > 10,000 |');
  });
});

describe('event-loop delay of the load', () => {
  const s = (p99: number | null, max: number | null) => ({ loopDelayP99Ms: p99, loopDelayMaxMs: max });

  it('is the worst and the median second of the p99s, and the longest stall, over the samples with figures', () => {
    expect(loopDelaySummary([s(2, 10), s(null, null), s(30, 250), s(4, 12), s(3, 9)])).toEqual({ samples: 4, p99WorstMs: 30, p99MedianMs: 3, maxMs: 250 });
    expect(loopDelaySummary([s(7, 7)])).toEqual({ samples: 1, p99WorstMs: 7, p99MedianMs: 7, maxMs: 7 });
  });

  it('is undefined when the worker never answered, and says so in the report', () => {
    expect(loopDelaySummary([s(null, null)])).toBeUndefined();
    expect(workerSection({ workerLoopDelay: undefined, conversionLatency: undefined }).join('\n')).toContain('never answered');
    expect(workerSection({ workerLoopDelay: { samples: 4, p99WorstMs: 30, p99MedianMs: 3, maxMs: 250 }, conversionLatency: undefined }).join('\n')).toContain('| 4 | 30.0 | 3.0 | 250.0 |');
  });
});
