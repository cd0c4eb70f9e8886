/**
 * Scenario `attribution`: under a steady load of postback/JSON events, how long after a
 * registration is accepted does its attribution show in the live API
 * (`GET /api/v1/live/affiliates/{id}`), and how long until it is in the ClickHouse aggregates.
 *
 * One run: a worker and an edge in a fresh namespace, one brand with ten background affiliates
 * and {@link PROBE_AFFILIATES} probe affiliates, each probe affiliate with a link of its own. The
 * background (tools/eventTrafficChild.ts, its own process) sends `rate` events/s for the duration:
 * registrations quoting click ids harvested from real redirects beforehand, and deposits of the
 * players registered. Meanwhile the harness sends a probe every {@link PROBE_EVERY_MS}: a redirect
 * on a probe link (a fresh click), then, {@link CLICK_LEAD_MS} later, a postback registration
 * quoting it; once the postback is answered (the registration is durable), it polls the probe
 * affiliate's live counter until `registrations` reaches the number of probes accepted on that
 * affiliate. No probe affiliate has two probes in flight, so each increment is one probe's.
 * Afterwards every accepted event must be in ClickHouse, and the live counters must hold every
 * registration and deposit, attributed to the affiliate of its click.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouse, type ClusterConfig, PROJECT_ROOT, quote } from '../../schema/mod.ts';
import { backgroundCatalog, createCatalog } from '../lib/catalog.ts';
import { BenchCluster } from '../lib/cluster.ts';
import { harvestClicks, liveCounters, redirect, sendPostback, waitForBrand, type EventTarget } from '../lib/eventClient.ts';
import { summarizeLog } from '../lib/logs.ts';
import { countEventRows, countEvents, waitForEventRows } from '../lib/namespace.ts';
import { promSum, scrape } from '../lib/net.ts';
import { withCpu, type ProcessSet } from '../lib/proc.ts';
import { cpuSection, gitState, machine, machineLine, processCpu, spanWindow, verdictSection, type CpuWindow, type LogSummary, type Machine, type Verdict } from '../lib/results.ts';
import { latencySummary } from '../lib/stats.ts';
import { runEventTraffic, type EventTrafficOutput } from '../tools/eventTraffic.ts';

/** Options of {@link runAttribution}. */
export interface AttributionOptions {
  /** Background events per second. */
  rate: number;
  /** Seconds of background load; the probes run within it. */
  durationS: number;
  keep: boolean;
  log(line: string): void;
}

/** Defaults of the `bench attribution` flags. */
export const ATTRIBUTION_DEFAULTS = { rate: 5000, durationS: 30 } as const;

/** The targets (loadtest/README.md, “attribution”), among them the aggregates' freshness (docs/reports.md). */
export const ATTRIBUTION_TARGETS = {
  /** Registration accepted → attribution in the live API, p99, ms. */
  liveP99Ms: 200,
  /** Event accepted → ClickHouse aggregates, p99, ms (docs/reports.md, “Freshness”). */
  aggregateP99Ms: 2000,
  /** Share of the requested rate the background must hold for the figures to be "under load". */
  rateShare: 0.95,
} as const;

/** One probe every 200 ms: 140 probes in the default 30 s, enough for a p99 that is a probe's. */
const PROBE_EVERY_MS = 200;
/**
 * Time from a probe's click to its registration. A visitor takes longer than that from the landing
 * page to a completed sign-up, and by then the click has reached the worker (it has 2 s to reach
 * ClickHouse: docs/reports.md, “Freshness”), so the figure is the registration's own path. Every
 * {@link FRESH_EVERY}th probe registers at once after its click instead: that series shows what
 * waiting for the click itself adds.
 */
const CLICK_LEAD_MS = 2000;
const FRESH_EVERY = 5;
/** Every 10th probe also times the ClickHouse aggregate (a query per poll is not free). */
const AGGREGATE_EVERY = 10;
/** Probe affiliates, used in turn: each sees a probe every 6.4 s, time for one to finish. */
const PROBE_AFFILIATES = 32;
/** A probe not visible by then counts as this long in the percentiles, and as a timeout. */
const PROBE_TIMEOUT_MS = 10_000;
/** Poll intervals of the live API and of ClickHouse: the resolution of the figures. */
const LIVE_POLL_MS = 10;
const AGGREGATE_POLL_MS = 25;
/** The background's mix. */
const REGISTRATION_SHARE = 0.2;
const POSTBACK_SHARE = 0.1;
const BACKGROUND_AFFILIATES = 10;
const BACKGROUND_LINKS = 100;
/** Background requests in flight at most: past that the background falls behind (and says so) instead of piling up. */
const BACKGROUND_MAX_IN_FLIGHT = 256;
/** Redirects in flight while harvesting the background's click ids. */
const HARVEST_CONCURRENCY = 32;
/**
 * After the load: every event in ClickHouse within 2 minutes, or nothing moving for 30 s. A
 * worker that fell behind was seen spending 20–40 s on one flush: a shorter wait would report
 * as missing what is merely late.
 */
const SETTLE = { timeoutMs: 120_000, quietMs: 30_000 };

const BRAND = 'bench-casino';

/** One probe's timings, ms. */
export interface Probe {
  index: number;
  affiliate: string;
  /** Click → registration sent, as planned. */
  leadMs: number;
  /** The affiliate still had a probe in flight: this one was not sent. */
  skipped?: true;
  /** Registration sent → answered 200 (durable). */
  acceptMs?: number;
  /** Answered → the live counter showed it; null when not within {@link PROBE_TIMEOUT_MS}. */
  visibleMs?: number | null;
  /** Answered → `event_minutes` showed it (every {@link AGGREGATE_EVERY}th probe); null on timeout. */
  aggregateMs?: number | null;
  error?: string;
}

/** Percentiles of one series of probes. */
export interface ProbeSeries {
  leadMs: number;
  probes: number;
  /** Not visible within the timeout (counted as the timeout in the percentiles). */
  timeouts: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** Were the accepted events stored, and attributed? */
export interface AttributionAccounting {
  accepted: number;
  clickhouseRows: number;
  distinctIds: number;
  /** Live counters summed over the background affiliates, and what the background had accepted. */
  liveRegistrations: number;
  expectedRegistrations: number;
  liveDeposits: number;
  expectedDeposits: number;
  /** Probe affiliates whose live `registrations` differ from the probes accepted on them. */
  probeMismatches: string[];
  /** Event rows in ClickHouse when the load stopped: the rest was the worker's backlog. */
  rowsAtLoadEnd: number;
  settleMs: number;
  ok: boolean;
  detail: string;
}

/** The whole output of `affstream bench attribution`. */
export interface AttributionResults {
  scenario: 'attribution';
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: {
    rate: number;
    durationS: number;
    namespace: string;
    probeEveryMs: number;
    clickLeadMs: number;
    probeAffiliates: number;
    registrationShare: number;
    postbackShare: number;
    flushIntervalMs: number;
  };
  /** Seconds spent harvesting the background's click ids before the load. */
  harvest: { clicks: number; seconds: number };
  traffic: EventTrafficOutput | undefined;
  /** Lead {@link CLICK_LEAD_MS} (the verdict's) and lead 0. */
  series: ProbeSeries[];
  aggregate: ProbeSeries | undefined;
  probes: Probe[];
  /** The worker's ClickHouse flushes during the run: how many, and their mean duration; undefined when its /metrics did not answer. */
  flushes: { count: number; meanMs: number } | undefined;
  cpu: CpuWindow[];
  accounting: AttributionAccounting | undefined;
  limits: string[];
  logs: LogSummary[];
  verdict: Verdict[];
  pass: boolean;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Polls `check` every `intervalMs` until it is true; resolves to the time it was (performance.now), or undefined at `deadline`. */
async function pollUntil(check: () => Promise<boolean>, intervalMs: number, deadline: number): Promise<number | undefined> {
  while (performance.now() < deadline) {
    // A failed poll (a 503 while Redis is busy, a timeout) is "not yet"; the deadline bounds it.
    if (await check().catch(() => false)) return performance.now();
    await sleep(intervalMs);
  }
  return undefined;
}

/** What the probes need. */
interface ProbeContext {
  target: EventTarget;
  adminToken: string;
  cfg: ClusterConfig;
  tag: string;
}

/** Runs the probes for `durationS`: every registration is due within it. */
async function runProbes(ctx: ProbeContext, durationS: number): Promise<{ probes: Probe[]; accepted: Map<string, number> }> {
  const ch = clickhouse(ctx.cfg, { timeoutMs: 5_000 });
  try {
    return await probeAll(ctx, ch, durationS);
  } finally {
    await ch.close();
  }
}

async function probeAll(ctx: ProbeContext, ch: ClickHouseClient, durationS: number): Promise<{ probes: Probe[]; accepted: Map<string, number> }> {
  const count = Math.max(1, Math.floor((durationS * 1000 - CLICK_LEAD_MS) / PROBE_EVERY_MS));
  const busy = new Set<string>();
  const accepted = new Map<string, number>();
  const t0 = performance.now();

  const probe = async (index: number): Promise<Probe> => {
    const affiliate = `bench-probe-${index % PROBE_AFFILIATES}`;
    const leadMs = index % FRESH_EVERY === FRESH_EVERY - 1 ? 0 : CLICK_LEAD_MS;
    const registerAt = t0 + CLICK_LEAD_MS + index * PROBE_EVERY_MS;
    await sleep(registerAt - leadMs - performance.now());
    const result: Probe = { index, affiliate, leadMs };
    if (busy.has(affiliate)) return { ...result, skipped: true };
    busy.add(affiliate);
    try {
      const clickId = await redirect(ctx.target.baseUrl, affiliate, 1_000_000 + index);
      await sleep(registerAt - performance.now());
      const sent = performance.now();
      await sendPostback(ctx.target, { type: 'registration', event_id: `${ctx.tag}-probe-${index}`, player_id: `${ctx.tag}-probe-${index}`, click_id: clickId });
      const answered = performance.now();
      result.acceptMs = answered - sent;
      const want = (accepted.get(affiliate) ?? 0) + 1;
      accepted.set(affiliate, want);
      const deadline = answered + PROBE_TIMEOUT_MS;
      const [visible, aggregated] = await Promise.all([
        pollUntil(async () => Number((await liveCounters(ctx.target.baseUrl, ctx.adminToken, affiliate)).registrations) >= want, LIVE_POLL_MS, deadline),
        index % AGGREGATE_EVERY === 0
          ? pollUntil(
              async () => {
                const rs = await ch.query({ query: `SELECT sum(registrations) AS n FROM event_minutes WHERE affiliate_id = ${quote(affiliate)}`, format: 'JSONEachRow' });
                const [row] = await rs.json<{ n: string | number }>();
                return Number(row?.n ?? 0) >= want;
              },
              AGGREGATE_POLL_MS,
              deadline,
            )
          : Promise.resolve(null),
      ]);
      result.visibleMs = visible === undefined ? null : visible - answered;
      if (aggregated !== null) result.aggregateMs = aggregated === undefined ? null : aggregated - answered;
    } catch (err) {
      result.error = err instanceof Error ? err.message : String(err);
    } finally {
      busy.delete(affiliate);
    }
    return result;
  };
  // Started together, each waits for its own moment: lead-0 probes click later than the next probe.
  const probes = await Promise.all(Array.from({ length: count }, (_, i) => probe(i)));
  return { probes, accepted };
}

/** Percentiles of a series; timeouts count as {@link PROBE_TIMEOUT_MS}. */
function series(leadMs: number, samples: (number | null | undefined)[]): ProbeSeries {
  const measured = samples.filter((s): s is number | null => s !== undefined);
  const timeouts = measured.filter((s) => s === null).length;
  return { leadMs, probes: measured.length, timeouts, latencyMs: latencySummary(measured.map((s) => s ?? PROBE_TIMEOUT_MS)) };
}

/** Runs the scenario; the children go through `procs`, whose interrupt aborts the run. */
export async function runAttribution(opts: AttributionOptions, procs: ProcessSet): Promise<AttributionResults> {
  const { log } = opts;
  const started = new Date();
  const host = machine();
  const cluster = await BenchCluster.prepare(started);
  const { cfg, namespace } = cluster;
  const secret = randomBytes(18).toString('base64url');
  const tag = randomBytes(3).toString('hex');
  const target: EventTarget = { baseUrl: cluster.edgeUrl, brand: BRAND, secret };
  const background = backgroundCatalog(BRAND, secret, BACKGROUND_AFFILIATES, BACKGROUND_LINKS);
  // One link per probe affiliate, named after it.
  const probeAffiliates = Array.from({ length: PROBE_AFFILIATES }, (_, i) => `bench-probe-${i}`);
  const clicksNeeded = Math.ceil(opts.rate * opts.durationS * REGISTRATION_SHARE * 1.05);

  let traffic: EventTrafficOutput | undefined;
  let probes: Probe[] = [];
  let accounting: AttributionAccounting | undefined;
  let flushes: AttributionResults['flushes'];
  const harvest = { clicks: clicksNeeded, seconds: 0 };
  const cpu: CpuWindow[] = [];
  await cluster.startServers(log);
  try {
    log(`namespace ${namespace}: migrating ClickHouse, creating the stream, starting an edge and a worker`);
    const { edge, worker } = await cluster.startNodes(procs);
    await procs.guard(createCatalog(cluster.edgeUrl, cluster.adminToken, background));
    await procs.guard(createCatalog(cluster.edgeUrl, cluster.adminToken, { brands: [BRAND], affiliates: probeAffiliates, codes: probeAffiliates, paused: [], postbackSecret: secret }));
    await procs.guard(waitForBrand(target, 10_000));

    log(`harvesting ${fmt(clicksNeeded)} click ids from redirects for the background's registrations…`);
    const h0 = performance.now();
    const clickIds = await procs.guard(harvestClicks(cluster.edgeUrl, background.codes, clicksNeeded, HARVEST_CONCURRENCY));
    harvest.seconds = (performance.now() - h0) / 1000;

    const measured = cluster.measured(edge, worker);
    log(`${fmt(opts.rate)} events/s for ${opts.durationS} s (${REGISTRATION_SHARE * 100}% registrations, ${POSTBACK_SHARE * 100}% as postbacks), a probe every ${PROBE_EVERY_MS} ms…`);
    const load = await withCpu(
      measured.map(([, pid]) => pid),
      () =>
        procs.guard(
          Promise.all([
            runEventTraffic(procs, {
              ...target,
              rate: opts.rate,
              durationS: opts.durationS,
              clickIds,
              registrationShare: REGISTRATION_SHARE,
              postbackShare: POSTBACK_SHARE,
              tag,
              maxInFlight: BACKGROUND_MAX_IN_FLIGHT,
            }),
            runProbes({ target, adminToken: cluster.adminToken, cfg, tag }, opts.durationS),
          ]),
        ),
    );
    const [trafficOut, probeRun] = load.result;
    traffic = trafficOut;
    probes = probeRun.probes;
    const probesAccepted = [...probeRun.accepted.values()].reduce((n, k) => n + k, 0);
    const events = traffic.accepted + probesAccepted;
    cpu.push(spanWindow('load (background + probes)', measured, load, events, [processCpu('event traffic', traffic.cpuMicros, traffic.durationS, events)]));
    const main = series(CLICK_LEAD_MS, probes.filter((p) => p.leadMs === CLICK_LEAD_MS).map((p) => p.visibleMs));
    log(
      `  background ${fmt(traffic.acceptedPerSec)} events/s accepted; attribution visible p50 ${fmt(main.latencyMs.p50)} ms, p99 ${fmt(main.latencyMs.p99)} ms, ` +
        `max ${fmt(main.latencyMs.max)} ms over ${main.probes} probes`,
    );

    log('waiting for the worker to write every event to ClickHouse…');
    const rowsAtLoadEnd = await countEventRows(cfg);
    const settleMs = await procs.guard(waitForEventRows(cfg, events, SETTLE, log));
    accounting = await procs.guard(account(cluster, traffic, events, probeRun.accepted, background.affiliates, rowsAtLoadEnd, settleMs));
    log(`${accounting.ok ? 'events OK' : 'EVENTS DO NOT ADD UP'}: ${accounting.detail}`);
    const metrics = await scrape(`${cluster.workerUrl}/metrics`);
    const count = metrics === undefined ? 0 : (promSum(metrics, 'clickhouse_flush_latency_ms_count') ?? 0);
    flushes = metrics === undefined ? undefined : { count, meanMs: count > 0 ? (promSum(metrics, 'clickhouse_flush_latency_ms_sum') ?? 0) / count : 0 };
  } finally {
    await cluster.close(procs, opts.keep || accounting?.ok === false, log);
  }

  const main = series(CLICK_LEAD_MS, probes.filter((p) => p.leadMs === CLICK_LEAD_MS).map((p) => p.visibleMs));
  const fresh = series(0, probes.filter((p) => p.leadMs === 0).map((p) => p.visibleMs));
  const aggregate = series(CLICK_LEAD_MS, probes.filter((p) => p.aggregateMs !== undefined).map((p) => p.aggregateMs));
  const verdict = judge(opts, traffic, main, aggregate, accounting, probes);
  return {
    scenario: 'attribution',
    date: started.toISOString(),
    machine: host,
    git: gitState(PROJECT_ROOT),
    options: {
      rate: opts.rate,
      durationS: opts.durationS,
      namespace,
      probeEveryMs: PROBE_EVERY_MS,
      clickLeadMs: CLICK_LEAD_MS,
      probeAffiliates: PROBE_AFFILIATES,
      registrationShare: REGISTRATION_SHARE,
      postbackShare: POSTBACK_SHARE,
      flushIntervalMs: cfg.worker.flushIntervalMs,
    },
    harvest,
    traffic,
    series: [main, fresh],
    aggregate: aggregate.probes > 0 ? aggregate : undefined,
    probes,
    flushes,
    cpu,
    accounting,
    limits: explainLimits(main, fresh, aggregate, accounting, flushes, cfg.worker.flushIntervalMs, cpu, host),
    logs: [summarizeLog(cluster.edgeLog), summarizeLog(cluster.workerLog)],
    verdict,
    pass: verdict.every((v) => v.pass !== false),
  };
}

/** ClickHouse against what was accepted; the live counters against what was attributed. */
async function account(
  cluster: BenchCluster,
  traffic: EventTrafficOutput,
  accepted: number,
  probesAccepted: Map<string, number>,
  backgroundAffiliates: string[],
  rowsAtLoadEnd: number,
  settleMs: number,
): Promise<AttributionAccounting> {
  const counts = await countEvents(cluster.cfg);
  // Live counters are published after the flush that wrote the rows: give that a moment.
  const live = async () => {
    const all = await Promise.all(backgroundAffiliates.map((a) => liveCounters(cluster.edgeUrl, cluster.adminToken, a)));
    const probes = await Promise.all([...probesAccepted].map(async ([a, n]) => ({ a, n, got: Number((await liveCounters(cluster.edgeUrl, cluster.adminToken, a)).registrations) })));
    return {
      registrations: all.reduce((n, c) => n + Number(c.registrations), 0),
      deposits: all.reduce((n, c) => n + Number(c.deposits), 0),
      probeMismatches: probes.filter((p) => p.got !== p.n).map((p) => `${p.a}: ${p.got} of ${p.n}`),
    };
  };
  let l = await live();
  for (let i = 0; i < 20 && (l.registrations !== traffic.registrations || l.deposits !== traffic.deposits || l.probeMismatches.length > 0); i++) {
    await sleep(250);
    l = await live();
  }
  const problems: string[] = [];
  if (counts.rows < accepted) problems.push(`${fmt(accepted - counts.rows)} accepted event(s) are not in ClickHouse ${(settleMs / 1000).toFixed(0)} s after the load`);
  if (counts.rows > accepted) problems.push(`ClickHouse holds ${fmt(counts.rows - accepted)} row(s) more than were accepted`);
  if (counts.distinctIds < counts.rows) problems.push(`${fmt(counts.rows - counts.distinctIds)} row(s) repeat an event id`);
  if (l.registrations !== traffic.registrations) problems.push(`live registrations of the background affiliates: ${fmt(l.registrations)}, accepted ${fmt(traffic.registrations)}`);
  if (l.deposits !== traffic.deposits) problems.push(`live deposits of the background affiliates: ${fmt(l.deposits)}, accepted ${fmt(traffic.deposits)}`);
  if (l.probeMismatches.length > 0) problems.push(`probe affiliates' live registrations differ: ${l.probeMismatches.slice(0, 5).join(', ')}`);
  return {
    accepted,
    clickhouseRows: counts.rows,
    distinctIds: counts.distinctIds,
    liveRegistrations: l.registrations,
    expectedRegistrations: traffic.registrations,
    liveDeposits: l.deposits,
    expectedDeposits: traffic.deposits,
    probeMismatches: l.probeMismatches,
    rowsAtLoadEnd,
    settleMs,
    ok: problems.length === 0,
    detail:
      problems.length > 0
        ? problems.join('; ')
        : `all ${fmt(accepted)} accepted events are in ClickHouse once each; every registration and deposit is on the live counters of its click's affiliate`,
  };
}

/**
 * What this run's figures say about where a registration waits: the two probe series, the
 * worker's backlog and flushes, the CPU. Facts measured here, not a model of the code (which
 * changes faster than this file).
 */
function explainLimits(
  main: ProbeSeries,
  fresh: ProbeSeries,
  aggregate: ProbeSeries,
  accounting: AttributionAccounting | undefined,
  flushes: AttributionResults['flushes'],
  flushIntervalMs: number,
  cpu: CpuWindow[],
  host: Machine,
): string[] {
  const lines: string[] = [
    `A registration shows in the live API once the worker has consumed it, resolved its click (workers/runtime/clickResolver.ts) and applied it, and has written the ` +
      `partition's counters to Redis. Measured from the postback's answer: p50 ${fmt(main.latencyMs.p50)} ms, p99 ${fmt(main.latencyMs.p99)} ms with the click ` +
      `${fmt(main.leadMs)} ms old (${main.timeouts} of ${main.probes} not within ${PROBE_TIMEOUT_MS / 1000} s); p50 ${fmt(fresh.latencyMs.p50)} ms, p99 ${fmt(fresh.latencyMs.p99)} ms ` +
      `with a click made just before (${fresh.timeouts} of ${fresh.probes} not within ${PROBE_TIMEOUT_MS / 1000} s).`,
  ];
  if (aggregate.probes > 0 && aggregate.timeouts > 0) {
    lines.push(
      `${aggregate.timeouts} of ${aggregate.probes} aggregate probes were not in ClickHouse within ${PROBE_TIMEOUT_MS / 1000} s either: the registrations were waiting in the worker, not in the live API.`,
    );
  }
  if (accounting) {
    lines.push(
      `When the load stopped ClickHouse held ${fmt(accounting.rowsAtLoadEnd)} of the ${fmt(accounting.accepted)} events accepted by then: ` +
        `${fmt(accounting.accepted - accounting.rowsAtLoadEnd)} were still in the worker or in JetStream.`,
    );
  }
  lines.push(
    flushes
      ? `The worker flushes to ClickHouse every worker.flushIntervalMs = ${fmt(flushIntervalMs)} ms or sooner; it made ${fmt(flushes.count)} flushes, ${fmt(flushes.meanMs, 1)} ms each on average.`
      : "The worker's /metrics did not answer within 5 s after the load: its event loop was blocked, so it could neither apply registrations nor publish counters.",
  );
  const load = cpu[0];
  if (load) {
    const total = load.processes.reduce((n, p) => n + p.cores, 0);
    lines.push(
      `CPU during the load: ${total.toFixed(2)} of ${host.cpus} cores busy with the cluster and the load (${load.processes
        .filter((p) => p.cores >= 0.05)
        .map((p) => `${p.process} ${p.cores.toFixed(2)}`)
        .join(', ')}), ${load.otherCores.toFixed(2)} with everything else on the machine` +
        `${total + load.otherCores >= host.cpus * 0.9 ? ': the machine was saturated, which adds queueing to every step' : ''}.`,
    );
  }
  return lines;
}

/** The targets against the measured figures. */
function judge(
  opts: AttributionOptions,
  traffic: EventTrafficOutput | undefined,
  main: ProbeSeries,
  aggregate: ProbeSeries,
  accounting: AttributionAccounting | undefined,
  probes: Probe[],
): Verdict[] {
  const verdict: Verdict[] = [];
  const failedProbes = probes.filter((p) => p.error !== undefined).length;
  verdict.push({
    target: 'registration accepted → attribution in the live API',
    required: `p99 < ${ATTRIBUTION_TARGETS.liveP99Ms} ms (click ${fmt(CLICK_LEAD_MS)} ms old)`,
    measured:
      main.probes > 0
        ? `p50 ${fmt(main.latencyMs.p50)} ms, p99 ${fmt(main.latencyMs.p99)} ms, max ${fmt(main.latencyMs.max)} ms over ${main.probes} probes` +
          `${main.timeouts > 0 ? `, ${main.timeouts} not visible within ${PROBE_TIMEOUT_MS / 1000} s` : ''}${failedProbes > 0 ? `, ${failedProbes} probe(s) failed` : ''}`
        : 'no probe',
    pass: main.probes > 0 ? main.latencyMs.p99 < ATTRIBUTION_TARGETS.liveP99Ms && main.timeouts === 0 && failedProbes === 0 : null,
  });
  verdict.push({
    target: 'event accepted → ClickHouse aggregates (docs/reports.md)',
    required: `p99 ≤ ${fmt(ATTRIBUTION_TARGETS.aggregateP99Ms)} ms`,
    measured: aggregate.probes > 0 ? `p50 ${fmt(aggregate.latencyMs.p50)} ms, max ${fmt(aggregate.latencyMs.max)} ms over ${aggregate.probes} probes` : 'no probe',
    pass: aggregate.probes > 0 ? aggregate.latencyMs.p99 <= ATTRIBUTION_TARGETS.aggregateP99Ms && aggregate.timeouts === 0 : null,
  });
  const failures = traffic ? traffic.batches.failed + traffic.postbacks.failed : 0;
  verdict.push({
    target: 'steady background load',
    required: `≥ ${ATTRIBUTION_TARGETS.rateShare * 100}% of ${fmt(opts.rate)} events/s accepted, no failed request, no rejected event`,
    measured: traffic ? `${fmt(traffic.acceptedPerSec)} events/s; ${failures} failed request(s), ${traffic.rejected} rejected, ${fmt(traffic.behind)} behind schedule` : 'no run',
    pass: traffic ? traffic.acceptedPerSec >= opts.rate * ATTRIBUTION_TARGETS.rateShare && failures === 0 && traffic.rejected === 0 : null,
  });
  verdict.push({
    target: 'every accepted event stored and attributed',
    required: 'ClickHouse rows = accepted, once each; live registrations and deposits = accepted',
    measured: accounting ? `${fmt(accounting.clickhouseRows)} rows of ${fmt(accounting.accepted)}; live ${fmt(accounting.liveRegistrations)} registrations, ${fmt(accounting.liveDeposits)} deposits` : 'no run',
    pass: accounting ? accounting.ok : null,
  });
  return verdict;
}

/** The run as a Markdown report. */
export function renderAttribution(r: AttributionResults): string {
  const t = r.traffic;
  const lines = [
    `# Attribution benchmark — ${r.date}`,
    '',
    machineLine(r),
    `${fmt(r.options.rate)} events/s for ${r.options.durationS} s (${r.options.registrationShare * 100}% registrations quoting clicks from ${fmt(r.harvest.clicks)} real redirects made ` +
      `beforehand in ${r.harvest.seconds.toFixed(1)} s, the rest deposits; ${r.options.postbackShare * 100}% as postbacks, the rest in JSON batches), from one process; a probe every ` +
      `${r.options.probeEveryMs} ms on ${r.options.probeAffiliates} probe affiliates; worker flush interval ${r.options.flushIntervalMs} ms; namespace \`${r.options.namespace}\`.`,
    '',
    '## Attribution visible in the live API',
    '',
    'From the postback of a probe registration answered 200 (durable) until `GET /api/v1/live/affiliates/{id}` counts it (polled every 10 ms).',
    '',
    '| click made before the registration | probes | p50 ms | p99 ms | max ms | not visible in 10 s |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.series.map((s) => `| ${fmt(s.leadMs)} ms | ${s.probes} | ${fmt(s.latencyMs.p50)} | ${fmt(s.latencyMs.p99)} | ${fmt(s.latencyMs.max)} | ${s.timeouts} |`),
    '',
  ];
  if (r.aggregate) {
    const a = r.aggregate;
    lines.push(
      '## Event in the ClickHouse aggregates',
      '',
      'Same probes (every 10th), until `event_minutes` counts the registration (polled every 25 ms).',
      '',
      '| probes | p50 ms | max ms | not visible in 10 s |',
      '| ---: | ---: | ---: | ---: |',
      `| ${a.probes} | ${fmt(a.latencyMs.p50)} | ${fmt(a.latencyMs.max)} | ${a.timeouts} |`,
      '',
    );
  }
  if (t) {
    lines.push(
      '## Background traffic',
      '',
      '| accepted events/s | accepted | registrations | deposits | duplicates | rejected | behind schedule | batches (failed) | batch p50 / p99 ms | postbacks (failed) | postback p50 / p99 ms |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${fmt(t.acceptedPerSec)} | ${fmt(t.accepted)} | ${fmt(t.registrations)} | ${fmt(t.deposits)} | ${fmt(t.duplicates)} | ${fmt(t.rejected)} | ${fmt(t.behind)} | ` +
        `${fmt(t.batches.requests)} (${t.batches.failed}) | ${fmt(t.batches.latencyMs.p50, 1)} / ${fmt(t.batches.latencyMs.p99, 1)} | ` +
        `${fmt(t.postbacks.requests)} (${t.postbacks.failed}) | ${fmt(t.postbacks.latencyMs.p50, 1)} / ${fmt(t.postbacks.latencyMs.p99, 1)} |`,
      '',
      ...(t.problems.length > 0 ? [`Problems: ${t.problems.join('; ')}`, ''] : []),
    );
  }
  lines.push(...cpuSection(r.cpu, 'per accepted event'));
  const a = r.accounting;
  if (a) lines.push('## Events', '', `${a.ok ? 'OK' : '**EVENTS MISSING, EXTRA OR NOT ATTRIBUTED**'}: ${a.detail} (settled ${(a.settleMs / 1000).toFixed(1)} s after the load).`, '');
  if (r.limits.length > 0) lines.push('## Where the registrations wait', '', ...r.limits.map((l) => `- ${l}`), '');
  lines.push(...verdictSection(r.verdict, r.logs));
  return lines.join('\n');
}
