/**
 * A worker process: owns a set of partitions (explicitly — `partitions` below; leases across
 * workers come later), runs one durable consumer and one ordered loop per partition, and carries
 * out the actors' effects through the ClickHouse sink. Messages are acknowledged to JetStream only
 * once their rows are in ClickHouse.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino, type Logger } from 'pino';
import type { ClusterConfig } from '../schema/config.ts';
import { connectNats, ensureStream, openFraudBucket } from '../schema/natsSetup.ts';
import { natsNames } from '../schema/subjects.ts';
import { clickhouse } from '../schema/clickhouse/client.ts';
import { decodeBatch, WireError } from '../schema/wire.ts';
import { Catalog } from '../schema/catalogStore.ts';
import {
  decodeCommands, decodeEventBatch, decodeForwarded, decodeLift, decodeResolutions, decodeRevenue, decodeRules, decodeTick, encodeTick, KIND_HEADER, type MessageKind,
} from '../schema/eventWire.ts';
import { canonicalRules } from '../schema/attributionRules.ts';
import { DEFAULT_FRAUD_RULES } from '../schema/fraud.ts';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { retrying } from './runtime/retrying.ts';
import { BatchPuller } from './runtime/batchPuller.ts';
import { BatchBoundary, BatchConsumer, pacing } from './runtime/batchConsumer.ts';
import { consumerPlans, resetConsumers, type ConsumerPlan } from './runtime/partitionConsumers.ts';
import { Forwarder } from './runtime/forwarder.ts';
import { OutboxSender } from './runtime/outboxSender.ts';
import { startPostbackDispatcher } from './postbacks/dispatcher.ts';
import { AlertOutlet } from './fraud/alertOutlet.ts';
import { alertRow } from './sink/alertRow.ts';
import { pendingResolution, type BrandSettings } from './actors/player.ts';
import { ClickHouseSink, type QueuedMessage } from './sink/clickhouseSink.ts';
import { serializeInSlices } from './runtime/copyOnWriteSnapshot.ts';
import { PartitionLoop, type LoopOutput, type PartitionInput, type PartitionSettings } from './runtime/partition.ts';
import { applyWithLocalDeliveries } from './runtime/localDelivery.ts';
import { parentOf, planOf } from '../schema/plans.ts';
import { recoverLive, recoverPartitions } from './runtime/recovery.ts';
import { LiveCounters } from './runtime/liveCounters.ts';
import { Redis } from 'ioredis';
import { redisUrl } from '../schema/config.ts';
import { ClickResolver } from './runtime/clickResolver.ts';
import { RecentClicks } from './runtime/recentClicks.ts';
import { workerMetrics, type WorkerMetrics } from './metrics.ts';
import type { LoopFailure, PartitionStatus, SupervisedWorker } from './supervisor.ts';
import { loadRulesFile, RulesFile } from './runtime/rulesFile.ts';
import { RulesSync } from './runtime/rulesSync.ts';

/** How often changed live counters are written to Redis. */
const LIVE_PUBLISH_MS = 100;
/** How often the partitions' clocks are checked for passed deadlines (bonus abuse). */
const TICK_MS = 1_000;
/**
 * How often a partition hears changed network totals (the conversion-rate rule's baseline, summed
 * over hours). Announced every second, a steady flow of registrations put a tick into every
 * partition every second: 64 messages a second that changed nothing a rule could see.
 */
const NETWORK_ANNOUNCE_MS = 10_000;
/**
 * How often a partition's fraud state goes into a flush. Its windows are by far the largest
 * snapshot a flush writes: an affiliate whose sub-IDs are per click (common: sub1 carries the
 * affiliate's own click id) holds a key per sub-ID in its 24-hour windows, megabytes of arrays that
 * are written whole. At 5 s, a heap snapshot of the worker under bench fraud (ten background
 * affiliates, a sub-ID per click) held 48 MB of snapshot text waiting for one flush. Between two
 * snapshots a restart replays at most this much of the stream (deterministically, so to the same
 * state). A stopping worker writes one last.
 */
const FRAUD_SNAPSHOT_MS = 30_000;
/** Brand settings the player actors read, from the catalog (defaults for a brand that is gone). */
function brandSettings(catalog: Catalog, brandId: string): BrandSettings {
  const b = catalog.brands.get(brandId);
  return {
    attributionWindowDays: b?.attributionWindowDays ?? 30,
    paymentFeePct: String(b?.ngr.paymentFeePct ?? 0),
    gamingTaxPct: String(b?.ngr.gamingTaxPct ?? 0),
    fraud: b?.fraud ?? DEFAULT_FRAUD_RULES,
  };
}

/** Decode a partition message by its kind header (click batches carry none). */
function decodeInput(data: Uint8Array, headers: MsgHdrs | undefined): PartitionInput {
  const kind = (headers?.get(KIND_HEADER) || 'clicks') as MessageKind;
  switch (kind) {
    case 'events':
      return { kind, batch: decodeEventBatch(data) };
    case 'resolved':
      return { kind, items: decodeResolutions(data) };
    case 'rules':
      return { kind, rules: decodeRules(data) };
    case 'clicks':
      return { kind, batch: decodeBatch(data) };
    case 'forwarded':
      return { kind, batch: decodeForwarded(data) };
    case 'tick':
      return { kind, tick: decodeTick(data) };
    case 'lifted':
      return { kind, lift: decodeLift(data) };
    case 'commands':
      return { kind, batch: decodeCommands(data) };
    case 'revenue':
      return { kind, batch: decodeRevenue(data) };
    default: {
      const unknown: never = kind;
      throw new WireError(`unknown message kind ${String(unknown)}`);
    }
  }
}

/** A running worker instance (workers/supervisor.ts runs them). */
export interface Worker extends SupervisedWorker {
  /** The partitions it owns. */
  owned: number[];
}

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  log?: Logger;
  /** Partitions this worker owns; default all of them. */
  partitions?: number[];
  /** The process's metrics, kept across instances; default a registry of the instance's own. */
  metrics?: WorkerMetrics;
  /** Stream sequences of messages to skip: each attempt to apply them killed their partition loop. */
  quarantine?: ReadonlySet<number>;
}

/** Start a worker on `cfg`. */
export async function startWorker(cfg: ClusterConfig, opts: WorkerOptions = {}): Promise<Worker> {
  const log = (opts.log ?? pino({ level: cfg.logLevel })).child({ worker: process.pid });
  const partitions = opts.partitions ?? Array.from({ length: cfg.partitions }, (_, p) => p);
  const names = natsNames(cfg);
  const settings = { uniqueDays: cfg.worker.uniqueDays };
  const metrics = opts.metrics ?? workerMetrics({ worker: String(process.pid) });
  const quarantine = opts.quarantine ?? new Set<number>();
  let stopping = false;
  const isStopping = () => stopping;
  // Before anything else: a worker with a bad rules file must not start.
  const bootRules = await loadRulesFile(cfg);

  const nc: NatsConnection = await connectNats(cfg, `worker-${process.pid}`);
  await retrying('JetStream setup', log, () => ensureStream(nc, cfg), isStopping);
  const catalog = await Catalog.open(nc, cfg, (err) => log.error({ err }, 'catalog watch failed'));
  const ch = clickhouse(cfg);
  const loopSettings: PartitionSettings = {
    affiliate: settings,
    partitions: cfg.partitions,
    brand: (brandId) => brandSettings(catalog, brandId),
    commission: {
      plan: (affiliateId, brandId) => planOf(catalog, affiliateId, brandId),
      parentOf: (affiliateId) => parentOf(catalog, affiliateId),
      brand: (brandId) => {
        const b = catalog.brands.get(brandId);
        return { timezone: b?.timezone ?? 'UTC', currency: b?.currency ?? '', kycGating: b?.kycGating ?? false };
      },
    },
  };
  const loops = new Map(partitions.map((p) => [p, new PartitionLoop(p, loopSettings)]));
  const landed = await retrying('recovery from ClickHouse', log, () => recoverPartitions(ch, loops, settings), isStopping);
  const live = new Map(partitions.map((p) => [p, new LiveCounters(p)]));
  await retrying('live counters from ClickHouse', log, () => recoverLive(ch, live), isStopping);
  // Live counters are a convenience: the worker runs (and stays exact) without Redis.
  const redis = new Redis(redisUrl(cfg), { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
  redis.on('error', (err) => log.debug({ err: String(err) }, 'redis'));
  let publishingLive = false;
  let liveDay = '';
  // One publish at a time: an overlapping one could write older absolute values over newer ones.
  const publishLive = () => {
    if (publishingLive) return;
    const today = new Date().toISOString().slice(0, 10);
    if (today !== liveDay) for (const l of live.values()) l.prune((liveDay = today));
    const p = redis.pipeline();
    const undo = [...live.values()].map((l) => l.stage(p, cfg.namespace));
    if (p.length === 0) return;
    publishingLive = true;
    p.exec()
      .catch((err) => {
        for (const u of undo) u();
        log.warn({ err: String(err) }, 'live counters not published');
      })
      .finally(() => (publishingLive = false));
  };
  log.info({ partitions: partitions.length, resume: Object.fromEntries([...loops].filter(([, l]) => l.lastSeq > 0).map(([p, l]) => [p, l.lastSeq])) }, 'partitions recovered');

  const js = jetstream(nc);
  // Owning every partition, this worker applies every click made from now on: its memory holds whole visitors.
  const recent = new RecentClicks(undefined, partitions.length === cfg.partitions ? Date.now() : Infinity);
  // Consumers still replaying the messages they held at start (their clicks may be touches of replayed registrations).
  const replaying = new Set<string>();
  let consuming = false;
  const resolver = new ClickResolver(ch, js, names, recent, log, () => consuming && replaying.size === 0);
  const forwarder = new Forwarder(js, names, log);
  const outlet = new AlertOutlet(js, await openFraudBucket(nc, cfg), names, log);
  const outbox = new OutboxSender(nc, js, names);
  // Registrations that were waiting for their click when the previous worker stopped ask again.
  for (const [p, loop] of loops) {
    resolver.request(p, [...loop.players.values()].flatMap((s) => pendingResolution(s, brandSettings(catalog, s.brandId)) ?? []));
  }
  // Outbound postbacks go out of this process's event loop only as I/O: a slow or dead receiver
  // holds a socket and a timer, never a partition (docs/commissions.md, “Outbound postbacks”).
  const postbacks = await startPostbackDispatcher({ cfg, nc, ch, catalog, log, metrics });
  const rulesSync = new RulesSync(loops, js, names, log, bootRules);
  const rulesFile = new RulesFile(cfg, bootRules, log, (rules) => rulesSync.want(rules));
  rulesSync.sync();

  // Every partition's, all in the same flush: at the first flush (so a restart soon after never
  // replays from the start), then every FRAUD_SNAPSHOT_MS, and when stopping. Taken together between
  // two batches, the partitions' versions are one position, which a restart resumes them all from:
  // what their actors sent each other at once is met again at the same place.
  let fraudSnapshotAt = -Infinity;
  const snapshots = () => {
    const due = stopping || Date.now() - fraudSnapshotAt >= FRAUD_SNAPSHOT_MS;
    if (due) fraudSnapshotAt = Date.now();
    const fraud = due ? [...loops.values()].flatMap((l) => l.takeFraudSnapshot() ?? []) : [];
    serializeInSlices(fraud);
    return { fraud: () => fraud.flatMap((s) => s.rows()) };
  };
  const boundary = new BatchBoundary();
  const sink = new ClickHouseSink(ch, snapshots, {
    boundary: () => boundary.reached(),
    async beforeWrite() {
      await Promise.all([forwarder.settled(), outlet.settled()]);
    },
    committed: (items) => outbox.send(items),
    flushed(rows, ms) {
      metrics.flushLatency.observe(ms);
      metrics.rowsFlushed.inc(rows);
    },
    failed(err) {
      metrics.flushFailures.inc();
      log.warn({ err: String(err) }, 'ClickHouse flush failed; rows kept, will retry');
    },
  }, landed);

  const jsm = await jetstreamManager(nc);
  const plans = consumerPlans(names, partitions, cfg.partitions, nc.info?.version ?? '2.9.0');
  const resumeSeq = (plan: ConsumerPlan) => Math.min(...plan.partitions.map((p) => (loops.get(p) as PartitionLoop).lastSeq));
  await retrying('partition consumers', log, () => resetConsumers(jsm, names, plans, resumeSeq, { maxAckPendingPerPartition: cfg.worker.maxAckPending }), isStopping);

  const flushSoon = () => {
    sink.flush().catch(() => undefined);
  };

  /** Carry out what the message at `seq` made partition `p`'s actors do. */
  const carryOut = (p: number, seq: number, out: LoopOutput): void => {
    const queued: QueuedMessage = { partition: p, seq, raw: { ...out.raw, fraud_alerts: out.alerts.map((a) => alertRow(a, { partition: p, seq })) }, creditParts: out.creditParts };
    if (out.rules) queued.rules = canonicalRules(out.rules);
    queued.outbox = out.outbox;
    queued.accruals = out.accruals;
    forwarder.send(p, seq, out.forwards);
    outlet.clear(out.cleared);
    // Alerts a previous run already wrote (and so published) are not published again.
    if (seq > (landed.get('fraud_alerts')?.get(p) ?? 0)) {
      outlet.send(out.alerts);
      for (const a of out.alerts) metrics.fraudAlerts.labels(a.rule, a.action).inc();
    }
    for (const r of out.raw.clicks) metrics.fraudScores.observe(r.fraud_score);
    for (const r of out.raw.events) if (r.type === 'registration') metrics.fraudScores.observe(r.fraud_score as number);
    // Live counters were rebuilt from the raw logs: count only rows those did not hold.
    const counters = live.get(p) as LiveCounters;
    for (const r of out.raw.clicks) recent.add(r);
    if (seq > (landed.get('clicks')?.get(p) ?? 0)) for (const r of out.raw.clicks) counters.click(r);
    if (seq > (landed.get('events')?.get(p) ?? 0)) {
      for (const r of out.raw.events) counters.event(r);
      const now = Date.now();
      for (const at of out.conversions) metrics.conversionLatency.observe(now - at);
    }
    resolver.request(p, out.resolve);
    if (out.duplicates > 0) metrics.duplicates.inc(out.duplicates);
    sink.push(queued);
  };

  let reportFailure: (f: LoopFailure) => void = () => {};
  const failed = new Promise<LoopFailure>((resolve) => (reportFailure = resolve));
  const consumers: BatchConsumer[] = [];
  /** Per consumer: its pending messages after its latest batch, and whether its loop still runs. */
  const consumerStates = plans.map((plan) => ({ plan, lag: null as number | null, live: true }));
  for (const state of consumerStates) {
    const { plan } = state;
    // The partitions this consumer delivers: what their actors send each other is delivered at once.
    const local = new Map(plan.partitions.map((p) => [p, loops.get(p) as PartitionLoop]));
    const puller = new BatchPuller(nc, names.stream, plan.name);
    const lag = metrics.consumerLag.labels(plan.name);
    replaying.add(plan.name);
    consumers.push(new BatchConsumer(puller, {
      apply(m) {
        const p = names.partitionOf(m.subject);
        const loop = p === undefined ? undefined : local.get(p);
        if (p === undefined || !loop) {
          log.error({ consumer: plan.name, subject: m.subject, seq: m.seq }, 'message of no partition of this worker skipped');
          return;
        }
        // Replayed messages the partition holds already are not even decoded.
        if (m.seq <= loop.lastSeq) return;
        if (quarantine.has(m.seq)) {
          log.error({ partition: p, seq: m.seq, subject: m.subject }, 'quarantined message skipped');
          metrics.quarantined.inc();
          return;
        }
        try {
          const outputs = applyWithLocalDeliveries(local, p, m.seq, decodeInput(m.data, m.headers));
          for (const [q, out] of outputs ?? []) carryOut(q, m.seq, out);
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
          log.error({ partition: p, seq: m.seq, err: err.message }, 'malformed message skipped');
        }
      },
      applied(last, count) {
        for (const p of plan.partitions) (loops.get(p) as PartitionLoop).advanceTo(last.seq);
        sink.delivered({ consumer: plan.name, partitions: plan.partitions, seq: last.seq, count, ack: () => puller.ack(last) });
        lag.set(last.pending);
        state.lag = last.pending;
        if (last.pending === 0) replaying.delete(plan.name);
        if (sink.depth >= cfg.worker.flushMaxRows) flushSoon();
      },
      failed(err, m) {
        // Before the batch boundary is left: no flush may snapshot the half-applied state.
        boundary.poison();
        state.live = false;
        reportFailure({ consumer: plan.name, seq: m.seq, subject: m.subject, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      },
      trouble(description) {
        log.warn({ consumer: plan.name, status: description }, 'consumer pull ended early');
      },
      held: () => sink.depth >= cfg.worker.maxQueuedRows,
    }, pacing(cfg.worker.pullIntervalMs, cfg.worker.pullBatch), boundary));
  }

  consuming = true;

  const timer = setInterval(() => {
    metrics.queuedRows.set(sink.depth);
    if (sink.messages > 0) flushSoon();
  }, cfg.worker.flushIntervalMs);
  // Partitions whose rules message was lost on the way get it again.
  const rulesTimer = setInterval(() => rulesSync.sync(), cfg.attribution.reloadPollMs);
  // Live counters go out far more often than flushes: they are the "at most 1 s old" view.
  const liveTimer = setInterval(publishLive, LIVE_PUBLISH_MS);
  const announced = new Map<number, { text: string; at: number }>();
  // Ticks go through the partitions' own streams, so a replay sees time pass at the same places.
  const tick = () => {
    const now = Date.now();
    const network: Record<string, [number, number]> = {};
    for (const l of loops.values()) {
      for (const [brand, [r, u]] of l.networkTotals(now)) {
        const t = (network[brand] ??= [0, 0]);
        t[0] += r;
        t[1] += u;
      }
    }
    const netText = JSON.stringify(network);
    for (const [p, l] of loops) {
      const last = announced.get(p);
      const announce = last?.text !== netText && now - (last?.at ?? 0) >= NETWORK_ANNOUNCE_MS;
      if (l.nextDeadline() > now && !announce) continue;
      if (announce) announced.set(p, { text: netText, at: now });
      const h = natsHeaders();
      h.set(KIND_HEADER, 'tick');
      js.publish(names.partitionSubject(p), encodeTick(`tick.${p}.${now}`, { at: now, network }), { msgID: `tick.${p}.${now}`, headers: h })
        .catch((err) => log.warn({ err: String(err), partition: p }, 'tick not published'));
    }
  };
  const tickTimer = setInterval(tick, TICK_MS);

  log.info({ partitions: partitions.length }, 'worker consuming');

  /** Stop and close; `flush` false after a failure: what the loops hold is suspect, and is recovered afresh. */
  const shutDown = async (flush: boolean): Promise<void> => {
    stopping = true;
    clearInterval(timer);
    clearInterval(liveTimer);
    clearInterval(tickTimer);
    clearInterval(rulesTimer);
    rulesFile.close();
    forwarder.stop();
    outlet.stop();
    resolver.stop();
    await Promise.allSettled(consumers.map((c) => c.stop()));
    for (let attempt = 0; flush && sink.messages > 0 && attempt < 5; attempt++) {
      await sink.flush().catch(() => new Promise((r) => setTimeout(r, 500)));
    }
    await postbacks.stop();
    catalog.close();
    redis.disconnect();
    await Promise.allSettled([flush ? nc.drain() : nc.close(), ch.close()]);
    log.info({ unflushed: sink.messages }, flush ? 'worker stopped' : 'worker instance abandoned');
  };

  return {
    owned: partitions,
    failed,
    partitions: (): PartitionStatus[] =>
      consumerStates.flatMap(({ plan, lag, live }) =>
        plan.partitions.map((p) => ({
          partition: p, owned: true as const, live: live && !stopping, position: (loops.get(p) as PartitionLoop).lastSeq,
          consumer: plan.name, consumerLag: lag, replaying: replaying.has(plan.name),
        })),
      ),
    stop: () => shutDown(true),
    abandon: () => shutDown(false),
  };
}
