/**
 * Scenario `mixed` (and its long form, the soak): a casino programme's whole traffic at once —
 * redirects with bots, restricted countries and repeat visitors, the player funnel over postbacks,
 * JSON and msgpack batches and the WebSocket stream, duplicates across transports, late events and
 * planted fraud — played by a generator whose ground truth is known (loadtest/generator/). After
 * the run, `affiliate-daily` and the live API must match the ledger exactly, the commission lines
 * and RevShare accruals the commission ledger; fraud alerts are scored against the planted cases.
 * Meanwhile probes time click → live counter, registration → attribution in the live API,
 * registration → ClickHouse aggregate and fraud trigger → pause; a sampler records throughput,
 * lag, flush latency and memory every second (progress line, chart).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouse, type ClusterConfig, type FraudPause, isAffiliateWide, type Money, type Plan, quote, toDecimalText } from '../../schema/mod.ts';
import { CommissionLedger, type LineGroup } from '../generator/commissionLedger.ts';
import { Ledger } from '../generator/ledger.ts';
import { planProgramme, type PlanTerms, type Programme, type ProgrammePlan } from '../generator/programme.ts';
import { createTimeline, type PlantedCase } from '../generator/timeline.ts';
import {
  compareCommissions, compareLive, compareReport, judgeRun, scoreFraud, type CommissionComparison, type Comparison, type FraudAlert, type FraudScore, type ReportRow,
} from '../generator/verify.ts';
import { landingTemplate, putRecords } from '../lib/catalog.ts';
import { timeChart } from '../lib/chart.ts';
import { beginRun } from '../lib/cluster.ts';
import { adminGet, liveCounters, redirect, sendPostback, visitorAddress, waitForBrand, type EventTarget } from '../lib/eventClient.ts';
import { summarizeLog } from '../lib/logs.ts';
import { commissionLineGroups, countClicks, countCommissionLines, countEventRows, revshareAccruals, waitForRows } from '../lib/namespace.ts';
import { memoryMiB, withCpu, type ProcessSet } from '../lib/proc.ts';
import { cpuSection, machineLine, processCpu, spanWindow, RESULTS_DIR, rateStem, verdictSection, type CpuWindow, type LogSummary, type Machine, type Verdict } from '../lib/results.ts';
import { promBuckets, scrape, type Bucket } from '../lib/net.ts';
import { loopDelaySummary, Sampler, type LoopDelaySummary, type Sample } from '../lib/sampler.ts';
import { bucketQuantile, latencySummary } from '../lib/stats.ts';
import { runDriver, type DriverOutput } from '../tools/mixedDriver.ts';

/** Options of {@link runMixed}. */
export interface MixedOptions {
  /** Actions (redirects + events) per second in steady state. */
  rate: number;
  durationS: number;
  seed: number;
  /** Named `soak` in the results (a long run at constant rate). */
  soak: boolean;
  keep: boolean;
  log(line: string): void;
}

/** Defaults of the `bench mixed` flags. */
export const MIXED_DEFAULTS = { rate: 4000, durationS: 60, seed: 1 } as const;
/** The sustained target, actions/s (loadtest/README.md, “mixed”). */
export const MIXED_TARGET = 30_000;

/**
 * Time the driver has after the timeline for its backlog and last answers: 2 minutes, plus what
 * the timeline's actions take at {@link DRAIN_RATE} (a run far above the cluster's rate ends with a
 * backlog to work off, and must still end with every action sent before it is verified).
 */
const drainMs = (o: { rate: number; durationS: number }) => 120_000 + Math.round((o.rate * o.durationS * 1000) / DRAIN_RATE);
/** Actions per second the driver is sure to get through on this machine (measured: 4,000–9,000). */
const DRAIN_RATE = 4_000;
/** The driver starts playing this long after it is spawned (tsx, the timeline's calibration). */
const START_DELAY_MS = 6_000;
/** After the load: every row in ClickHouse within 5 minutes, or nothing moving for 60 s. */
const SETTLE = { timeoutMs: 300_000, quietMs: 60_000 };
/** Then every commission line (each hop of them a message through a partition's stream): within 2 minutes, or nothing new for 30 s. */
const COMMISSION_SETTLE = { timeoutMs: 120_000, quietMs: 30_000 };
/** The accruals' latest figures land with the sink's flushes after the lines: compared again this often, this long, until exact. */
const COMMISSION_RECHECK = { everyMs: 1_000, forMs: 30_000 };
/**
 * Version 1 of every plan applies from this long before the catalog is made (it may be up to 60 s
 * in the past): the warm-up's events, stamped up to 30 s before the start, earn by it. Most events
 * sent late, stamped minutes or hours earlier, predate every plan and earn nothing.
 */
const PLAN_LEAD_MS = 50_000;
const PROBE_TIMEOUT_MS = 10_000;
const LIVE_POLL_MS = 10;
const AGGREGATE_POLL_MS = 25;
const PAUSE_POLL_MS = 25;
/** Probe cadence: click and registration probes each every second, a fraud probe every 10 s. */
const PROBE_EVERY_MS = 1_000;
const FRAUD_PROBE_EVERY_MS = 10_000;
/** Registration probes use these affiliates in turn, so each has one probe in flight. */
const REGISTRATION_PROBE_AFFILIATES = 12;
/** A registration probe's click is made this long before it registers (a visitor on the landing page). */
const CLICK_LEAD_MS = 2_000;
/** Registrations from one address on one sub-ID that trigger rule 1 (more than 5). */
const FRAUD_TRIGGER_REGISTRATIONS = 6;
/** Differences quoted in the results (all are counted). */
const DIFFERENCES_KEPT = 50;

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Percentiles of one probe series. */
export interface ProbeSeries {
  probe: string;
  probes: number;
  timeouts: number;
  failed: number;
  /** null when the probe could not run (fraud engine not available). */
  latencyMs: { p50: number; p99: number; max: number } | null;
  note?: string;
}

/** The whole output of `affstream bench mixed`. */
export interface MixedResults {
  scenario: 'mixed' | 'soak';
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: { rate: number; durationS: number; seed: number; namespace: string; partitions: number; flushIntervalMs: number };
  /** `<date>-<name>` of the .json, .md and .svg files. */
  stem: string;
  programme: { brands: number; affiliates: number; links: number; planted: PlantedCase[] };
  driver: DriverOutput | undefined;
  /** Actions/s the edge accepted over the second half of the load (the driver's sending time: longer than the duration when it fell behind). */
  steadyAcceptedPerSec: number | undefined;
  probes: ProbeSeries[];
  samples: Sample[];
  cpu: CpuWindow[];
  /** The worker's event-loop delay over the load, from its /metrics once a second; undefined when it never answered. */
  workerLoopDelay: LoopDelaySummary | undefined;
  /** The worker's `conversion_latency_ms` after the drain; undefined when its /metrics did not answer or lacks it. */
  conversionLatency: ConversionLatency | undefined;
  /** Peak resident memory (VmHWM) per process, MiB. */
  peakMemoryMiB: Record<string, number>;
  ledger: { clicks: number; events: number; duplicates: number; rows: number; days: string[] } | undefined;
  clickhouse: { clicks: number; distinctClicks: number; events: number; settleMs: number } | undefined;
  report: Trimmed | undefined;
  live: Trimmed | undefined;
  fraud: FraudScore | undefined;
  commissions: CommissionResults | undefined;
  /** `PASS` when every figure matched the ledger exactly and nothing was lost. */
  verdict: 'PASS' | 'FAIL';
  reasons: string[];
  limits: string[];
  logs: LogSummary[];
  targets: Verdict[];
  chart: string;
  pass: boolean;
}

/**
 * The worker's `conversion_latency_ms` histogram (docs/api.md, “Operations”): edge acceptance of
 * a registration or deposit → attributed and applied, over the whole run. Its quantiles are at
 * bucket resolution: the upper bound of the bucket holding them, Infinity beyond the last (JSON
 * null).
 */
export interface ConversionLatency {
  conversions: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  buckets: Bucket[];
}

/** {@link ConversionLatency} of a /metrics text; undefined when the histogram is absent. */
export function conversionLatencyOf(metrics: string): ConversionLatency | undefined {
  const buckets = promBuckets(metrics, 'conversion_latency_ms');
  if (buckets.length === 0) return undefined;
  return { conversions: buckets[buckets.length - 1]?.count ?? 0, p50Ms: bucketQuantile(buckets, 0.5), p99Ms: bucketQuantile(buckets, 0.99), buckets };
}

/** A comparison as the results keep it: its size, how many figures differ, the first of them. */
type Trimmed = Omit<Comparison, 'differences'> & { differing: number; differences: Comparison['differences'] };

/** The commissions of a run: the programme's plans, what the commission ledger expects, and the cluster against it. */
export interface CommissionResults {
  plans: { id: string; terms: string; midRun?: string }[];
  affiliates: { withPlan: number; subAffiliates: number };
  /** Lines per kind, as the commission ledger made them; `heldUnknown` lines whose status is not judged (LineGroup `held` null). */
  expected: { kind: string; lines: number; amount: string; held: number; heldUnknown: number }[];
  accruals: number;
  /** Brands whose accruals were judged summed over periods (commissionLedger.ts `periodsInDoubt`). */
  brandsInDoubt: string[];
  cluster: { lines: number; held: number };
  /** How long after the events the cluster had every line, ms. */
  settleMs: number;
  lineComparison: Trimmed;
  accrualComparison: Trimmed;
  notJudged: number;
}

/** A plan version's terms in a few words, for the results. */
function describeTerms(t: PlanTerms): string {
  const parts: string[] = [];
  if (t.cpa) {
    const c = t.cpa;
    const conditions = [`deposits ≥ ${c.minDeposit}`, ...(c.kycRequired ? ['KYC'] : []), ...(c.minWagering !== '0' ? [`stakes ≥ ${c.minWagering}`] : []), ...(c.countries.length > 0 ? [c.countries.join('/')] : [])];
    parts.push(`CPA ${c.amount} (${conditions.join(', ')}${c.withinDays === null ? '' : `, within ${c.withinDays} d`})`);
  }
  if (t.revshare) {
    const r = t.revshare;
    parts.push(`RevShare by ${r.tierBy} ${r.tiers.map((x) => `${x.from}: ${x.pct}%`).join(', ')}; ${r.carryOver}`);
  }
  if (t.subAffiliatePct !== '0') parts.push(`${t.subAffiliatePct}% of sub-affiliates`);
  return parts.join(' + ');
}

/** `PUT /api/v1/plans/{id}` of `plan` with `terms` from `effectiveFrom` (ms): one version. */
const planBody = (plan: ProgrammePlan, terms: PlanTerms, effectiveFrom: number) => [plan.id, { brandId: plan.brandId, currency: plan.currency, ...terms, effectiveFrom }] as const;

/** The catalog of a programme, plus the probes' affiliates (one link each, named after it); the plans as version 1 from {@link PLAN_LEAD_MS} ago. */
async function createProgrammeCatalog(baseUrl: string, token: string, p: Programme, secret: string, probeAffiliates: string[]): Promise<void> {
  await putRecords(baseUrl, token, 'rates', Object.entries(p.rates).map(([pair, rate]) => [pair, { rate }] as const));
  await putRecords(
    baseUrl,
    token,
    'brands',
    p.brands.map((b) => [
      b.id,
      {
        name: b.id,
        currency: b.currency,
        attributionWindowDays: b.attributionWindowDays,
        restrictedCountries: b.restrictedCountries,
        restrictedUrl: `https://${b.id}.example/not-available`,
        postbackSecret: secret,
        ngr: { paymentFeePct: Number(b.paymentFeePct), gamingTaxPct: Number(b.gamingTaxPct) },
        timezone: b.timezone,
      },
    ] as const),
  );
  const since = Date.now() - PLAN_LEAD_MS;
  await putRecords(baseUrl, token, 'plans', p.plans.map((plan) => planBody(plan, plan.terms, since)));
  await putRecords(baseUrl, token, 'affiliates', [
    ...p.affiliates.map((a) => [a.id, { name: a.id, status: a.status, planId: a.planId, plans: a.plans, parentId: a.parentId }] as const),
    ...probeAffiliates.map((id) => [id, { name: id }] as const),
  ]);
  const brand = (p.brands[0] as { id: string }).id;
  await putRecords(baseUrl, token, 'links', [
    ...p.links.map((l) => [l.code, { brandId: l.brandId, affiliateId: l.affiliateId, campaign: l.campaign, landingUrl: landingTemplate(l.brandId) }] as const),
    ...probeAffiliates.map((id) => [id, { brandId: brand, affiliateId: id, campaign: 'probe', landingUrl: landingTemplate(brand) }] as const),
  ]);
}

/** Everything the probes share: where to send, and the ledger their traffic is booked in. */
interface ProbeContext {
  target: EventTarget;
  token: string;
  ch: ClickHouseClient;
  ledger: Ledger;
  tag: string;
  fraud: boolean;
  planted: PlantedCase[];
  /** Visitor numbers (addresses 10.x.y.z) of the probes. */
  visitor: number;
  /** Probe registrations accepted. */
  events: number;
}

/** Polls `check` until true; the time it was, or undefined at `deadline`. A failing poll is "not yet". */
async function pollUntil(check: () => Promise<boolean>, intervalMs: number, deadline: number): Promise<number | undefined> {
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return performance.now();
    await sleep(intervalMs);
  }
  return undefined;
}

/** A probe click from a fresh address, booked in the ledger; returns the click id and the ledger's reference. */
async function probeClick(ctx: ProbeContext, affiliate: string, sub1?: string, visitor = ++ctx.visitor): Promise<{ clickId: string; ref: number }> {
  const ts = Date.now();
  const clickId = await redirect(ctx.target.baseUrl, affiliate, visitor, sub1);
  const ref = ctx.ledger.click({ ts, code: affiliate, brandId: ctx.target.brand, affiliateId: affiliate, ip: visitorAddress(visitor), bot: false, geoBlocked: false });
  return { clickId, ref };
}

/** A probe registration by postback, booked in the ledger once accepted. */
async function probeRegistration(ctx: ProbeContext, id: string, click: { clickId: string; ref: number }, ip: string): Promise<void> {
  const fields = { type: 'registration', event_id: id, player_id: id, click_id: click.clickId, ip, device_id: `${id}-d`, ts: String(Date.now()) };
  await sendPostback(ctx.target, fields);
  ctx.events++;
  ctx.ledger.event(ctx.target.brand, fields, click.ref);
}

/** Every probe series, run side by side for `durationS`. */
async function runProbes(ctx: ProbeContext, durationS: number): Promise<ProbeSeries[]> {
  const end = performance.now() + durationS * 1000;
  const series = (probe: string, samples: (number | null | 'failed')[], note?: string): ProbeSeries => {
    const ok = samples.filter((s): s is number | null => s !== 'failed');
    return {
      probe,
      probes: samples.length,
      timeouts: ok.filter((s) => s === null).length,
      failed: samples.length - ok.length,
      latencyMs: ok.length > 0 ? latencySummary(ok.map((s) => s ?? PROBE_TIMEOUT_MS)) : null,
      ...(note ? { note } : {}),
    };
  };

  // Click → live counter: one at a time on one affiliate, so each increment is the probe's.
  const clickSamples: (number | null | 'failed')[] = [];
  const clickProbes = (async () => {
    const affiliate = `gen-${ctx.tag}-probe-click`;
    let clicks = 0;
    while (performance.now() + PROBE_EVERY_MS < end) {
      const started = performance.now();
      try {
        await probeClick(ctx, affiliate);
        const answered = performance.now();
        clicks++;
        const seen = await pollUntil(async () => Number((await liveCounters(ctx.target.baseUrl, ctx.token, affiliate)).clicks) >= clicks, LIVE_POLL_MS, answered + PROBE_TIMEOUT_MS);
        clickSamples.push(seen === undefined ? null : seen - answered);
      } catch {
        clickSamples.push('failed');
      }
      await sleep(PROBE_EVERY_MS - (performance.now() - started));
    }
  })();

  // Registration → live API (and every 3rd → ClickHouse aggregate); affiliates in turn.
  const liveSamples: (number | null | 'failed')[] = [];
  const aggregateSamples: (number | null | 'failed')[] = [];
  const registrationProbes = (async () => {
    const accepted = new Map<string, number>();
    const running: Promise<void>[] = [];
    for (let i = 0; performance.now() + CLICK_LEAD_MS + PROBE_EVERY_MS < end; i++) {
      const affiliate = `gen-${ctx.tag}-probe-reg-${i % REGISTRATION_PROBE_AFFILIATES}`;
      const started = performance.now();
      running.push(
        (async () => {
          try {
            const visitor = ++ctx.visitor;
            const click = await probeClick(ctx, affiliate, undefined, visitor);
            await sleep(CLICK_LEAD_MS);
            await probeRegistration(ctx, `${ctx.tag}-probe-${i}`, click, visitorAddress(visitor));
            const answered = performance.now();
            const want = (accepted.get(affiliate) ?? 0) + 1;
            accepted.set(affiliate, want);
            const deadline = answered + PROBE_TIMEOUT_MS;
            const [live, aggregate] = await Promise.all([
              pollUntil(async () => Number((await liveCounters(ctx.target.baseUrl, ctx.token, affiliate)).registrations) >= want, LIVE_POLL_MS, deadline),
              i % 3 === 0
                ? pollUntil(
                    async () => {
                      const rs = await ctx.ch.query({ query: `SELECT sum(registrations) AS n FROM event_minutes WHERE affiliate_id = ${quote(affiliate)}`, format: 'JSONEachRow' });
                      const [row] = await rs.json<{ n: string | number }>();
                      return Number(row?.n ?? 0) >= want;
                    },
                    AGGREGATE_POLL_MS,
                    deadline,
                  )
                : Promise.resolve(false as const),
            ]);
            liveSamples.push(live === undefined ? null : live - answered);
            if (aggregate !== false) aggregateSamples.push(aggregate === undefined ? null : aggregate - answered);
          } catch {
            liveSamples.push('failed');
          }
        })(),
      );
      await sleep(PROBE_EVERY_MS - (performance.now() - started));
    }
    await Promise.all(running);
  })();

  // Fraud trigger → pause: six registrations from one address on a fresh sub-ID.
  const pauseSamples: (number | null | 'failed')[] = [];
  const fraudProbes = (async () => {
    if (!ctx.fraud) return;
    const affiliate = `gen-${ctx.tag}-probe-fraud`;
    for (let k = 0; performance.now() + FRAUD_PROBE_EVERY_MS < end; k++) {
      const started = performance.now();
      const sub = `pf-${k}`;
      const visitor = ++ctx.visitor;
      const ids: string[] = [];
      try {
        for (let i = 0; i < FRAUD_TRIGGER_REGISTRATIONS; i++) {
          const click = await probeClick(ctx, affiliate, sub, visitor);
          const id = `${ctx.tag}-pf-${k}-${i}`;
          ids.push(id);
          await probeRegistration(ctx, id, click, visitorAddress(visitor));
        }
        const triggered = performance.now();
        const seen = await pollUntil(
          async () => {
            const r = await adminGet(ctx.target.baseUrl, ctx.token, '/api/v1/fraud/pauses');
            return Array.isArray(r.body) && (r.body as { affiliate_id?: string; sub_id?: string }[]).some((p) => p.affiliate_id === affiliate && p.sub_id === sub);
          },
          PAUSE_POLL_MS,
          triggered + PROBE_TIMEOUT_MS,
        );
        pauseSamples.push(seen === undefined ? null : seen - triggered);
      } catch {
        pauseSamples.push('failed');
      }
      ctx.planted.push({ rule: 'ip_registrations', affiliateId: affiliate, subId: sub, playerIds: ids });
      await sleep(FRAUD_PROBE_EVERY_MS - (performance.now() - started));
    }
  })();

  await Promise.all([clickProbes, registrationProbes, fraudProbes]);
  return [
    series('click → live counter', clickSamples),
    series('registration → attribution in the live API', liveSamples, `click made ${CLICK_LEAD_MS} ms before`),
    series('registration → ClickHouse aggregate (event_minutes)', aggregateSamples),
    series('fraud trigger → pause in GET /api/v1/fraud/pauses', pauseSamples, ctx.fraud ? undefined : 'fraud: not available (the endpoints answer 404)'),
  ];
}

/** Books the whole timeline in a fresh ledger (the same seed gives the same traffic the driver sent). */
function bookTimeline(ledger: Ledger, programme: Programme, options: Parameters<typeof createTimeline>[1]): void {
  const refs = new Map<number, number>();
  const paused = new Set(programme.affiliates.filter((a) => a.status === 'paused').map((a) => a.id));
  for (const a of createTimeline(programme, options).actions) {
    if (a.kind === 'click') {
      // Clicks due before the start (the warm-up) reach the edge at the start.
      const ts = options.startMs + Math.max(0, a.at);
      const click = { ts, code: a.code, brandId: a.brandId, affiliateId: a.affiliateId, ip: a.ip, bot: a.bot, geoBlocked: a.geoBlocked, sub1: a.sub1, paused: paused.has(a.affiliateId) };
      refs.set(a.ref, ledger.click(a.country === undefined ? click : { ...click, country: a.country }));
    } else {
      ledger.event(a.brandId, a.fields, a.clickRef === undefined ? undefined : refs.get(a.clickRef));
    }
  }
}

/**
 * The plans' second versions, from the middle of the run (`midMs`), then every plan as the catalog
 * stored it: the commission ledger books by the stored versions, their `effectiveFrom` included.
 */
async function scheduleAndReadPlans(baseUrl: string, token: string, p: Programme, midMs: number): Promise<Plan[]> {
  await putRecords(baseUrl, token, 'plans', p.plans.flatMap((plan) => (plan.midRun ? [planBody(plan, plan.midRun, midMs)] : [])));
  return Promise.all(
    p.plans.map(async (plan) => {
      const r = await adminGet(baseUrl, token, `/api/v1/plans/${plan.id}`);
      if (r.status !== 200) throw new Error(`GET /api/v1/plans/${plan.id} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
      return r.body as Plan;
    }),
  );
}

/** Reads the cluster's commission lines and accruals until they match the commission ledger's, or {@link COMMISSION_RECHECK} runs out. */
async function checkCommissions(
  cfg: ClusterConfig,
  expectedLines: readonly LineGroup[],
  ledger: CommissionLedger,
): Promise<{ comparison: CommissionComparison; lines: number; held: number; brandsInDoubt: Set<string> }> {
  const until = Date.now() + COMMISSION_RECHECK.forMs;
  const accrued = ledger.accruals();
  for (;;) {
    const [lines, accruals] = await Promise.all([commissionLineGroups(cfg), revshareAccruals(cfg)]);
    const brandsInDoubt = ledger.periodsInDoubt(Date.now());
    const comparison = compareCommissions({ lines: expectedLines, accruals: accrued }, { lines, accruals }, brandsInDoubt);
    const exact = comparison.lines.differences.length === 0 && comparison.accruals.differences.length === 0;
    if (exact || Date.now() >= until) {
      return { comparison, lines: lines.reduce((n, g) => n + g.lines, 0), held: lines.reduce((n, g) => n + g.held, 0), brandsInDoubt };
    }
    await sleep(COMMISSION_RECHECK.everyMs);
  }
}

const trimmed = (c: Comparison): Trimmed => ({ rows: c.rows, figures: c.figures, differing: c.differences.length, differences: c.differences.slice(0, DIFFERENCES_KEPT) });

/** The commissions section of the results. */
function commissionResults(p: Programme, expected: readonly LineGroup[], ledger: CommissionLedger, checked: Awaited<ReturnType<typeof checkCommissions>>, settleMs: number): CommissionResults {
  const byKind = new Map<string, { kind: string; lines: number; amount: Money; held: number; heldUnknown: number }>();
  for (const g of expected) {
    const k = byKind.get(g.kind) ?? { kind: g.kind, lines: 0, amount: 0n, held: 0, heldUnknown: 0 };
    k.lines += g.lines;
    k.amount += g.amount;
    if (g.held === null) k.heldUnknown += g.lines;
    else k.held += g.held;
    byKind.set(g.kind, k);
  }
  return {
    plans: p.plans.map((x) => ({ id: x.id, terms: describeTerms(x.terms), ...(x.midRun ? { midRun: describeTerms(x.midRun) } : {}) })),
    affiliates: { withPlan: p.affiliates.filter((a) => a.planId !== null || Object.keys(a.plans).length > 0).length, subAffiliates: p.affiliates.filter((a) => a.parentId !== null).length },
    expected: [...byKind.values()].map((k) => ({ ...k, amount: toDecimalText(k.amount) })),
    accruals: ledger.accruals().length,
    brandsInDoubt: [...checked.brandsInDoubt],
    cluster: { lines: checked.lines, held: checked.held },
    settleMs,
    lineComparison: trimmed(checked.comparison.lines),
    accrualComparison: trimmed(checked.comparison.accruals),
    notJudged: checked.comparison.notJudged,
  };
}

/** Is the fraud engine there? Its endpoints answer 404 until it lands. */
async function fraudAvailable(baseUrl: string, token: string): Promise<boolean> {
  const r = await adminGet(baseUrl, token, '/api/v1/fraud/pauses');
  return r.status === 200;
}

/** Runs the scenario; the children go through `procs`, whose interrupt aborts the run. */
export async function runMixed(opts: MixedOptions, procs: ProcessSet): Promise<MixedResults> {
  const { log } = opts;
  const started = new Date();
  const endBy = started.getTime() + START_DELAY_MS + opts.durationS * 1000 + drainMs(opts);
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  if (day(endBy) !== day(started.getTime())) {
    throw new Error(`the run would span 00:00 UTC (it may last until ${new Date(endBy).toISOString()}): the ledger books clicks on the UTC day the edge stamps them; start it after midnight`);
  }
  const { host, git, cluster, secret } = await beginRun(started);
  const { cfg, namespace } = cluster;
  const tag = randomBytes(3).toString('hex');
  const programme = planProgramme(tag, opts.seed);
  const probeAffiliates = [`gen-${tag}-probe-click`, `gen-${tag}-probe-fraud`, ...Array.from({ length: REGISTRATION_PROBE_AFFILIATES }, (_, i) => `gen-${tag}-probe-reg-${i}`)];
  const target: EventTarget = { baseUrl: cluster.edgeUrl, brand: (programme.brands[0] as { id: string }).id, secret };
  const statusFile = path.join(cluster.workDir, 'driver-status.json');

  let driver: DriverOutput | undefined;
  let probes: ProbeSeries[] = [];
  let sampler: Sampler | undefined;
  let ledgerInfo: MixedResults['ledger'];
  let chInfo: MixedResults['clickhouse'];
  let report: Comparison | undefined;
  let live: Comparison | undefined;
  let fraud: FraudScore | undefined;
  let commissions: CommissionResults | undefined;
  let planted: PlantedCase[] = [];
  let reasons: string[] = [];
  const cpu: CpuWindow[] = [];
  let conversionLatency: ConversionLatency | undefined;
  const peakMemoryMiB: Record<string, number> = {};
  let failedVerdict = false;
  /** Seconds from the sampler's start to the timeline's: the samples' `t` minus this is time into the load. */
  let samplerLeadS = 0;
  await cluster.startServers(log);
  try {
    log(`namespace ${namespace}: migrating ClickHouse, creating the stream, starting an edge and a worker`);
    const { edge, worker } = await cluster.startNodes(procs);
    log(`catalog: ${programme.brands.length} brands, ${programme.affiliates.length} affiliates, ${programme.links.length} links, ${probeAffiliates.length} probe affiliates`);
    await procs.guard(createProgrammeCatalog(cluster.edgeUrl, cluster.adminToken, programme, secret, probeAffiliates));
    for (const b of programme.brands) await procs.guard(waitForBrand({ ...target, brand: b.id }, 10_000));
    const withFraud = await fraudAvailable(cluster.edgeUrl, cluster.adminToken);
    log(withFraud ? 'fraud engine: available' : 'fraud: not available (GET /api/v1/fraud/pauses answers 404): the ledger counts without the click-flood rule, fraud is not scored');

    const measured = cluster.measured(edge, worker);
    const timelineOptions = { seed: opts.seed, startMs: Date.now() + START_DELAY_MS, durationS: opts.durationS, rate: opts.rate };
    const midRunMs = timelineOptions.startMs + opts.durationS * 500;
    const plans = await procs.guard(scheduleAndReadPlans(cluster.edgeUrl, cluster.adminToken, programme, midRunMs));
    const commissionLedger = new CommissionLedger({ plans, affiliates: programme.affiliates, timezones: Object.fromEntries(programme.brands.map((b) => [b.id, b.timezone])) });
    const ledger = new Ledger(programme.brands, programme.rates, { clickFloodRule: withFraud, onApplied: (e) => commissionLedger.book(e) });
    sampler = new Sampler({ cfg, edgeUrl: cluster.edgeUrl, workerUrl: cluster.workerUrl, statusFile, pids: Object.fromEntries(measured) }, (line) => process.stderr.write(`${line}\n`));
    const ch = clickhouse(cfg, { timeoutMs: 5_000 });
    planted = createTimeline(programme, timelineOptions).planted;
    const probeCtx: ProbeContext = { target, token: cluster.adminToken, ch, ledger, tag, fraud: withFraud, planted, visitor: 0, events: 0 };
    log(`${opts.soak ? 'soak' : 'mixed'}: ${fmt(opts.rate)} actions/s for ${opts.durationS} s (seed ${opts.seed}), probes every ${PROBE_EVERY_MS} ms; progress every second on stderr`);
    samplerLeadS = (timelineOptions.startMs - Date.now()) / 1000;
    await sampler.start();
    let load;
    try {
      load = await withCpu(
        measured.map(([, pid]) => pid),
        () =>
          procs.guard(
            Promise.all([
              runDriver(procs, { baseUrl: cluster.edgeUrl, secret, tag, timeline: timelineOptions, statusFile, drainMs: drainMs(opts) }),
              sleep(START_DELAY_MS).then(() => runProbes(probeCtx, opts.durationS)),
            ]),
          ),
      );
    } finally {
      await ch.close();
    }
    [driver, probes] = load.result;
    log(`  driver: ${fmt(driver.actionsPerSec)} actions/s over ${driver.durationS.toFixed(1)} s; ${fmt(driver.clicks)} redirects, ${fmt(driver.events)} events sent, ${fmt(driver.accepted)} accepted`);

    log('booking the ground truth and waiting for ClickHouse to hold every click, event and commission line…');
    bookTimeline(ledger, programme, timelineOptions);
    for (const line of commissionLedger.lines()) ledger.commission(line);
    const drain = await withCpu(
      measured.map(([, pid]) => pid),
      () =>
        procs.guard(
          (async () => {
            const clicksMs = await waitForRows('clicks', async () => (await countClicks(cfg)).rows, ledger.tally.clicks, SETTLE, log);
            const eventsMs = await waitForRows('events', () => countEventRows(cfg), ledger.tally.events, SETTLE, log);
            const linesMs = await waitForRows('commission lines', () => countCommissionLines(cfg), commissionLedger.lines().length, COMMISSION_SETTLE, log);
            return { rowsMs: Math.max(clicksMs, eventsMs), linesMs };
          })(),
        ),
    );
    await sampler.stop();
    const metrics = await scrape(`${cluster.workerUrl}/metrics`, 10_000);
    conversionLatency = metrics === undefined ? undefined : conversionLatencyOf(metrics);
    const actions = ledger.tally.clicks + ledger.tally.events;
    cpu.push(
      spanWindow('load', measured, load, actions, [processCpu('load driver', driver.cpuMicros, driver.durationS, actions)]),
      spanWindow('drain (worker catching up)', measured, drain, actions),
    );
    for (const [name, pid] of measured) {
      const m = memoryMiB(pid);
      if (m) peakMemoryMiB[name] = Math.round(m.peak);
    }
    const clickCount = await countClicks(cfg);
    chInfo = { clicks: clickCount.rows, distinctClicks: clickCount.distinct, events: await countEventRows(cfg), settleMs: drain.result.rowsMs };
    const days = ledger.days();
    ledgerInfo = { clicks: ledger.tally.clicks, events: ledger.tally.events, duplicates: ledger.tally.duplicates, rows: ledger.dailyRows().length, days };

    log('comparing affiliate-daily and the live API with the ledger…');
    const query = `from=${days[0]}&to=${days[days.length - 1]}&format=json`;
    const fetched = await adminGet(cluster.edgeUrl, cluster.adminToken, `/api/v1/reports/affiliate-daily?${query}`);
    if (fetched.status !== 200) throw new Error(`GET /api/v1/reports/affiliate-daily answered ${fetched.status}: ${String(fetched.body).slice(0, 300)}`);
    report = compareReport(ledger.dailyRows(), fetched.body as ReportRow[], commissionLedger.periodsInDoubt(Date.now()));
    const today = new Date().toISOString().slice(0, 10);
    const affiliates = [...programme.affiliates.map((a) => a.id), ...probeAffiliates];
    const expectedLive = new Map(affiliates.map((a) => [a, ledger.live(a, today) as Record<string, number | Money>]));
    // Live counters go out every 100 ms after the rows are applied: a moment's grace for the last ones.
    for (let attempt = 0; attempt < 20; attempt++) {
      const got = new Map(await Promise.all(affiliates.map(async (a) => [a, await liveCounters(cluster.edgeUrl, cluster.adminToken, a)] as const)));
      live = compareLive(expectedLive, got);
      if (live.differences.length === 0) break;
      await sleep(250);
    }
    if (withFraud) {
      const alerts = await adminGet(cluster.edgeUrl, cluster.adminToken, `/api/v1/fraud/alerts?from=${days[0]}&to=${days[days.length - 1]}`);
      fraud = scoreFraud(planted, alerts.status === 200 && Array.isArray(alerts.body) ? (alerts.body as FraudAlert[]) : undefined);
    } else fraud = scoreFraud(planted, undefined);

    log('comparing the commission lines and RevShare accruals with the commission ledger…');
    const pauses = withFraud ? await adminGet(cluster.edgeUrl, cluster.adminToken, '/api/v1/fraud/pauses') : undefined;
    const inForce = Array.isArray(pauses?.body) ? (pauses.body as FraudPause[]) : [];
    const expectedLines = commissionLedger.lineGroups((affiliate, sub) => inForce.some((x) => x.affiliate_id === affiliate && (isAffiliateWide(x) || x.sub_id === sub)));
    const checked = await checkCommissions(cfg, expectedLines, commissionLedger);
    commissions = commissionResults(programme, expectedLines, commissionLedger, checked, drain.result.linesMs);

    const delivery: string[] = [];
    if (driver.clickFailures > 0) delivery.push(`${fmt(driver.clickFailures)} redirect(s) failed`);
    if (driver.eventFailures > 0) delivery.push(`${fmt(driver.eventFailures)} event(s) never acknowledged, retries included`);
    if (driver.rejected > 0) delivery.push(`${fmt(driver.rejected)} event(s) rejected`);
    if (driver.unsent > 0) delivery.push(`${fmt(driver.unsent)} action(s) never sent or answered`);
    if (driver.accepted + probeCtx.events !== ledger.tally.events) {
      delivery.push(`the edge accepted ${fmt(driver.accepted + probeCtx.events)} events (driver and probes), the ledger books ${fmt(ledger.tally.events)}`);
    }
    if (chInfo.distinctClicks !== chInfo.clicks) delivery.push(`${fmt(chInfo.clicks - chInfo.distinctClicks)} click row(s) repeat a click id`);
    for (const p of probes) if (p.failed > 0) delivery.push(`${p.failed} ${p.probe} probe(s) failed`);
    const judged = judgeRun(report, live ?? { rows: 0, figures: 0, differences: [] }, delivery, checked.comparison);
    reasons = judged.reasons;
    failedVerdict = judged.verdict === 'FAIL';
    const exact = `all ${fmt(report.figures)} report figures, ${fmt(live?.figures ?? 0)} live counters, ${fmt(checked.comparison.lines.figures)} commission-line and ${fmt(checked.comparison.accruals.figures)} accrual figures exactly as the ledgers say`;
    log(`verdict ${judged.verdict}${reasons.length > 0 ? `: ${reasons.join('; ')}` : `: ${exact}`}`);
  } finally {
    await sampler?.stop();
    await cluster.close(procs, opts.keep || failedVerdict, log);
  }

  const samples = sampler?.samples ?? [];
  const intoLoad = (s: Sample) => s.t - samplerLeadS;
  // The load lasts as long as the driver sends: past the duration when it has a backlog to work off.
  const loadS = Math.max(opts.durationS, driver?.durationS ?? 0);
  const second = samples.filter((s) => intoLoad(s) >= loadS / 2 && intoLoad(s) <= loadS && s.acceptedPerSec !== null);
  const steady = second.length > 0 ? second.reduce((n, s) => n + (s.acceptedPerSec as number), 0) / second.length : undefined;
  const scenario = opts.soak ? 'soak' : 'mixed';
  const date = started.toISOString();
  const stem = rateStem({ scenario, date }, opts.rate, MIXED_DEFAULTS.rate);
  const chart = `${stem}.svg`;
  writeFileSync(path.join(RESULTS_DIR, chart), chartOf(scenario, date, samples));
  const verdict: 'PASS' | 'FAIL' = report && live && !failedVerdict ? 'PASS' : 'FAIL';
  if (!report && reasons.length === 0) reasons.push('the run ended before the verification');
  const loadSamples = samples.filter((s) => intoLoad(s) >= 0 && intoLoad(s) <= loadS);
  const targets = judgeTargets(opts, steady, loadSamples);
  const trim = (c: Comparison | undefined) => (c ? trimmed(c) : undefined);
  return {
    scenario,
    date,
    machine: host,
    git,
    options: { rate: opts.rate, durationS: opts.durationS, seed: opts.seed, namespace, partitions: cfg.partitions, flushIntervalMs: cfg.worker.flushIntervalMs },
    stem,
    programme: { brands: programme.brands.length, affiliates: programme.affiliates.length, links: programme.links.length, planted },
    driver,
    steadyAcceptedPerSec: steady,
    probes,
    samples,
    cpu,
    workerLoopDelay: loopDelaySummary(loadSamples),
    conversionLatency,
    peakMemoryMiB,
    ledger: ledgerInfo,
    clickhouse: chInfo,
    report: trim(report),
    live: trim(live),
    fraud,
    commissions,
    verdict,
    reasons,
    limits: explainLimits(cpu, host, steady),
    logs: [summarizeLog(cluster.edgeLog), summarizeLog(cluster.workerLog)],
    targets,
    chart,
    pass: verdict === 'PASS' && targets.every((t) => t.pass !== false),
  };
}


/** The run's time series as a chart: throughput, latency, backlog, memory. */
function chartOf(scenario: string, date: string, samples: readonly Sample[]): string {
  const pts = (f: (s: Sample) => number | null) => samples.filter((s) => f(s) !== null).map((s) => [s.t, f(s) as number] as const);
  const processes = [...new Set(samples.flatMap((s) => Object.keys(s.rssMiB)))];
  return timeChart(
    `affstream bench ${scenario} — ${date}`,
    [
      { title: 'Throughput', unit: 'actions/s', series: [{ name: 'sent by the driver', points: pts((s) => s.sentPerSec) }, { name: 'accepted by the edge', points: pts((s) => s.acceptedPerSec) }] },
      {
        title: 'Latency',
        unit: 'ms',
        series: [{ name: 'redirect p99', points: pts((s) => s.clickP99) }, { name: 'event request p99', points: pts((s) => s.eventP99) }, { name: 'ClickHouse flush (mean)', points: pts((s) => s.flushMs) }, { name: 'worker event-loop delay (max)', points: pts((s) => s.loopDelayMaxMs) }],
      },
      { title: 'Backlog', unit: 'messages / rows / actions', series: [{ name: 'JetStream messages not yet acked by the worker', points: pts((s) => s.consumerLag) }, { name: 'worker queued rows', points: pts((s) => s.queuedRows) }, { name: 'driver backlog', points: pts((s) => s.backlog) }] },
      { title: 'Memory', unit: 'MiB resident', series: processes.map((p) => ({ name: p, points: pts((s) => s.rssMiB[p] ?? null) })) },
    ],
    Math.max(1, ...samples.map((s) => s.t)),
  );
}

/** The throughput target and the bounded-lag condition, judged on the samples of the load. */
function judgeTargets(opts: MixedOptions, steady: number | undefined, load: readonly Sample[]): Verdict[] {
  const lags = load.filter((s) => s.consumerLag !== null).map((s) => s.consumerLag as number);
  const half = Math.floor(lags.length / 2);
  const firstHalf = Math.max(0, ...lags.slice(0, half));
  const secondHalf = Math.max(0, ...lags.slice(half));
  return [
    {
      target: 'sustained mixed load',
      required: `≥ ${fmt(MIXED_TARGET)} actions/s accepted in steady state`,
      measured:
        steady === undefined
          ? 'no samples'
          : `${fmt(steady)} actions/s accepted over the second half of the load${opts.rate < MIXED_TARGET ? ` (not judged: --rate ${fmt(opts.rate)} asks for less)` : ''}`,
      pass: steady === undefined || opts.rate < MIXED_TARGET ? null : steady >= MIXED_TARGET,
    },
    {
      target: 'bounded consumer lag',
      required: 'the lag does not keep growing: its maximum in the second half of the load ≤ 2 × the first half’s (or ≤ 1,000 messages)',
      measured: lags.length === 0 ? 'no samples' : `max ${fmt(firstHalf)} messages in the first half, ${fmt(secondHalf)} in the second`,
      pass: lags.length === 0 ? null : secondHalf <= Math.max(1_000, 2 * firstHalf),
    },
  ];
}

/** Where the CPU went, from this run's figures. */
function explainLimits(cpu: readonly CpuWindow[], host: Machine, steady: number | undefined): string[] {
  const load = cpu[0];
  if (!load) return [];
  const total = load.processes.reduce((n, p) => n + p.cores, 0);
  const perAction = load.processes.reduce((n, p) => n + p.microsPerEvent, 0) + (cpu[1]?.processes.reduce((n, p) => n + p.microsPerEvent, 0) ?? 0);
  const lines = [
    `During the load the measured processes kept ${total.toFixed(2)} of ${host.cpus} cores busy (${[...load.processes]
      .sort((a, b) => b.cores - a.cores)
      .map((p) => `${p.process} ${p.cores.toFixed(2)}`)
      .join(', ')}), everything else ${load.otherCores.toFixed(2)}.`,
  ];
  if (perAction > 0) {
    lines.push(
      `Every action (redirect or event, load and drain together) cost ${perAction.toFixed(1)} CPU-µs over all processes, the driver included: ${host.cpus} cores at full use give ~${fmt((host.cpus * 1e6) / perAction)} actions/s with everything co-located like this` +
        `${steady === undefined ? '' : `; the run sustained ${fmt(steady)}`}.`,
    );
  }
  return lines;
}

const ms = (n: number) => fmt(n);

/** A comparison's verdict line and, when figures differ, the first of them. */
function comparisonLines(name: string, c: Trimmed, rowName: string): string[] {
  const out = [`**${name}**: ${fmt(c.figures)} figures in ${fmt(c.rows)} rows, ${c.differing === 0 ? 'all exact' : `**${fmt(c.differing)} differ**`}.`, ''];
  if (c.differing > 0) out.push(`| ${rowName} | column | ledger | cluster |`, '| --- | --- | ---: | ---: |', ...c.differences.map((x) => `| ${x.row} | ${x.column} | ${x.expected} | ${x.actual} |`), '');
  return out;
}

/** The commissions: the plans, what the commission ledger made, and the cluster against it. */
function commissionsSection(c: CommissionResults | undefined): string[] {
  if (!c) return [];
  return [
    '## Commissions against the commission ledger',
    '',
    `${fmt(c.affiliates.withPlan)} affiliates earn by a plan, ${fmt(c.affiliates.subAffiliates)} of them as sub-affiliates. Plans (version 2 from the middle of the run where given):`,
    '',
    '| plan | terms | from mid-run |',
    '| --- | --- | --- |',
    ...c.plans.map((p) => `| ${p.id} | ${p.terms} | ${p.midRun ?? ''} |`),
    '',
    `Commission ledger: ${fmt(c.expected.reduce((n, k) => n + k.lines, 0))} lines and ${fmt(c.accruals)} open RevShare accruals; the cluster: ${fmt(c.cluster.lines)} lines (${fmt(c.cluster.held)} held), all of them ${(c.settleMs / 1000).toFixed(1)} s after the events.` +
      (c.brandsInDoubt.length > 0 ? ` Accruals of ${c.brandsInDoubt.join(', ')} judged summed over periods (activity outside the current period there); ${fmt(c.notJudged)} RevShare line(s) of closed periods not judged.` : ''),
    '',
    '| kind | lines | amount | held |',
    '| --- | ---: | ---: | ---: |',
    ...c.expected.map((k) => `| ${k.kind} | ${fmt(k.lines)} | ${k.amount} | ${fmt(k.held)}${k.heldUnknown > 0 ? ` (status of ${fmt(k.heldUnknown)} not judged)` : ''} |`),
    '',
    ...comparisonLines('commission lines', c.lineComparison, 'brand / affiliate / kind / plan version'),
    ...comparisonLines('RevShare accruals', c.accrualComparison, 'brand / affiliate / period / plan version'),
  ];
}

/** A bucket bound as a quantile's figure: "≤ 25" ms, or beyond the last bucket. */
const bound = (le: number | undefined, last: number): string => (le === undefined ? '–' : Number.isFinite(le) ? `≤ ${fmt(le)}` : `> ${fmt(last)}`);

/** The worker's event-loop delay over the load and its conversion latency, beside the CPU tables. */
export function workerSection(r: Pick<MixedResults, 'workerLoopDelay' | 'conversionLatency'>): string[] {
  const d = r.workerLoopDelay;
  const c = r.conversionLatency;
  const lines = ['### Worker event-loop delay, load', ''];
  if (!d) lines.push('The worker’s /metrics never answered during the load.', '');
  else {
    lines.push(
      'From `worker_event_loop_delay_{p99,max}_ms`, read once a second: each reading covers the time since the previous one. The p99 is per reading, over the monitor’s 5 ms timer runs: the worst second’s, and a typical (median) second’s; the max is the longest stall of the load.',
      '',
      '| readings | p99, worst second ms | p99, median second ms | max ms |',
      '| ---: | ---: | ---: | ---: |',
      `| ${d.samples} | ${fmt(d.p99WorstMs, 1)} | ${fmt(d.p99MedianMs, 1)} | ${fmt(d.maxMs, 1)} |`,
      '',
    );
  }
  lines.push('### Conversion latency', '');
  if (!c) lines.push('The worker’s /metrics did not answer after the drain, or has no `conversion_latency_ms`.', '');
  else {
    const last = Math.max(0, ...c.buckets.map((b) => b.le).filter(Number.isFinite));
    lines.push(
      'Edge acceptance of a registration or deposit → attributed and applied by the worker, over the whole run (`conversion_latency_ms`), at bucket resolution: each figure is the upper bound of the histogram bucket holding that quantile.',
      '',
      '| conversions | p50 ms | p99 ms |',
      '| ---: | ---: | ---: |',
      `| ${fmt(c.conversions)} | ${bound(c.p50Ms, last)} | ${bound(c.p99Ms, last)} |`,
      '',
    );
  }
  return lines;
}

/** The run as a Markdown report. */
export function renderMixed(r: MixedResults): string {
  const d = r.driver;
  const lines = [
    `# ${r.scenario === 'soak' ? 'Soak' : 'Mixed'} benchmark — ${r.date}`,
    '',
    machineLine(r),
    `${fmt(r.options.rate)} actions/s (redirects + player events) for ${r.options.durationS} s, seed ${r.options.seed}: ${r.programme.brands} brands, ${r.programme.affiliates} affiliates (Zipf), ${r.programme.links} links; ` +
      `${r.options.partitions} partitions, worker flush interval ${r.options.flushIntervalMs} ms; namespace \`${r.options.namespace}\`; one edge, one worker, NATS, ClickHouse, Redis and the load driver on this machine.`,
    '',
    `**Verdict: ${r.verdict}**${r.reasons.length > 0 ? ` — ${r.reasons.join('; ')}` : ' — every figure of affiliate-daily and of the live API is exactly what the ledger says, every commission line and accrual what the commission ledger says.'}`,
    '',
    `![throughput, latency, backlog and memory over time](${r.chart})`,
    '',
  ];
  if (d) {
    lines.push(
      '## Traffic',
      '',
      '| actions/s sent | redirects | events sent | accepted | duplicates answered | rejected | failed redirects | failed events | never sent | steady accepted/s |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${fmt(d.actionsPerSec)} | ${fmt(d.clicks)} | ${fmt(d.events)} | ${fmt(d.accepted)} | ${fmt(d.duplicates)} | ${fmt(d.rejected)} | ${fmt(d.clickFailures)} | ${fmt(d.eventFailures)} | ${fmt(d.unsent)} | ${r.steadyAcceptedPerSec === undefined ? '–' : fmt(r.steadyAcceptedPerSec)} |`,
      '',
      '| request | requests | p50 ms | p99 ms | max ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...Object.entries(d.latency).map(([k, l]) => `| ${k} | ${fmt(l.requests)} | ${fmt(l.p50, 1)} | ${fmt(l.p99, 1)} | ${fmt(l.max, 1)} |`),
      '',
      ...(d.problems.length > 0 ? [`Problems: ${d.problems.join('; ')}`, ''] : []),
    );
  }
  lines.push('## End-to-end latency probes', '', '| probe | probes | p50 ms | p99 ms | max ms | not seen in 10 s | failed |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const p of r.probes) {
    lines.push(`| ${p.probe}${p.note ? ` (${p.note})` : ''} | ${p.probes} | ${p.latencyMs ? ms(p.latencyMs.p50) : '–'} | ${p.latencyMs ? ms(p.latencyMs.p99) : '–'} | ${p.latencyMs ? ms(p.latencyMs.max) : '–'} | ${p.timeouts} | ${p.failed} |`);
  }
  lines.push('');
  if (r.ledger && r.clickhouse) {
    lines.push(
      '## Ground truth against the cluster',
      '',
      `Ledger: ${fmt(r.ledger.clicks)} clicks, ${fmt(r.ledger.events)} events (plus ${fmt(r.ledger.duplicates)} resends counted once), ${fmt(r.ledger.rows)} affiliate-daily rows on ${r.ledger.days.join(', ')}. ` +
        `ClickHouse: ${fmt(r.clickhouse.clicks)} click rows (${fmt(r.clickhouse.distinctClicks)} distinct ids), ${fmt(r.clickhouse.events)} event rows, ${(r.clickhouse.settleMs / 1000).toFixed(1)} s after the load.`,
      '',
    );
  }
  for (const [name, c] of [['affiliate-daily', r.report], ['live API', r.live]] as const) if (c) lines.push(...comparisonLines(name, c, 'row'));
  lines.push(...commissionsSection(r.commissions));
  const f = r.fraud;
  if (f) {
    lines.push('## Fraud: planted against detected', '');
    if (!f.available) lines.push(`fraud: not available — the fraud endpoints answer 404; ${f.planted} cases were planted (every rule of docs/fraud.md), none scored.`, '');
    else {
      lines.push(
        `${f.alerts} alerts: ${f.truePositives} on planted cases, ${f.falsePositives} false positives; precision ${f.precision === null ? '–' : f.precision.toFixed(3)}, recall ${f.recall === null ? '–' : f.recall.toFixed(3)} (${f.detected} of ${f.planted} planted cases detected).`,
        '',
        '| rule | planted | detected | alerts | false positives |',
        '| --- | ---: | ---: | ---: | ---: |',
        ...f.perRule.map((x) => `| ${x.rule} | ${x.planted} | ${x.detected} | ${x.alerts} | ${x.falsePositives} |`),
        '',
      );
    }
  }
  lines.push(...cpuSection(r.cpu, 'per action'), ...workerSection(r));
  lines.push('### Peak memory (VmHWM)', '', '| process | MiB |', '| --- | ---: |', ...Object.entries(r.peakMemoryMiB).map(([p, m]) => `| ${p} | ${fmt(m)} |`), '');
  const lagged = r.samples.filter((s) => s.consumerLag !== null);
  if (lagged.length > 0) {
    const every = Math.max(1, Math.round(lagged.length / 12));
    lines.push(
      '## Over time',
      '',
      '| s | sent/s | accepted/s | driver backlog | consumer lag | queued rows | flush ms | worker MiB |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...lagged
        .filter((_, i) => i % every === 0)
        .map(
          (s) =>
            `| ${s.t.toFixed(0)} | ${fmt(s.sentPerSec)} | ${s.acceptedPerSec === null ? '–' : fmt(s.acceptedPerSec)} | ${fmt(s.backlog)} | ${fmt(s.consumerLag as number)} | ${s.queuedRows === null ? '–' : fmt(s.queuedRows)} | ${s.flushMs === null ? '–' : fmt(s.flushMs)} | ${s.rssMiB.worker ?? '–'} |`,
        ),
      '',
    );
  }
  if (r.limits.length > 0) lines.push('## Where the CPU goes', '', ...r.limits.map((l) => `- ${l}`), '');
  lines.push(...verdictSection(r.targets, r.logs));
  return lines.join('\n');
}
