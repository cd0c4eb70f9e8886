/**
 * Once a second during a run: what the driver sent, what the edge accepted (its `clicks_total` +
 * `events_total`), the consumer lag (from JetStream's consumer info: it answers even when the
 * worker is too busy to serve its /metrics), the worker's queued rows and flush latency, and the
 * memory of every process — printed as one progress line on stderr and kept as the run's time
 * series (the chart, the soak figures).
 */
import { performance } from 'node:perf_hooks';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterConfig } from '../../schema/config.ts';
import { connectNats } from '../../schema/natsSetup.ts';
import { natsNames } from '../../schema/subjects.ts';
import { readDriverStatus } from '../tools/mixedDriver.ts';
import { promSum, scrape } from './net.ts';
import { memoryMiB } from './proc.ts';

/** One second of a run. */
export interface Sample {
  /** Seconds since the load started. */
  t: number;
  /** Actions the driver sent in its last second. */
  sentPerSec: number;
  /** Clicks + events the edge counted per second since the previous sample; null when its /metrics did not answer. */
  acceptedPerSec: number | null;
  /** Failed redirects and event requests, and rejected events, so far. */
  errors: number;
  /** Actions due and not yet answered, at the driver. */
  backlog: number;
  /**
   * Messages of the stream the worker has not acknowledged yet — not delivered, or delivered and not
   * yet in ClickHouse — summed over the partitions' consumers; null when JetStream did not answer.
   */
  consumerLag: number | null;
  /** Rows consumed and not yet in ClickHouse; null when the worker's /metrics did not answer within 0.9 s (its event loop was busy). */
  queuedRows: number | null;
  /** Mean ClickHouse flush latency over the second, ms (null without a flush). */
  flushMs: number | null;
  /** The driver's p99 in its last second, ms. */
  clickP99: number;
  eventP99: number;
  /** Resident memory per process, MiB. */
  rssMiB: Record<string, number>;
}

/** What the sampler watches. */
export interface SamplerTargets {
  cfg: ClusterConfig;
  edgeUrl: string;
  workerUrl: string;
  statusFile: string;
  /** Process name → pid, for memory. */
  pids: Record<string, number>;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Samples every second until stopped. */
export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();
  private last: { t: number; accepted: number; flushSum: number; flushCount: number } | undefined;
  private busy = false;
  private nats: { nc: NatsConnection; jsm: JetStreamManager } | undefined;

  constructor(
    private readonly targets: SamplerTargets,
    private readonly progress: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    const nc = await connectNats(this.targets.cfg, `${this.targets.cfg.namespace}-sampler`);
    this.nats = { nc, jsm: await jetstreamManager(nc) };
    this.timer = setInterval(() => {
      // A scrape slower than a second (a saturated machine) skips a tick rather than piling up.
      if (this.busy) return;
      this.busy = true;
      this.sample()
        .catch(() => undefined)
        .finally(() => (this.busy = false));
    }, 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const nats = this.nats;
    this.nats = undefined;
    await nats?.nc.close();
  }

  /** Unacknowledged messages over every consumer of the stream; undefined when JetStream does not answer. */
  private async lag(): Promise<number | undefined> {
    if (!this.nats) return undefined;
    try {
      let n = 0;
      for await (const c of this.nats.jsm.consumers.list(natsNames(this.targets.cfg).stream)) n += c.num_pending + c.num_ack_pending;
      return n;
    } catch {
      return undefined;
    }
  }

  private async sample(): Promise<void> {
    const [edge, worker, lag] = await Promise.all([scrape(`${this.targets.edgeUrl}/metrics`, 900), scrape(`${this.targets.workerUrl}/metrics`, 900), this.lag()]);
    const t = (performance.now() - this.t0) / 1000;
    const driver = readDriverStatus(this.targets.statusFile);
    const accepted = edge === undefined ? undefined : (promSum(edge, 'clicks_total') ?? 0) + (promSum(edge, 'events_total') ?? 0);
    const flushSum = worker === undefined ? undefined : (promSum(worker, 'clickhouse_flush_latency_ms_sum') ?? 0);
    const flushCount = worker === undefined ? undefined : (promSum(worker, 'clickhouse_flush_latency_ms_count') ?? 0);
    let acceptedPerSec: number | null = null;
    let flushMs: number | null = null;
    if (this.last && accepted !== undefined) acceptedPerSec = (accepted - this.last.accepted) / (t - this.last.t);
    if (this.last && flushSum !== undefined && flushCount !== undefined && flushCount > this.last.flushCount) {
      flushMs = (flushSum - this.last.flushSum) / (flushCount - this.last.flushCount);
    }
    if (accepted !== undefined && flushSum !== undefined && flushCount !== undefined) this.last = { t, accepted, flushSum, flushCount };
    const rssMiB: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.targets.pids)) {
      const m = memoryMiB(pid);
      if (m) rssMiB[name] = Math.round(m.rss);
    }
    const s: Sample = {
      t,
      sentPerSec: driver?.second.actions ?? 0,
      acceptedPerSec,
      errors: driver ? driver.clickFailures + driver.eventFailures + driver.rejected : 0,
      backlog: driver?.backlog ?? 0,
      consumerLag: lag ?? null,
      queuedRows: worker === undefined ? null : (promSum(worker, 'worker_queued_rows') ?? 0),
      flushMs,
      clickP99: driver?.second.clickP99 ?? 0,
      eventP99: driver?.second.eventP99 ?? 0,
      rssMiB,
    };
    this.samples.push(s);
    this.progress(
      `[${t.toFixed(0).padStart(4)} s] sent ${fmt(s.sentPerSec)}/s, edge accepted ${s.acceptedPerSec === null ? '–' : fmt(s.acceptedPerSec)}/s | errors ${fmt(s.errors)} | ` +
        `driver backlog ${fmt(s.backlog)} | consumer lag ${s.consumerLag === null ? '–' : fmt(s.consumerLag)} msgs, queued ${s.queuedRows === null ? '–' : fmt(s.queuedRows)} rows | ` +
        `flush ${s.flushMs === null ? '–' : `${fmt(s.flushMs)} ms`} | p99 click ${s.clickP99.toFixed(0)} ms, events ${s.eventP99.toFixed(0)} ms`,
    );
  }
}
