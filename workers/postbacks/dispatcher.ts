/**
 * The outbound postback dispatcher (docs/commissions.md, “Outbound postbacks”). A worker appends a
 * commission line's change to ClickHouse, then publishes its {@link PostbackJob} to the postback
 * stream; from there on everything happens here.
 *
 * Every worker process runs one dispatcher on the same durable pull consumer, so JetStream spreads
 * the jobs. A dispatcher fetches as many jobs as it has free request slots (`postbacks.concurrency`),
 * looks the sub-IDs of a fetched batch's clicks up in one query, and sends each job to its
 * affiliate's `postbackUrl` as the catalog holds it at that moment, at most
 * `postbacks.endpointConcurrency` at once per endpoint (a slow endpoint cannot take every slot).
 *
 * A 2xx acknowledges the job. Anything else is retried on the backoff schedule of
 * workers/postbacks/schedule.ts by a negative acknowledgement with a delay, so JetStream keeps the
 * schedule through restarts; a job's attempt count and retry time live in the jobs KV bucket, for
 * whichever process the job reaches next. Every attempt is a row of `postback_attempts`, inserted
 * in batches. Failures count per endpoint in the endpoints KV bucket; the one that disables an
 * endpoint raises an alert (warn log, `postback_endpoints_disabled_total`, a message on the alerts
 * subject, a `postback_endpoint_events` row). A disabled endpoint's jobs wait without attempts,
 * looking again every `postbacks.disabledRecheckMs`, until an operator enables it or their retry
 * time is over.
 *
 * A job is delivered at least once. A success is remembered (the ids of the latest delivered jobs
 * in memory, and in the jobs bucket for a job that had been retried) so that a redelivery whose
 * acknowledgement got lost is acknowledged without a second request. What remains is the window
 * between an endpoint's 2xx and JetStream's receipt of the acknowledgement: a process that dies
 * there (or loses its connection) has the job delivered again after the ack wait, to a process
 * that does not know it, and the endpoint gets the postback twice.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Catalog } from '../../schema/catalogStore.ts';
import type { PostbackJob } from '../../schema/commissions.ts';
import type { ClusterConfig } from '../../schema/config.ts';
import { openPostbackJobsBucket } from '../../schema/natsSetup.ts';
import { PostbackEndpoints } from '../../schema/postbackEndpoints.ts';
import { afterAttempt, endpointEvent, endpointEventRow, type AttemptResult, type EndpointEventRow, type PostbackAttemptRow, type PostbackEndpointEvent } from '../../schema/postbacks.ts';
import { natsNames, type NatsNames } from '../../schema/subjects.ts';
import { ClickSubsLookup } from './clickSubs.ts';
import { JobProgressStore } from './jobProgress.ts';
import { postbackMetrics, type PostbackMetrics } from './metrics.ts';
import { macroValues, needsClickSubs, renderPostbackUrl, type ClickSubs } from './render.ts';
import { RowBuffer } from './rowBuffer.ts';
import { nextStep, retryAfterFailure, type JobProgress } from './schedule.ts';
import { PostbackSender, type SendOutcome } from './send.ts';

/** What {@link startPostbackDispatcher} needs. */
export interface PostbackDispatcherDeps {
  cfg: ClusterConfig;
  nc: NatsConnection;
  ch: ClickHouseClient;
  catalog: Catalog;
  log: Logger;
  /** The worker's metrics, whose registry gets the dispatcher's; without it they are kept apart. */
  metrics?: { registry: Registry };
}

/** A running dispatcher. */
export interface PostbackDispatcher {
  /** Stop fetching, let the requests in flight finish, insert the rows held. */
  stop(): Promise<void>;
}

/** How long one pull waits for jobs; also the longest a stop waits for the pull to end. */
const FETCH_EXPIRES_MS = 5_000;
/**
 * Jobs waiting for their next attempt count as unacknowledged: the limit must hold every job of
 * every endpoint that is down or disabled, or JetStream stops delivering new ones.
 */
const MAX_WAITING_JOBS = 1_000_000;
/** Ids of delivered jobs remembered in memory. */
const DONE_MEMORY = 100_000;
/** A job whose progress or click could not be read (NATS or ClickHouse trouble) comes back this much later, without an attempt. */
const TROUBLE_RETRY_MS = 5_000;
/** Ack wait beyond the request timeout: reading progress and clicks, writing the outcome. */
const ACK_WAIT_MARGIN_MS = 60_000;

/** Create the shared durable consumer, or bring its ack wait and limit up to date. */
export async function ensurePostbackConsumer(jsm: JetStreamManager, cfg: ClusterConfig): Promise<void> {
  const names = natsNames(cfg);
  const ackWait = nanos(cfg.postbacks.requestTimeoutMs + ACK_WAIT_MARGIN_MS);
  try {
    const { config } = await jsm.consumers.info(names.postbackStream, names.postbackConsumer);
    if (config.ack_wait !== ackWait || config.max_ack_pending !== MAX_WAITING_JOBS) {
      await jsm.consumers.update(names.postbackStream, names.postbackConsumer, { ack_wait: ackWait, max_ack_pending: MAX_WAITING_JOBS });
    }
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConsumerNotFoundError') throw err;
    await jsm.consumers.add(names.postbackStream, {
      durable_name: names.postbackConsumer,
      filter_subject: names.postbackSubject,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWait,
      max_deliver: -1,
      max_ack_pending: MAX_WAITING_JOBS,
      deliver_policy: DeliverPolicy.All,
    });
  }
}

/** Request slots of the process: taken as jobs arrive, given back once a job is settled. */
class Slots {
  private used = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly size: number) {}

  get free(): number {
    return this.size - this.used;
  }

  take(): void {
    this.used++;
  }

  release(): void {
    this.used--;
    this.wake();
  }

  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once a slot is free, or `stopped()`. */
  async whenFree(stopped: () => boolean): Promise<void> {
    while (this.free <= 0 && !stopped()) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Resolves once every slot is back. */
  async idle(): Promise<void> {
    while (this.used > 0) await new Promise<void>((r) => this.waiters.push(r));
  }
}

/** A bounded set of recent ids: the oldest is forgotten first. */
class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly max: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.size >= this.max) this.ids.delete(this.ids.values().next().value as string);
    this.ids.add(id);
  }
}

const JOB_STRINGS = ['id', 'commissionId', 'brandId', 'affiliateId', 'playerId', 'status', 'event', 'payout', 'currency', 'txid', 'clickId', 'sub1'] as const;

/** The job a message carries, or undefined when it is not one. */
function parseJob(m: JsMsg): PostbackJob | undefined {
  let j: Record<string, unknown>;
  try {
    j = m.json<Record<string, unknown>>();
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null || !JOB_STRINGS.every((k) => typeof j[k] === 'string') || !j.id || typeof j.version !== 'number') return undefined;
  return j as unknown as PostbackJob;
}

/** A job about to be sent. */
interface Send {
  m: JsMsg;
  job: PostbackJob;
  template: string;
  attempt: number;
  since: number;
  progress: JobProgress | undefined;
}

/** What an attempt row says beyond its job. */
interface AttemptFields {
  at: number;
  url: string;
  outcome: Pick<SendOutcome, 'statusCode' | 'latencyMs' | 'error'>;
  attempt: number;
  result: AttemptResult;
}

const NO_REQUEST = { statusCode: 0, latencyMs: 0 };

/** The parts a dispatcher runs with. */
interface Parts {
  deps: PostbackDispatcherDeps;
  names: NatsNames;
  consumer: Consumer;
  endpoints: PostbackEndpoints;
  progress: JobProgressStore;
  attempts: RowBuffer<PostbackAttemptRow>;
  events: RowBuffer<EndpointEventRow>;
  subs: ClickSubsLookup;
  sender: PostbackSender;
  metrics: PostbackMetrics;
}

class Dispatcher {
  private stopping = false;
  private pull: ConsumerMessages | undefined;
  private readonly slots: Slots;
  /** Requests in flight per affiliate. */
  private readonly busy = new Map<string, number>();
  private readonly done = new RecentIds(DONE_MEMORY);
  private readonly settled = new WeakSet<JsMsg>();
  private readonly running: Promise<void>;

  constructor(private readonly p: Parts) {
    this.slots = new Slots(p.deps.cfg.postbacks.concurrency);
    this.running = this.run();
  }

  private get cfg() {
    return this.p.deps.cfg.postbacks;
  }

  private get log() {
    return this.p.deps.log;
  }

  /** Pull while there are free slots; each pull asks for as many jobs as there are. */
  private async run(): Promise<void> {
    while (!this.stopping) {
      await this.slots.whenFree(() => this.stopping);
      if (this.stopping) break;
      try {
        this.pull = await this.p.consumer.fetch({ max_messages: this.slots.free, expires: FETCH_EXPIRES_MS });
        await this.drain(this.pull);
      } catch (err) {
        if (this.stopping) break;
        this.log.warn({ err: String(err) }, 'postback fetch failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        // Nothing may escape this loop: its promise is awaited only at stop, and a rejection
        // nobody awaits ends the process (the whole worker, during a NATS outage).
        await jetstreamManager(this.p.deps.nc)
          .then((jsm) => ensurePostbackConsumer(jsm, this.p.deps.cfg))
          .catch(() => undefined);
      } finally {
        this.pull = undefined;
      }
    }
  }

  /**
   * Take a pull's jobs as they arrive. The jobs JetStream sends at once arrive in one turn of the
   * event loop and are handled as one group (one click lookup); later arrivals make groups of their
   * own, so a lone job never waits for its pull to fill up.
   */
  private async drain(pull: ConsumerMessages): Promise<void> {
    let group: JsMsg[] = [];
    for await (const m of pull) {
      this.slots.take();
      this.p.metrics.pending.set(m.info.pending);
      group.push(m);
      if (group.length === 1) {
        setImmediate(() => {
          const taken = group;
          group = [];
          void this.handleGroup(taken);
        });
      }
    }
  }

  private async handleGroup(msgs: JsMsg[]): Promise<void> {
    const prepared = await Promise.all(msgs.map((m) => this.prepare(m).catch((err) => this.trouble(m, err))));
    const sends = prepared.filter((s): s is Send => s !== undefined);
    const subs = await this.lookupSubs(sends);
    await Promise.all(sends.filter((s) => !this.settled.has(s.m)).map((s) => this.attempt(s, subs).catch((err) => this.trouble(s.m, err))));
  }

  /** Carry out what a delivered job calls for; a job to send is returned, holding its endpoint's slot. */
  private async prepare(m: JsMsg): Promise<Send | undefined> {
    if (this.stopping) return this.settle(m, { nak: 0 });
    const job = parseJob(m);
    if (!job) {
      this.log.error({ seq: m.seq, data: m.string().slice(0, 200) }, 'malformed postback job dropped');
      return this.settle(m, 'term');
    }
    if (this.done.has(job.id)) return this.settle(m, 'ack');
    // A first delivery has no progress yet: only redeliveries cost a round trip.
    const progress = m.info.deliveryCount > 1 ? await this.p.progress.get(job.id) : undefined;
    const template = this.p.deps.catalog.affiliates.get(job.affiliateId)?.postbackUrl ?? '';
    const now = Date.now();
    const step = nextStep(progress, {
      now,
      hasUrl: template !== '',
      enabled: this.p.endpoints.get(job.affiliateId).enabled,
      endpointBusy: (this.busy.get(job.affiliateId) ?? 0) >= this.cfg.endpointConcurrency,
    }, this.cfg);
    switch (step.kind) {
      case 'done':
        this.done.add(job.id);
        return this.settle(m, 'ack');
      case 'skip':
        this.record(job, { at: now, url: '', outcome: { ...NO_REQUEST, error: 'no postbackUrl' }, attempt: 0, result: 'skipped' });
        return this.finish(m, job, progress);
      case 'give_up':
        this.record(job, { at: now, url: '', outcome: { ...NO_REQUEST, error: 'endpoint disabled until the retry time was over' }, attempt: 0, result: 'gave_up' });
        return this.finish(m, job, progress);
      case 'hold':
        // The retry time of a job that was never tried starts when it is first held.
        if (!progress) await this.saveProgress(job.id, { attempts: 0, since: step.since, retryAt: 0, done: false });
        return this.settle(m, { nak: step.delayMs });
      case 'wait':
      case 'busy':
        return this.settle(m, { nak: step.delayMs });
      case 'send':
        this.busy.set(job.affiliateId, (this.busy.get(job.affiliateId) ?? 0) + 1);
        return { m, job, template, attempt: step.attempt, since: step.since, progress };
      default: {
        const never: never = step;
        throw new Error(`unknown step ${JSON.stringify(never)}`);
      }
    }
  }

  /** The sub-IDs of the clicks of the jobs whose templates need them; those jobs come back later when ClickHouse does not answer. */
  private async lookupSubs(sends: Send[]): Promise<Map<string, ClickSubs>> {
    const needing = sends.filter((s) => s.job.clickId !== '' && needsClickSubs(s.template));
    if (needing.length === 0) return new Map();
    try {
      return await this.p.subs.lookup(needing.map((s) => s.job.clickId));
    } catch (err) {
      this.log.warn({ err: String(err), jobs: needing.length }, 'click lookup for postbacks failed; the jobs come back later');
      for (const s of needing) {
        this.release(s.job.affiliateId);
        this.settle(s.m, { nak: TROUBLE_RETRY_MS });
      }
      return new Map();
    }
  }

  /** Send one attempt and carry out its outcome. */
  private async attempt(s: Send, subs: Map<string, ClickSubs>): Promise<void> {
    const { m, job } = s;
    try {
      const url = renderPostbackUrl(s.template, macroValues(job, subs.get(job.clickId)));
      const at = Date.now();
      this.p.metrics.inFlight.inc();
      const outcome = await this.p.sender.send(url).finally(() => this.p.metrics.inFlight.dec());
      this.p.metrics.latency.observe(outcome.latencyMs);
      const now = Date.now();
      if (outcome.ok) {
        this.record(job, { at, url, outcome, attempt: s.attempt, result: 'ok' });
        await this.countOutcome(job.affiliateId, { ok: true }, now);
        this.finish(m, job, s.progress);
        return;
      }
      const retryAt = retryAfterFailure(s.attempt, now, s.since, this.cfg);
      this.record(job, { at, url, outcome, attempt: s.attempt, result: retryAt === null ? 'gave_up' : 'failed' });
      await this.countOutcome(job.affiliateId, { ok: false, error: outcome.error }, now);
      if (retryAt === null) {
        this.finish(m, job, s.progress ?? { attempts: s.attempt, since: s.since, retryAt: now, done: false });
        return;
      }
      await this.saveProgress(job.id, { attempts: s.attempt, since: s.since, retryAt, done: false });
      this.settle(m, { nak: retryAt - now });
    } finally {
      this.release(job.affiliateId);
    }
  }

  private release(affiliateId: string): void {
    const n = (this.busy.get(affiliateId) ?? 1) - 1;
    if (n > 0) this.busy.set(affiliateId, n);
    else this.busy.delete(affiliateId);
  }

  /** A job is over (delivered, given up, nothing to send): remembered as done, acknowledged. */
  private finish(m: JsMsg, job: PostbackJob, progress: JobProgress | undefined): undefined {
    this.done.add(job.id);
    // A job with progress may be redelivered anywhere: its entry says it is over. The others
    // never had an entry, and their redelivery (a lost acknowledgement) finds none.
    if (progress) void this.saveProgress(job.id, { ...progress, done: true });
    return this.settle(m, 'ack');
  }

  private async saveProgress(jobId: string, p: JobProgress): Promise<void> {
    try {
      await this.p.progress.put(jobId, p);
    } catch (err) {
      // The job goes on; a redelivery elsewhere would start its count and schedule again.
      this.log.warn({ err: String(err), jobId }, 'postback job progress not stored');
    }
  }

  /** Count an attempt into its endpoint's state; the failure that disables it raises the alert. Never throws. */
  private async countOutcome(affiliateId: string, outcome: { ok: true } | { ok: false; error: string }, at: number): Promise<void> {
    // The usual success changes nothing: no round trip.
    if (outcome.ok && this.p.endpoints.get(affiliateId).consecutiveFailures === 0) return;
    try {
      const { before, after } = await this.p.endpoints.update(affiliateId, (s) => afterAttempt(s, outcome, at, this.cfg));
      if (before.enabled && !after.enabled) this.announce(endpointEvent(before, after));
    } catch (err) {
      this.log.warn({ err: String(err), affiliateId }, 'postback endpoint state not updated');
    }
  }

  private announce(e: PostbackEndpointEvent): void {
    this.log.warn({ affiliateId: e.affiliateId, failures: e.failures, lastError: e.lastError }, `postback endpoint disabled: ${e.reason}`);
    this.p.metrics.disabled.inc();
    try {
      this.p.deps.nc.publish(this.p.names.postbackAlerts, JSON.stringify(e));
    } catch (err) {
      this.log.warn({ err: String(err) }, 'postback endpoint alert not published');
    }
    this.p.events.push(endpointEventRow(e));
  }

  private record(job: PostbackJob, f: AttemptFields): void {
    this.p.metrics.attempts.labels(f.result).inc();
    this.p.attempts.push({
      at: Math.floor(f.at / 1000), at_ms: f.at % 1000, job_id: job.id, commission_id: job.commissionId, version: job.version,
      brand_id: job.brandId, affiliate_id: job.affiliateId, status: job.status, url: f.url, status_code: f.outcome.statusCode,
      latency_ms: f.outcome.latencyMs, error: f.outcome.error, attempt: f.attempt, result: f.result,
    });
  }

  /** Something unexpected (NATS or ClickHouse trouble): the job comes back later, without an attempt. */
  private trouble(m: JsMsg, err: unknown): undefined {
    this.log.warn({ err: String(err), seq: m.seq }, 'postback job not handled; it comes back later');
    return this.settle(m, { nak: TROUBLE_RETRY_MS });
  }

  /** Acknowledge, terminate or return a job (once), and give its slot back. */
  private settle(m: JsMsg, how: 'ack' | 'term' | { nak: number }): undefined {
    if (this.settled.has(m)) return undefined;
    this.settled.add(m);
    try {
      if (how === 'ack') m.ack();
      else if (how === 'term') m.term();
      else m.nak(Math.max(0, Math.round(how.nak)));
    } catch (err) {
      // Disconnected: JetStream redelivers it after the ack wait.
      this.log.warn({ err: String(err), seq: m.seq }, 'postback job not settled');
    }
    this.slots.release();
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pull?.stop();
    this.slots.wake();
    await this.running;
    await this.slots.idle();
    await Promise.all([this.p.attempts.stop(), this.p.events.stop()]);
    await this.p.sender.close();
    this.p.endpoints.close();
  }
}

/**
 * Start a dispatcher: ensures the shared consumer, opens the endpoint and job buckets, and pulls
 * until stopped. The caller keeps `nc` and `ch` (and closes them after {@link PostbackDispatcher.stop}).
 */
export async function startPostbackDispatcher(deps: PostbackDispatcherDeps): Promise<PostbackDispatcher> {
  const { cfg, nc, ch, log } = deps;
  const names = natsNames(cfg);
  await ensurePostbackConsumer(await jetstreamManager(nc), cfg);
  const consumer = await jetstream(nc).consumers.get(names.postbackStream, names.postbackConsumer);
  const endpoints = await PostbackEndpoints.open(nc, cfg, (err) => log.error({ err }, 'postback endpoints watch failed'));
  const dispatcher = new Dispatcher({
    deps,
    names,
    consumer,
    endpoints,
    progress: new JobProgressStore(await openPostbackJobsBucket(nc, cfg)),
    attempts: new RowBuffer(ch, 'postback_attempts', cfg.worker.flushIntervalMs, log),
    events: new RowBuffer(ch, 'postback_endpoint_events', cfg.worker.flushIntervalMs, log),
    subs: new ClickSubsLookup(ch),
    sender: new PostbackSender(cfg.postbacks),
    metrics: postbackMetrics(deps.metrics?.registry ?? new Registry()),
  });
  log.info({ concurrency: cfg.postbacks.concurrency }, 'postback dispatcher started');
  return { stop: () => dispatcher.stop() };
}
