/**
 * The worker's consumption loop for one consumer (docs/architecture.md, “How a worker consumes”):
 * pull a batch, apply it message by message in stream order, report the batch, pull again — at
 * once when the batch was full, after `intervalMs` when it was not, so that under steady traffic
 * the process wakes once per interval for everything that arrived, not once per message.
 *
 * Applying is synchronous and time-sliced: after `sliceMs` of it the loop lets the event loop run
 * (flushes, publishes, timers, `/metrics`) before it goes on, so a large batch (a replay, a
 * backlog) never holds the process for long.
 */
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import type { BatchPuller, PulledMessage, PullResult } from './batchPuller.ts';

/** How the loop paces itself. */
export interface BatchConsumerOptions {
  /** Messages per pull at most. */
  batch: number;
  /** Pause after a pull that brought less than a full batch. */
  intervalMs: number;
  /** After this long without messages, a pull waits on the server for the next one instead. */
  idleAfterMs: number;
  /** How long such a waiting pull waits (it ends at the first message). */
  waitMs: number;
  /** Apply at most this long before letting the event loop run. */
  sliceMs: number;
}

/** Default pacing around `intervalMs` and `batch` (worker.pullIntervalMs, worker.pullBatch). */
export function pacing(intervalMs: number, batch: number): BatchConsumerOptions {
  return { batch, intervalMs, idleAfterMs: 200, waitMs: 5_000, sliceMs: 10 };
}

/** What the loop calls. */
export interface BatchHandler {
  /** Apply one message (synchronously; a throw stops the loop and is reported to {@link failed}). */
  apply(m: PulledMessage): void;
  /**
   * Applying `m` threw: the loop has stopped, and the state of its partitions is suspect (the
   * message may be half applied). Called before the batch boundary is left, so the handler can
   * make sure no flush takes a snapshot of that state ({@link BatchBoundary.poison}).
   */
  failed(err: unknown, m: PulledMessage): void;
  /** Every message of the batch is applied; `last` is its last message. */
  applied(last: PulledMessage, count: number): void;
  /** A pull ended with a status other than "nothing more now". */
  trouble(description: string): void;
  /** True while the worker holds too much unwritten output to take more. */
  held(): boolean;
}

/**
 * Tells when no consumer of the worker is in the middle of a batch: the only moments at which a
 * flush may take the queue and the partitions' snapshots, since only then has every partition of a
 * consumer applied exactly the messages up to one sequence (docs/architecture.md, “How a worker
 * consumes”).
 */
export class BatchBoundary {
  private applying = 0;
  private waiting: Array<() => void> = [];
  private poisoned = false;

  /** Null between batches, else a promise resolved as soon as the batches being applied are. */
  reached(): Promise<void> | null {
    if (this.applying === 0 && !this.poisoned) return null;
    return new Promise((resolve) => {
      if (!this.poisoned) this.waiting.push(resolve);
    });
  }

  /**
   * A batch failed half applied: no boundary is ever reached again, so no flush of this worker
   * takes the queue or a snapshot from now on (the worker is abandoned and its partitions are
   * recovered afresh from what ClickHouse holds).
   */
  poison(): void {
    this.poisoned = true;
    this.waiting = [];
  }

  /** A consumer starts applying a batch. */
  enter(): void {
    this.applying++;
  }

  /** A consumer has applied its batch and reported it. */
  leave(): void {
    this.applying--;
    if (this.applying > 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }
}

/** Runs one consumer's loop until stopped. */
export class BatchConsumer {
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly puller: BatchPuller,
    private readonly handler: BatchHandler,
    private readonly o: BatchConsumerOptions,
    private readonly boundary: BatchBoundary,
  ) {
    this.done = this.run();
  }

  /** Stop pulling; resolves once the batch being applied is applied. */
  stop(): Promise<void> {
    this.stopped = true;
    this.puller.stop();
    return this.done;
  }

  private async run(): Promise<void> {
    let lastMessageAt = performance.now();
    while (!this.stopped) {
      const idle = performance.now() - lastMessageAt > this.o.idleAfterMs;
      const pulled: PullResult = await this.puller.pull(this.o.batch, idle ? this.o.waitMs : 0);
      if (pulled.trouble !== undefined) this.handler.trouble(pulled.trouble);
      const { messages } = pulled;
      if (messages.length > 0) {
        lastMessageAt = performance.now();
        this.boundary.enter();
        try {
          const failed = await this.applyAll(messages);
          if (failed) return;
          this.handler.applied(messages[messages.length - 1] as PulledMessage, messages.length);
        } finally {
          this.boundary.leave();
        }
      }
      // Backpressure: stop pulling while ClickHouse is behind, so memory stays bounded.
      while (this.handler.held() && !this.stopped) await sleep(50);
      if (this.stopped) break;
      // A full batch: more is waiting, take it now (after one turn of the event loop).
      if (messages.length >= this.o.batch) await turn();
      else if (messages.length > 0 || !idle) await sleep(this.o.intervalMs);
    }
  }

  /** Applies the batch in time slices; true when a message threw (reported, and the loop ends). */
  private async applyAll(messages: readonly PulledMessage[]): Promise<boolean> {
    let sliceStart = performance.now();
    for (const m of messages) {
      try {
        this.handler.apply(m);
      } catch (err) {
        this.stopped = true;
        this.handler.failed(err, m);
        return true;
      }
      if (performance.now() - sliceStart >= this.o.sliceMs) {
        await turn();
        sliceStart = performance.now();
      }
    }
    return false;
  }
}
