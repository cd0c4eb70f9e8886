/**
 * Pulls a JetStream consumer's messages in batches, on the worker's cadence rather than the
 * messages' (docs/architecture.md, “How a worker consumes”).
 *
 * A consumer that keeps a pull request waiting gets every message the moment it is stored: one
 * socket read, one wake-up and one trip through the client's iterators per message, which at a
 * few thousand messages a second costs more than applying them. Here each pull asks for what is
 * there *now* (`no_wait`): the server answers with up to `batch` messages in one burst and ends
 * the request with a status (404 nothing, 408 fewer than asked). The caller pulls again after its
 * interval, so messages that arrive meanwhile are taken together. Only after a run of empty
 * pulls does it wait on the server (`waitMs`), for one message, so an idle worker costs nothing.
 *
 * The nats.js JetStream client offers neither `no_wait` nor a pull shorter than a second, so this
 * speaks the pull protocol on core NATS: `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with a
 * reply inbox, and acknowledgements published to a message's reply subject.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription, type MsgHdrs } from '@nats-io/transport-node';

/** A delivered message, with what its reply subject says about it. */
export interface PulledMessage {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** Stream sequence. */
  seq: number;
  /** Messages of the consumer still undelivered after this one. */
  pending: number;
  /** Reply subject: acknowledging it acknowledges this message (and, under AckAll, every earlier one). */
  reply: string;
}

/** What one pull brought. */
export interface PullResult {
  messages: PulledMessage[];
  /**
   * A status that ended the request for a reason other than "no more messages now" (e.g. 409
   * consumer deleted, leadership change), with its description: the caller logs it and pulls again.
   */
  trouble?: string;
}

/**
 * Stream sequence and pending count from a JetStream reply subject: `$JS.ACK.<stream>.<consumer>.
 * <delivered>.<stream seq>.<consumer seq>.<time>.<pending>`, or the same with a domain and an
 * account hash after `ACK` (and a trailing token) on newer servers.
 */
export function parseAckSubject(reply: string): { seq: number; pending: number } | undefined {
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  const base = t.length === 9 ? 0 : t.length >= 11 ? 2 : -1;
  if (base < 0) return undefined;
  const seq = Number(t[5 + base]);
  const pending = Number(t[8 + base]);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(pending)) return undefined;
  return { seq, pending };
}

/** Statuses that end a pull because there is nothing (more) to deliver right now. */
const DRAINED = new Set([404, 408]);

interface Waiting {
  want: number;
  messages: PulledMessage[];
  timer: NodeJS.Timeout;
  done(result: PullResult): void;
}

/**
 * How long past its own wait a pull may go unanswered (NATS reconnecting loses requests) before
 * it ends empty and the caller asks again: whatever the lost request delivers later still comes in
 * stream order, into the next pull.
 */
const ANSWER_MS = 5_000;

/** One consumer's batch pulls. One pull at a time. */
export class BatchPuller {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private waiting: Waiting | undefined;
  /**
   * Messages that came while no pull waited (a request that timed out here and was answered
   * late): the next pull takes them first. Dropping one would break the consumer's order, which
   * the partitions' positions rely on.
   */
  private early: PulledMessage[] = [];
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly consumer: string,
  ) {
    this.sub = nc.subscribe(this.inbox, { callback: (err, m) => (err ? this.end({ trouble: String(err) }) : this.receive(m)) });
  }

  /**
   * Pull up to `batch` messages: those the consumer has now (`waitMs` 0), or else wait up to
   * `waitMs` for the first one and take it alone. Resolves with none once stopped.
   */
  pull(batch: number, waitMs = 0): Promise<PullResult> {
    if (this.waiting) throw new Error(`consumer ${this.consumer}: a pull is already waiting`);
    if (this.stopped) return Promise.resolve({ messages: [] });
    const want = waitMs > 0 ? 1 : batch;
    const early = this.early.splice(0, want);
    if (early.length > 0) return Promise.resolve({ messages: early });
    return new Promise<PullResult>((resolve) => {
      const timer = setTimeout(() => this.end({ trouble: `no answer in ${waitMs + ANSWER_MS} ms` }), waitMs + ANSWER_MS);
      this.waiting = { want, messages: [], timer, done: resolve };
      const request = waitMs > 0 ? { batch: 1, expires: waitMs * 1_000_000 } : { batch, no_wait: true };
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.consumer}`, JSON.stringify(request), { reply: this.inbox });
    });
  }

  /** Acknowledge a delivered message (under AckAll: it and every earlier one). */
  ack(m: Pick<PulledMessage, 'reply'>): void {
    if (!this.nc.isClosed()) this.nc.publish(m.reply);
  }

  /** Ends the pull waiting, if any, with what it has; later pulls bring nothing. */
  stop(): void {
    this.stopped = true;
    this.end({});
    this.sub.unsubscribe();
  }

  private receive(m: Msg): void {
    const w = this.waiting;
    const code = m.headers?.code ?? 0;
    if (code !== 0 && m.data.length === 0) {
      // 100: idle heartbeat or flow control, never asked for here; anything else ends the request.
      if (code === 100) return;
      this.end(DRAINED.has(code) ? {} : { trouble: `${code} ${m.headers?.description ?? ''}`.trim() });
      return;
    }
    const info = parseAckSubject(m.reply ?? '');
    if (!info) return;
    const pulled: PulledMessage = { subject: m.subject, data: m.data, headers: m.headers, seq: info.seq, pending: info.pending, reply: m.reply as string };
    if (!w) {
      if (!this.stopped) this.early.push(pulled);
      return;
    }
    w.messages.push(pulled);
    if (w.messages.length >= w.want) this.end({});
  }

  private end(extra: Omit<PullResult, 'messages'>): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    clearTimeout(w.timer);
    w.done({ messages: w.messages, ...extra });
  }
}
