/**
 * Keeps a worker process's partitions applied (docs/api.md, “Worker health”): runs one worker
 * instance at a time, and when one of its partition loops dies — a message whose application
 * threw, leaving its partitions' state suspect — abandons that instance without flushing anything
 * and starts a new one, which recovers the partitions exactly from ClickHouse and the stream, as
 * after a kill -9. Meanwhile `/healthz` and `/readyz` say so.
 *
 * A message that kills the loop {@link SupervisorOptions.quarantineAfter} times in a row would
 * otherwise stop its partitions for good: the next instance skips it, logs it with its stream
 * sequence, counts it in `worker_messages_quarantined_total` and lists it in the health answers,
 * like a message that cannot be decoded.
 */
import type { Logger } from 'pino';
import { exponentialBackoff, failuresInARow, RESTART_PACING, type RestartPacing } from '../schema/backoff.ts';

/** A partition loop that died: where, and why. */
export interface LoopFailure {
  /** The durable consumer whose loop stopped. */
  consumer: string;
  /** Stream sequence of the message whose application threw. */
  seq: number;
  subject: string;
  error: string;
}

/** One owned partition, as `/readyz` and `/healthz` report it. */
export interface PartitionStatus {
  partition: number;
  /** Owned by this worker (every partition listed is). */
  owned: true;
  /** Its loop is applying messages. */
  live: boolean;
  /** Stream sequence up to which it has applied every message. */
  position: number;
  /** The consumer delivering it. */
  consumer: string;
  /** Messages that consumer has not delivered yet (null before its first batch). */
  consumerLag: number | null;
  /** Still working through the backlog it had when the instance started. */
  replaying: boolean;
}

/** What the supervisor needs of a running worker instance. */
export interface SupervisedWorker {
  /** Resolves when a partition loop dies; never, while none does. */
  failed: Promise<LoopFailure>;
  /** The instance's partitions now. */
  partitions(): PartitionStatus[];
  /** Stop consuming, flush what was consumed, close. */
  stop(): Promise<void>;
  /** After a failure: stop and close without flushing or snapshotting anything. */
  abandon(): Promise<void>;
}

/** How the supervisor starts instances and paces restarts. */
export interface SupervisorOptions {
  /** Start an instance that skips the messages at the stream sequences of `quarantine`. */
  start(quarantine: ReadonlySet<number>): Promise<SupervisedWorker>;
  log: Logger;
  /** Counted at each restart and each message quarantined. */
  counters?: { restarts(): void; quarantined(): void };
  /** Pauses between restarts; default {@link RESTART_PACING}. */
  pacing?: RestartPacing;
  /** Failures at the same message before it is skipped. */
  quarantineAfter?: number;
}

/** The supervisor's state, in the health answers. */
export type SupervisorState = 'starting' | 'consuming' | 'restarting' | 'stopping' | 'stopped';

/** A health or readiness answer. */
export interface HealthAnswer {
  status: 200 | 503;
  body: Record<string, unknown>;
}

/** Runs worker instances one after another, restarting after a dead loop. */
export class WorkerSupervisor {
  private state: SupervisorState = 'starting';
  private current: SupervisedWorker | undefined;
  private restarts = 0;
  private lastFailure: (LoopFailure & { at: string }) | undefined;
  private readonly quarantine = new Set<number>();
  private readonly quarantined: Array<LoopFailure & { at: string }> = [];
  /** Failures in a row at one sequence. */
  private strikes = { seq: -1, count: 0 };
  private stopRequested: (() => void) | undefined;
  private readonly stopping: Promise<'stop'>;
  private readonly o: Required<Omit<SupervisorOptions, 'counters'>> & Pick<SupervisorOptions, 'counters'>;

  constructor(options: SupervisorOptions) {
    this.o = { pacing: RESTART_PACING, quarantineAfter: 3, ...options };
    this.stopping = new Promise((resolve) => (this.stopRequested = () => resolve('stop')));
  }

  /**
   * Runs instances until {@link stop}. Rejects when an instance cannot be started (bad rules
   * file, servers unreachable past their retries): that is the process's to report.
   */
  async run(): Promise<void> {
    let inARow = 0;
    while (this.state !== 'stopping') {
      this.state = this.restarts > 0 ? 'restarting' : 'starting';
      const w = await this.o.start(this.quarantine);
      if ((this.state as SupervisorState) === 'stopping') {
        await w.stop();
        break;
      }
      this.current = w;
      this.state = 'consuming';
      const startedAt = Date.now();
      const outcome = await Promise.race([w.failed, this.stopping]);
      if (outcome === 'stop') {
        await w.stop();
        break;
      }
      this.current = undefined;
      this.state = 'restarting';
      this.restarts++;
      this.o.counters?.restarts();
      this.lastFailure = { ...outcome, at: new Date().toISOString() };
      this.o.log.error({ ...outcome, restarts: this.restarts }, 'partition loop died; abandoning this instance (nothing flushed) and recovering its partitions afresh');
      await w.abandon();
      this.strike(outcome);
      inARow = failuresInARow(inARow, Date.now() - startedAt, this.o.pacing);
      const pause = exponentialBackoff(inARow, this.o.pacing.baseMs, this.o.pacing.maxMs);
      await Promise.race([new Promise((r) => setTimeout(r, pause)), this.stopping]);
    }
    this.current = undefined;
    this.state = 'stopped';
  }

  /**
   * Stop the running instance (flushing) and end {@link run}. False when no instance consumes
   * (starting, or restarting after a failure): nothing was consumed that a flush would keep, and
   * a start waiting for its servers may never end, so the caller exits at once.
   */
  stop(): boolean {
    const consuming = this.state === 'consuming';
    if (this.state !== 'stopped') {
      this.state = 'stopping';
      this.stopRequested?.();
    }
    return consuming;
  }

  /** `/healthz`: 503 while a dead loop's partitions wait for their new instance. */
  health(): HealthAnswer {
    const ok = this.state !== 'restarting';
    return { status: ok ? 200 : 503, body: { ok, ...this.summary() } };
  }

  /** `/readyz`: 200 only while an instance consumes with every partition live. */
  readiness(): HealthAnswer {
    const partitions = this.current?.partitions() ?? [];
    const ready = this.state === 'consuming' && partitions.length > 0 && partitions.every((p) => p.live);
    return { status: ready ? 200 : 503, body: { ready, ...this.summary(), partitions } };
  }

  private summary(): Record<string, unknown> {
    return {
      state: this.state,
      restarts: this.restarts,
      ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}),
      quarantined: this.quarantined,
    };
  }

  /** Counts a failure at its message; the one that keeps failing is quarantined. */
  private strike(f: LoopFailure): void {
    this.strikes = f.seq === this.strikes.seq ? { seq: f.seq, count: this.strikes.count + 1 } : { seq: f.seq, count: 1 };
    if (this.strikes.count < this.o.quarantineAfter) return;
    this.quarantine.add(f.seq);
    this.quarantined.push({ ...f, at: new Date().toISOString() });
    this.o.counters?.quarantined();
    this.o.log.error({ ...f, failures: this.strikes.count }, 'message quarantined: it killed its partition loop each time; the next instance skips it');
  }
}
