/**
 * Once a second during a run: what the driver sent, what the edge accepted (its `clicks_total` +
 * `events_total`), the consumer lag (from JetStream's consumer info: it answers even when the
 * worker is too busy to serve its /metrics), the worker's queued rows, flush latency and
 * event-loop delay, and the memory of every process — printed as one progress line on stderr and
 * kept as the run's time series (the chart, the soak figures).
 *
 * The worker's /metrics is read by a loop of its own, once a second with a long timeout, rather
 * than within the second's tick: its event-loop gauges cover the time since the previous scrape
 * and are reset by each, so a scrape given up on while the worker is stalled — the answer still
 * served, and the gauges reset, once it frees — would lose the very stall they are there to show.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type ClusterConfig, connectNats, natsNames } from '../../schema/mod.ts';
import { readDriverStatus } from '../tools/mixedDriver.ts';
import { promMax, promSum, scrape } from './net.ts';
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
  /** Rows consumed and not yet in ClickHouse; null when the worker's /metrics has not answered for 1.5 s (its event loop was busy). */
  queuedRows: number | null;
  /** Mean ClickHouse flush latency over the second, ms (null without a flush). */
  flushMs: number | null;
  /**
   * The worker's event-loop delay, p99 and max, ms, over the time its /metrics answers since the
   * previous sample cover (several answers: the worst of them); null without a new answer.
   */
  loopDelayP99Ms: number | null;
  loopDelayMaxMs: number | null;
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

/** How long the worker may take to answer /metrics: one stalled for seconds still answers, and its event-loop figures cover the stall. */
const WORKER_SCRAPE_TIMEOUT_MS = 30_000;

/** The worker's latest /metrics answer, when it came, and the worst event-loop figures of the answers since the previous sample. */
interface WorkerAnswers {
  text: string;
  at: number;
  loopDelayP99Ms: number | undefined;
  loopDelayMaxMs: number | undefined;
}

/** A worker answer older than this is not the current second's: its queued rows and flushes are not reported again. */
const WORKER_FRESH_MS = 1_500;

/** The worker's event-loop delay over a run's load, from the per-second samples. */
export interface LoopDelaySummary {
  /** Samples with the worker's figures. */
  samples: number;
  /** The highest per-sample p99: the worst second's. */
  p99WorstMs: number;
  /** The median per-sample p99: a typical second's. */
  p99MedianMs: number;
  /** The highest per-sample max: the longest stall. */
  maxMs: number;
}

/** {@link LoopDelaySummary} of `samples`; undefined when none has the worker's figures. */
export function loopDelaySummary(samples: readonly Pick<Sample, 'loopDelayP99Ms' | 'loopDelayMaxMs'>[]): LoopDelaySummary | undefined {
  const p99s = samples.flatMap((s) => (s.loopDelayP99Ms === null ? [] : [s.loopDelayP99Ms])).sort((a, b) => a - b);
  const maxima = samples.flatMap((s) => (s.loopDelayMaxMs === null ? [] : [s.loopDelayMaxMs]));
  if (p99s.length === 0 || maxima.length === 0) return undefined;
  return { samples: p99s.length, p99WorstMs: p99s[p99s.length - 1] as number, p99MedianMs: p99s[Math.ceil(p99s.length / 2) - 1] as number, maxMs: Math.max(...maxima) };
}

const worst = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

/** Samples every second until stopped. */
export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();
  private last: { t: number; accepted: number; flushSum: number; flushCount: number } | undefined;
  private busy = false;
  private nats: { nc: NatsConnection; jsm: JetStreamManager } | undefined;
  private running = false;
  private worker: WorkerAnswers | undefined;

  constructor(
    private readonly targets: SamplerTargets,
    private readonly progress: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    const nc = await connectNats(this.targets.cfg, `${this.targets.cfg.namespace}-sampler`);
    this.nats = { nc, jsm: await jetstreamManager(nc) };
    this.running = true;
    void this.watchWorker();
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
    this.running = false;
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

  /** Reads the worker's /metrics once a second until stopped, keeping what {@link sample} has not taken yet. */
  private async watchWorker(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      const text = await scrape(`${this.targets.workerUrl}/metrics`, WORKER_SCRAPE_TIMEOUT_MS);
      if (text !== undefined) {
        const before = this.worker;
        this.worker = {
          text,
          at: performance.now(),
          loopDelayP99Ms: worst(before?.loopDelayP99Ms, promMax(text, 'worker_event_loop_delay_p99_ms')),
          loopDelayMaxMs: worst(before?.loopDelayMaxMs, promMax(text, 'worker_event_loop_delay_max_ms')),
        };
      }
      await sleep(1000 - (performance.now() - started));
    }
  }

  private async sample(): Promise<void> {
    const [edge, lag] = await Promise.all([scrape(`${this.targets.edgeUrl}/metrics`, 900), this.lag()]);
    const answers = this.worker;
    // The event-loop figures are taken once; the text serves again while it is the current second's.
    if (answers) this.worker = { ...answers, loopDelayP99Ms: undefined, loopDelayMaxMs: undefined };
    const worker = answers && performance.now() - answers.at <= WORKER_FRESH_MS ? answers.text : undefined;
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
      loopDelayP99Ms: answers?.loopDelayP99Ms ?? null,
      loopDelayMaxMs: answers?.loopDelayMaxMs ?? null,
      clickP99: driver?.second.clickP99 ?? 0,
      eventP99: driver?.second.eventP99 ?? 0,
      rssMiB,
    };
    this.samples.push(s);
    this.progress(
      `[${t.toFixed(0).padStart(4)} s] sent ${fmt(s.sentPerSec)}/s, edge accepted ${s.acceptedPerSec === null ? '–' : fmt(s.acceptedPerSec)}/s | errors ${fmt(s.errors)} | ` +
        `driver backlog ${fmt(s.backlog)} | consumer lag ${s.consumerLag === null ? '–' : fmt(s.consumerLag)} msgs, queued ${s.queuedRows === null ? '–' : fmt(s.queuedRows)} rows | ` +
        `flush ${s.flushMs === null ? '–' : `${fmt(s.flushMs)} ms`}, loop delay max ${s.loopDelayMaxMs === null ? '–' : `${fmt(s.loopDelayMaxMs)} ms`} | p99 click ${s.clickP99.toFixed(0)} ms, events ${s.eventP99.toFixed(0)} ms`,
    );
  }
}
