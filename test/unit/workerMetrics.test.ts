/**
 * The worker's /metrics (docs/api.md, “Operations”): the event-loop delay gauges read the window
 * since the previous scrape, and `conversion_latency_ms` is a histogram with buckets from 1 ms to
 * 10 s.
 */
import { describe, expect, it } from 'vitest';
import { workerMetrics } from '../../workers/metrics.ts';

const value = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`${name} missing`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
};

/** Holds the event loop for `ms`: the monitor's timer, due every 5 ms, runs that much late. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('worker metrics', () => {
  it('exports the event-loop delay since the previous scrape: a stall shows in its max and p99 bound, and is not read twice', async () => {
    const m = workerMetrics({ worker: 'test' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await m.registry.metrics();
    // A scrape's reset forgets the timer's last run: the stall comes after the next runs.
    await new Promise((resolve) => setTimeout(resolve, 20));
    block(80);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const first = await m.registry.metrics();
    const max = value(first, 'worker_event_loop_delay_max_ms');
    // The timer was due within 5 ms of the stall's start: it ran at least 75 ms late.
    expect(max).toBeGreaterThanOrEqual(70);
    expect(value(first, 'worker_event_loop_delay_p99_ms')).toBeLessThanOrEqual(max);
    expect(value(first, 'worker_event_loop_delay_p50_ms')).toBeLessThanOrEqual(value(first, 'worker_event_loop_delay_p99_ms'));
    // The next scrape reads a new window: the stall is gone from it, whatever the machine did since.
    const second = await m.registry.metrics();
    expect(value(second, 'worker_event_loop_delay_max_ms')).not.toBe(max);
  });

  it('counts conversions in conversion_latency_ms buckets from 1 ms to 10 s', async () => {
    const m = workerMetrics({ worker: 'test' });
    m.conversionLatency.observe(0.4);
    m.conversionLatency.observe(42);
    m.conversionLatency.observe(12_000);
    const text = await m.registry.metrics();
    expect(text).toContain('conversion_latency_ms_bucket{le="1",worker="test"} 1');
    expect(text).toContain('conversion_latency_ms_bucket{le="50",worker="test"} 2');
    expect(text).toContain('conversion_latency_ms_bucket{le="10000",worker="test"} 2');
    expect(text).toContain('conversion_latency_ms_bucket{le="+Inf",worker="test"} 3');
  });
});
