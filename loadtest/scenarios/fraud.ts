/**
 * Scenario `fraud`: trigger → pause visible in the API (docs/fraud.md). Under a steady background
 * of registrations and deposits (tools/eventTrafficChild.ts, clean traffic: one registration per
 * click), a probe every {@link PROBE_EVERY_MS} ms plays a registration farm on a sub-ID of its own:
 * six clicks and six registrations from one IP. The sixth registration crosses the default
 * threshold (more than 5 in 10 minutes); from the moment it is accepted (durable), the harness
 * polls `GET /api/v1/fraud/pauses` until the sub-ID is listed. p50/p99/max over the probes that
 * start after the warm-up ({@link FraudOptions.warmupS}); those during it are reported on their
 * own. Afterwards, once the worker has applied every accepted event: every probe paused exactly
 * once, and the background (clean) raised no alert.
 *
 * The fraud windows' memory per tracked IP is not measured here: the windows are the worker's
 * own, out of the harness's reach, and test/unit/fraudWindowMemory.test.ts holds them to it.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouse, PROJECT_ROOT } from '../../schema/mod.ts';
import { backgroundCatalog, createCatalog } from '../lib/catalog.ts';
import { BenchCluster } from '../lib/cluster.ts';
import { adminGet, harvestClicks, redirect, sendBatch, waitForBrand, type EventTarget } from '../lib/eventClient.ts';
import { summarizeLog } from '../lib/logs.ts';
import { withCpu, type ProcessSet } from '../lib/proc.ts';
import { cpuSection, gitState, machine, machineLine, spanWindow, rateStem, verdictSection, type CpuWindow, type LogSummary, type Machine, type Verdict } from '../lib/results.ts';
import { latencySummary } from '../lib/stats.ts';
import { pauseHops, type HopSummary } from '../lib/pauseHops.ts';
import { runEventTraffic, type EventTrafficOutput } from '../tools/eventTraffic.ts';

/** Options of {@link runFraud}. */
export interface FraudOptions {
  /** Background events per second. */
  rate: number;
  /** Seconds of load after the warm-up: the probes that start in them are the judged ones. */
  durationS: number;
  /**
   * Seconds of load before them, probed too but reported apart. The first seconds after the edge
   * and worker start taking load run code V8 has not optimized yet: in the runs before this
   * existed, the ten slowest of 72 probes were all in the first 3 s (up to 677 ms, against at most
   * 120 ms for every later one).
   */
  warmupS: number;
  keep: boolean;
  log(line: string): void;
}

/** Defaults of the `bench fraud` flags. */
export const FRAUD_DEFAULTS = { rate: 1000, durationS: 30, warmupS: 10 } as const;

/** The targets (loadtest/README.md, “fraud”). */
export const FRAUD_TARGETS = { pauseP99Ms: 100, rateShare: 0.95 } as const;

const BRAND = 'bench-casino';
const PROBE_AFFILIATE = 'bench-fraud';
const PROBE_EVERY_MS = 250;
/**
 * Clicks → registrations. A farm's bots still load the landing page and fill in a form; by then
 * the clicks have reached the worker, so the figure is the registration's own path (the
 * attribution scenario shows what waiting for a click adds).
 */
const CLICK_LEAD_MS = 2000;
const PROBE_TIMEOUT_MS = 10_000;
const POLL_MS = 5;
/** Registrations per probe: one over the default threshold of 5. */
const FARM_SIZE = 6;
const BACKGROUND_AFFILIATES = 10;
const BACKGROUND_LINKS = 100;
const REGISTRATION_SHARE = 0.2;
/**
 * How long the accounting waits for the worker to apply every accepted event: above its rate the
 * background queues in JetStream, and alerts raised by events still queued would be missed.
 */
const CATCH_UP_TIMEOUT_MS = 300_000;

/** One probe's timings, ms. */
export interface FraudProbe {
  index: number;
  subId: string;
  /** Started during the warm-up: reported apart, not judged. */
  warmup: boolean;
  /** Sixth registration sent → answered (durable). */
  acceptMs?: number;
  /** Answered → listed by the pauses API; null when not within {@link PROBE_TIMEOUT_MS}. */
  visibleMs?: number | null;
  /** The sixth registration's event id, and wall clock (epoch ms) of its answer and of the listing: for the hops. */
  eventId?: string;
  answeredAt?: number;
  listedAt?: number;
  error?: string;
}

/** Trigger → pause over a set of probes. */
export interface PauseSummary {
  probes: number;
  timeouts: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** The whole output of `affstream bench fraud`. */
export interface FraudResults {
  scenario: 'fraud';
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: { rate: number; durationS: number; warmupS: number; namespace: string; probeEveryMs: number; clickLeadMs: number; farmSize: number };
  traffic: EventTrafficOutput | undefined;
  /** The judged probes (started after the warm-up). */
  pause: PauseSummary | undefined;
  /** The probes started during the warm-up. */
  warmupPause: PauseSummary | undefined;
  /** Trigger → pause hop by hop for the judged probes, from the stream's timestamps (undefined when the stream could not be read). */
  hops: HopSummary[] | undefined;
  probes: FraudProbe[];
  /**
   * Probe sub-IDs listed more than once, or never; alerts raised on the background's affiliates;
   * seconds after the load until the worker had applied every accepted event (null: not within
   * {@link CATCH_UP_TIMEOUT_MS}, so the count may miss alerts).
   */
  accounting: { pausedOnce: number; probes: number; backgroundAlerts: number; caughtUpS: number | null; ok: boolean } | undefined;
  cpu: CpuWindow[];
  logs: LogSummary[];
  verdict: Verdict[];
  pass: boolean;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * One poller for every probe: `GET /api/v1/fraud/pauses` every {@link POLL_MS} ms, noting when each
 * sub-ID first shows. (A poller per probe would itself load the edge more than the farms do.) It
 * asks only for pauses triggered since the oldest registration still awaited (`from`): the whole
 * list grows with every farm, and reading it 200 times a second cost the edge and the harness
 * CPU that the machine's two cores share with the cluster.
 */
class PauseWatch {
  /** Sub-ID → when first listed: performance.now() and the wall clock. */
  private readonly seen = new Map<string, [number, number]>();
  /** Sub-IDs awaited → wall clock of their registrations (their pause's `since` is not earlier). */
  private readonly awaited = new Map<string, number>();
  private running = true;
  private readonly done: Promise<void>;

  constructor(target: EventTarget, adminToken: string) {
    const path = `/api/v1/fraud/pauses?affiliate=${PROBE_AFFILIATE}&from=`;
    this.done = (async () => {
      while (this.running) {
        if (this.awaited.size > 0) {
          const from = Math.min(...this.awaited.values());
          const list = await adminGet(target.baseUrl, adminToken, `${path}${from}`)
            .then((r) => (r.status === 200 ? (r.body as Array<{ sub_id: string }>) : []))
            .catch(() => []);
          const now: [number, number] = [performance.now(), Date.now()];
          for (const p of list) if (!this.seen.has(p.sub_id)) this.seen.set(p.sub_id, now);
        }
        await sleep(POLL_MS);
      }
    })();
  }

  /** Look out for `subId`, whose registrations start at `since` (wall clock), until {@link forget}. */
  expect(subId: string, since: number): void {
    this.awaited.set(subId, since);
  }

  forget(subId: string): void {
    this.awaited.delete(subId);
  }

  /** When `subId` was first listed (performance.now(), wall clock), waiting for it up to `deadline`. */
  async when(subId: string, deadline: number): Promise<[number, number] | undefined> {
    while (!this.seen.has(subId) && performance.now() < deadline) await sleep(POLL_MS);
    return this.seen.get(subId);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

async function probeOnce(target: EventTarget, watch: PauseWatch, tag: string, index: number, warmup: boolean): Promise<FraudProbe> {
  // A visitor number of its own: its clicks carry sub1 = v<visitor> and one client address.
  const visitor = 3_000_000 + index;
  const subId = `v${visitor}`;
  const ip = `10.${(visitor >> 16) & 255}.${(visitor >> 8) & 255}.${visitor & 255}`;
  const probe: FraudProbe = { index, subId, warmup };
  try {
    const clicks: string[] = [];
    for (let i = 0; i < FARM_SIZE; i++) clicks.push(await redirect(target.baseUrl, PROBE_AFFILIATE, visitor));
    await sleep(CLICK_LEAD_MS);
    watch.expect(subId, Date.now());
    const reg = (i: number) => ({ type: 'registration', event_id: `${tag}-farm-${index}-${i}`, player_id: `${tag}-farm-${index}-${i}`, click_id: clicks[i], ip, ts: Date.now() });
    await sendBatch(target, clicks.slice(0, FARM_SIZE - 1).map((_, i) => reg(i)));
    const sent = performance.now();
    probe.eventId = `${tag}-farm-${index}-${FARM_SIZE - 1}`;
    await sendBatch(target, [reg(FARM_SIZE - 1)]);
    const answered = performance.now();
    probe.answeredAt = Date.now();
    probe.acceptMs = answered - sent;
    const seen = await watch.when(subId, answered + PROBE_TIMEOUT_MS);
    // Listed before the sixth registration was answered would be a pause the rule should not have made yet.
    probe.visibleMs = seen === undefined ? null : Math.max(0, seen[0] - answered);
    if (seen !== undefined) probe.listedAt = seen[1];
    if (seen !== undefined && seen[0] < sent) probe.error = 'paused before its sixth registration';
  } catch (err) {
    probe.error = err instanceof Error ? err.message : String(err);
  } finally {
    watch.forget(subId);
  }
  return probe;
}

/** Trigger → pause of `probes` (a timeout counts as {@link PROBE_TIMEOUT_MS}); undefined when none ran to the end. */
function pauseSummary(probes: readonly FraudProbe[]): PauseSummary | undefined {
  const measured = probes.filter((p) => p.visibleMs !== undefined);
  if (measured.length === 0) return undefined;
  return {
    probes: measured.length,
    timeouts: measured.filter((p) => p.visibleMs === null).length,
    latencyMs: latencySummary(measured.map((p) => p.visibleMs ?? PROBE_TIMEOUT_MS)),
  };
}

/** Seconds until ClickHouse holds `expected` event rows (the worker applied every accepted event); null past {@link CATCH_UP_TIMEOUT_MS}. */
async function caughtUp(ch: ClickHouseClient, expected: number): Promise<number | null> {
  const t0 = performance.now();
  while (performance.now() - t0 < CATCH_UP_TIMEOUT_MS) {
    const [row] = await (await ch.query({ query: 'SELECT count() AS n FROM events', format: 'JSONEachRow' })).json<{ n: string }>();
    if (Number(row?.n ?? 0) >= expected) return (performance.now() - t0) / 1000;
    await sleep(500);
  }
  return null;
}

/** A probe every {@link PROBE_EVERY_MS}, each at its own moment (they overlap: each waits {@link CLICK_LEAD_MS}). */
async function runProbes(target: EventTarget, adminToken: string, tag: string, warmupS: number, durationS: number): Promise<FraudProbe[]> {
  const count = Math.max(1, Math.floor(((warmupS + durationS) * 1000 - CLICK_LEAD_MS) / PROBE_EVERY_MS));
  const t0 = performance.now();
  const watch = new PauseWatch(target, adminToken);
  try {
    return await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await sleep(t0 + i * PROBE_EVERY_MS - performance.now());
        return probeOnce(target, watch, tag, i, i * PROBE_EVERY_MS < warmupS * 1000);
      }),
    );
  } finally {
    await watch.stop();
  }
}

/** Runs the scenario; the children go through `procs`, whose interrupt aborts the run. */
export async function runFraud(opts: FraudOptions, procs: ProcessSet): Promise<FraudResults> {
  const { log } = opts;
  const started = new Date();
  const host = machine();
  const cluster = await BenchCluster.prepare(started);
  const secret = randomBytes(18).toString('base64url');
  const tag = randomBytes(3).toString('hex');
  const target: EventTarget = { baseUrl: cluster.edgeUrl, brand: BRAND, secret };
  const background = backgroundCatalog(BRAND, secret, BACKGROUND_AFFILIATES, BACKGROUND_LINKS);
  let traffic: EventTrafficOutput | undefined;
  let probes: FraudProbe[] = [];
  let accounting: FraudResults['accounting'];
  let hops: HopSummary[] | undefined;
  const cpu: CpuWindow[] = [];
  await cluster.startServers(log);
  try {
    const { edge, worker } = await cluster.startNodes(procs);
    await procs.guard(createCatalog(cluster.edgeUrl, cluster.adminToken, background));
    await procs.guard(createCatalog(cluster.edgeUrl, cluster.adminToken, { brands: [BRAND], affiliates: [PROBE_AFFILIATE], codes: [PROBE_AFFILIATE], paused: [], postbackSecret: secret }));
    await procs.guard(waitForBrand(target, 10_000));
    const loadS = opts.warmupS + opts.durationS;
    const clicksNeeded = Math.ceil(opts.rate * loadS * REGISTRATION_SHARE * 1.05);
    log(`harvesting ${fmt(clicksNeeded)} click ids for the background…`);
    const clickIds = await procs.guard(harvestClicks(cluster.edgeUrl, background.codes, clicksNeeded, 32));
    const measured = cluster.measured(edge, worker);
    log(`${fmt(opts.rate)} background events/s for ${opts.warmupS} s of warm-up and ${opts.durationS} s more, a ${FARM_SIZE}-registration farm every ${PROBE_EVERY_MS} ms…`);
    const load = await withCpu(
      measured.map(([, pid]) => pid),
      () =>
        procs.guard(
          Promise.all([
            runEventTraffic(procs, {
              ...target, rate: opts.rate, durationS: loadS, clickIds, registrationShare: REGISTRATION_SHARE, postbackShare: 0.1, tag, maxInFlight: 256,
            }),
            runProbes(target, cluster.adminToken, tag, opts.warmupS, opts.durationS),
          ]),
        ),
    );
    [traffic, probes] = load.result;
    const events = traffic.accepted + probes.filter((p) => p.error === undefined).length * FARM_SIZE;
    cpu.push(spanWindow('load', measured, load, events));

    const ch = clickhouse(cluster.cfg);
    let caughtUpS: number | null;
    let backgroundAlerts: number;
    try {
      caughtUpS = await caughtUp(ch, events);
      log(caughtUpS === null ? `the worker had not applied all ${fmt(events)} events ${CATCH_UP_TIMEOUT_MS / 1000} s after the load` : `every accepted event applied ${caughtUpS.toFixed(1)} s after the load`);
      // A flush writes fraud_alerts after events: the one that completed the count may still be on its way.
      await sleep(1000);
      const [bg] = await (await ch.query({ query: `SELECT count() AS n FROM fraud_alerts WHERE affiliate_id != '${PROBE_AFFILIATE}'`, format: 'JSONEachRow' })).json<{ n: string }>();
      backgroundAlerts = Number(bg?.n ?? 0);
    } finally {
      await ch.close();
    }
    const list = (await adminGet(cluster.edgeUrl, cluster.adminToken, '/api/v1/fraud/pauses')).body as Array<{ affiliate_id: string; sub_id: string }>;
    const perSub = new Map<string, number>();
    for (const p of list) if (p.affiliate_id === PROBE_AFFILIATE) perSub.set(p.sub_id, (perSub.get(p.sub_id) ?? 0) + 1);
    const pausedOnce = probes.filter((p) => perSub.get(p.subId) === 1).length;
    accounting = { pausedOnce, probes: probes.length, backgroundAlerts, caughtUpS, ok: pausedOnce === probes.length && backgroundAlerts === 0 && caughtUpS !== null };
    log(`${accounting.ok ? 'OK' : 'NOT OK'}: ${pausedOnce} of ${probes.length} farms paused once; ${accounting.backgroundAlerts} alerts on the clean background`);
    const traced = probes.flatMap((p) => (!p.warmup && p.eventId && p.answeredAt ? [{ eventId: p.eventId, brandId: BRAND, subId: p.subId, answeredAt: p.answeredAt, listedAt: p.listedAt }] : []));
    hops = await pauseHops(cluster.cfg, traced).catch((err: unknown) => {
      log(`hops not traced: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    });
  } finally {
    await cluster.close(procs, opts.keep || accounting?.ok === false, log);
  }
  const pause = pauseSummary(probes.filter((p) => !p.warmup));
  const warmupPause = pauseSummary(probes.filter((p) => p.warmup));
  const verdict: Verdict[] = [
    {
      target: 'trigger → pause visible in the API, p99 (after the warm-up)', required: `< ${FRAUD_TARGETS.pauseP99Ms} ms`,
      measured: pause ? `${fmt(pause.latencyMs.p99, 1)} ms` : 'no probe', pass: pause === undefined ? null : pause.latencyMs.p99 < FRAUD_TARGETS.pauseP99Ms,
    },
    {
      target: 'farms paused exactly once; alerts on the clean background, every event applied', required: 'every farm; 0',
      measured: accounting ? `${accounting.pausedOnce}/${accounting.probes}; ${accounting.backgroundAlerts}${accounting.caughtUpS === null ? ' (worker not caught up)' : ''}` : 'not run', pass: accounting?.ok ?? null,
    },
    {
      target: 'background rate held', required: `≥ ${FRAUD_TARGETS.rateShare * 100}% of ${fmt(opts.rate)} events/s`,
      measured: traffic ? `${fmt(traffic.acceptedPerSec)} events/s` : 'not run', pass: traffic === undefined ? null : traffic.acceptedPerSec >= opts.rate * FRAUD_TARGETS.rateShare,
    },
  ];
  return {
    scenario: 'fraud',
    date: started.toISOString(),
    machine: host,
    git: gitState(PROJECT_ROOT),
    options: { rate: opts.rate, durationS: opts.durationS, warmupS: opts.warmupS, namespace: cluster.namespace, probeEveryMs: PROBE_EVERY_MS, clickLeadMs: CLICK_LEAD_MS, farmSize: FARM_SIZE },
    traffic,
    pause,
    warmupPause,
    hops,
    probes,
    accounting,
    cpu,
    logs: [summarizeLog(cluster.edgeLog), summarizeLog(cluster.workerLog)],
    verdict,
    pass: verdict.every((v) => v.pass !== false),
  };
}

/** The results' file name (`fraud-r10000` for a background rate other than the default). */
export function fraudStem(r: FraudResults): string {
  return rateStem(r, r.options.rate, FRAUD_DEFAULTS.rate);
}

/** The Markdown report. */
export function renderFraud(r: FraudResults): string {
  const lines = [
    `# bench fraud — ${r.date}`,
    '',
    machineLine(r),
    '',
    `Background ${fmt(r.options.rate)} events/s (clean: one registration per click) for ${r.options.warmupS} s of warm-up and ${r.options.durationS} s more; a farm of ${r.options.farmSize} registrations from one IP on a sub-ID of its own every ${r.options.probeEveryMs} ms, registering ${r.options.clickLeadMs} ms after its clicks.`,
    '',
    '## Trigger → pause visible in `GET /api/v1/fraud/pauses`',
    '',
    'From the sixth registration\'s 200 until the pauses API lists the sub-ID. The warm-up is the first seconds of load after the edge and worker started, while V8 still optimizes their code; its probes are shown, not judged.',
    '',
    '| probes | count | timeouts | p50 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...([['judged (after the warm-up)', r.pause], [`during the warm-up (first ${r.options.warmupS} s)`, r.warmupPause]] as const).map(([what, p]) =>
      p ? `| ${what} | ${p.probes} | ${p.timeouts} | ${fmt(p.latencyMs.p50, 1)} | ${fmt(p.latencyMs.p99, 1)} | ${fmt(p.latencyMs.max, 1)} |` : `| ${what} | 0 | – | – | – | – |`),
    '',
    ...(r.accounting
      ? [
          r.accounting.caughtUpS === null
            ? `The worker had not applied every accepted event ${CATCH_UP_TIMEOUT_MS / 1000} s after the load: the alert count below may be short.`
            : `The worker had applied every accepted event ${fmt(r.accounting.caughtUpS, 1)} s after the load; the accounting below was taken then.`,
          '',
        ]
      : []),
    ...(r.hops
      ? [
          '### Hop by hop',
          '',
          "The judged probes, from the timestamps JetStream gave each message on the path (the fraud bucket's for the pause) and the harness's clock for the answer and the listing; one machine, one clock.",
          '',
          '| hop | what runs | probes | p50 ms | p99 ms | max ms |',
          '| --- | --- | ---: | ---: | ---: | ---: |',
          ...r.hops.map((h) => `| ${h.hop} | ${h.covers} | ${h.probes} | ${fmt(h.p50, 1)} | ${fmt(h.p99, 1)} | ${fmt(h.max, 1)} |`),
          '',
        ]
      : []),
    ...cpuSection(r.cpu, 'event'),
    ...verdictSection(r.verdict, r.logs),
  ];
  return `${lines.join('\n')}\n`;
}
