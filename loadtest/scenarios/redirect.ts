/**
 * Scenario `redirect`: how many click redirects per second the edge serves, at what latency and
 * CPU cost, next to a bare uWebSockets.js 302 server (the ceiling) and to the same redirect on
 * Node's own `node:http` (what a team would write first) — and whether every click it answered
 * reached ClickHouse.
 *
 * One run: (1) the bare server, then the node:http one, each alone under each load tool; (2) a real edge and worker, as
 * separate processes in a fresh namespace with a catalog created through the admin API, under the
 * same tools and the same traffic; (3) once the edge's spool is empty and the worker has flushed,
 * the rows in ClickHouse are counted against the edge's `clicks_total` and the tools' 302s.
 * Per request, CPU time is read from /proc for the target process: on a small machine the load
 * tool saturates first, and req/s alone would measure the tool (loadtest/README.md, “Reference
 * figures”).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClusterConfig, PROJECT_ROOT } from '../../schema/mod.ts';
import { httpCall } from '../lib/http.ts';
import { createCatalog, planCatalog } from '../lib/catalog.ts';
import { BenchCluster, nodeScript } from '../lib/cluster.ts';
import { summarizeLog } from '../lib/logs.ts';
import { countClicks } from '../lib/namespace.ts';
import { freePorts, promSum } from '../lib/net.ts';
import { withCpu, type ProcessSet } from '../lib/proc.ts';
import { gitState, machine, type ClickAccounting, type LoadRun, type RedirectResults, type SideBySide, type ToolResult, type Verdict } from '../lib/results.ts';
import { trafficRequests } from '../lib/traffic.ts';
import { runAutocannon } from '../tools/autocannon.ts';
import type { LoadSpec } from '../tools/tool.ts';
import { findWrk, runWrk } from '../tools/wrk.ts';

/** Options of {@link runRedirect}. */
export interface RedirectOptions {
  /** Seconds of load per target and tool. */
  durationS: number;
  /** Connections each tool keeps open. */
  connections: number;
  /** Links in the benchmark catalog. */
  links: number;
  /** wrk threads: one leaves the other core of a 2-core machine to the target. */
  wrkThreads: number;
  /** Keep the namespace's stream, bucket and database afterwards (they are dropped by default). */
  keep: boolean;
  /** Progress lines. */
  log(line: string): void;
}

/** Defaults of the `bench redirect` flags. */
export const REDIRECT_DEFAULTS = { durationS: 10, connections: 64, links: 1000, wrkThreads: 1 } as const;

/** The targets (loadtest/README.md, “redirect”). */
export const TARGETS = {
  /** Edge redirects per second under wrk. */
  wrkRedirectsPerSec: 100_000,
  /** Edge req/s under autocannon as a share of the bare server's. */
  autocannonShareOfBare: 0.8,
  /** Edge CPU per request as a multiple of the bare server's. */
  cpuRatio: 2,
} as const;

/** Distinct requests the tools replay: enough that no link, sub-ID or address repeats often. */
const REQUEST_SET = 4096;
/** How long the clicks may take to reach ClickHouse after the load stops: 15× the 2 s target of docs/reports.md. */
const SETTLE_TIMEOUT_MS = 30_000;
/** ClickHouse rows unchanged this long, with an empty spool, means nothing more is coming. */
const SETTLE_QUIET_MS = 10_000;

type Tool = { name: LoadRun['tool']; run(spec: LoadSpec): Promise<ToolResult> };

/** Runs the scenario; the children go through `procs`, whose interrupt aborts the run. */
export async function runRedirect(opts: RedirectOptions, procs: ProcessSet): Promise<RedirectResults> {
  const { log } = opts;
  const started = new Date();
  // Before our own processes add to the load average it records.
  const host = machine();
  const cluster = await BenchCluster.prepare(started);
  const { namespace, cfg, workDir } = cluster;
  const [barePort] = (await freePorts(1)) as [number];

  const plan = planCatalog(opts.links);
  const requests = trafficRequests({ codes: plan.codes, size: REQUEST_SET, tag: namespace });
  const wrk = findWrk();
  const tools: Tool[] = [];
  if (wrk) tools.push({ name: 'wrk', run: (spec) => runWrk(procs, wrk, spec, opts.wrkThreads) });
  else log('wrk is not installed (apt-get install wrk): measuring with autocannon only');
  tools.push({ name: 'autocannon', run: (spec) => runAutocannon(procs, spec) });

  /** Each tool in turn against `baseUrl`, with the CPU time of the target process (and of the worker). */
  const measure = async (target: LoadRun['target'], baseUrl: string, targetPid: number, workerPid?: number): Promise<LoadRun[]> => {
    const runs: LoadRun[] = [];
    for (const tool of tools) {
      log(`${target} × ${tool.name}: ${opts.durationS} s, ${opts.connections} connections…`);
      const spec: LoadSpec = { baseUrl, connections: opts.connections, durationS: opts.durationS, requests, workDir };
      const { result, cpuMicros } = await withCpu(workerPid === undefined ? [targetPid] : [targetPid, workerPid], () => procs.guard(tool.run(spec)));
      const [targetCpu = 0, workerCpu] = cpuMicros;
      const perRequest = (micros: number | undefined) => (micros === undefined || result.requests === 0 ? undefined : micros / result.requests);
      const run: LoadRun = {
        target,
        tool: tool.name,
        connections: opts.connections,
        ...result,
        reqPerSec: result.requests / result.durationS,
        targetCpuMicros: targetCpu,
        cpuMicrosPerRequest: perRequest(targetCpu) ?? 0,
        workerCpuMicrosPerRequest: perRequest(workerCpu),
      };
      log(
        `  ${Math.round(run.reqPerSec).toLocaleString('en-US')} req/s, p50 ${run.latencyMs.p50.toFixed(2)} ms, p99 ${run.latencyMs.p99.toFixed(2)} ms, ` +
          `non-3xx ${run.non3xx}, ${run.cpuMicrosPerRequest.toFixed(1)} CPU-µs/req`,
      );
      runs.push(run);
    }
    return runs;
  };

  const runs: LoadRun[] = [];
  let clicks: ClickAccounting | undefined;
  await cluster.startServers(log);
  try {
    const bare = procs.spawn('bare uWS server', ...nodeScript('loadtest/bare/uwsRedirect.ts', String(barePort)), {
      output: path.join(workDir, 'bare.log'),
      service: true,
    });
    const bareUrl = `http://127.0.0.1:${barePort}`;
    await cluster.ready(procs, 'the bare server', `${bareUrl}/readyz`);
    runs.push(...(await measure('bare', bareUrl, bare.pid)));
    await procs.stop(bare);

    const nodeHttp = procs.spawn('node:http server', ...nodeScript('loadtest/bare/nodeHttpRedirect.ts', String(barePort), String(opts.links)), {
      output: path.join(workDir, 'node-http.log'),
      service: true,
    });
    await cluster.ready(procs, 'the node:http server', `${bareUrl}/readyz`);
    runs.push(...(await measure('node-http', bareUrl, nodeHttp.pid)));
    await procs.stop(nodeHttp);

    log(`namespace ${namespace}: migrating ClickHouse, creating the stream, starting an edge and a worker`);
    const { edge, worker } = await cluster.startNodes(procs);
    const edgeUrl = cluster.edgeUrl;
    log(`creating ${plan.codes.length} links for ${plan.affiliates.length} affiliates and ${plan.brands.length} brands through the admin API`);
    await procs.guard(createCatalog(edgeUrl, cluster.adminToken, plan));

    const edgeRuns = await measure('edge', edgeUrl, edge.pid, worker.pid);
    runs.push(...edgeRuns);
    log('waiting for the spool to drain and the worker to flush…');
    const toolRedirects = edgeRuns.reduce((n, r) => n + r.redirects, 0);
    const inFlightAllowance = edgeRuns.reduce((n, r) => n + r.connections + r.socketErrors, 0);
    clicks = await procs.guard(settleClicks(cfg, edgeUrl, toolRedirects, inFlightAllowance, log));
    log(`${clicks.ok ? 'clicks OK' : 'CLICKS DO NOT ADD UP'}: ${clicks.detail}`);
  } finally {
    // A failed click check keeps the namespace for inspection.
    await cluster.close(procs, opts.keep || clicks?.ok === false, log);
  }

  const verdict = judge(runs, clicks, wrk !== undefined);
  return {
    scenario: 'redirect',
    date: started.toISOString(),
    machine: host,
    git: gitState(PROJECT_ROOT),
    options: { durationS: opts.durationS, connections: opts.connections, links: opts.links, requestSet: REQUEST_SET, wrkThreads: opts.wrkThreads, namespace },
    runs,
    ratios: sideBySide(runs),
    clicks,
    logs: [summarizeLog(cluster.edgeLog), summarizeLog(cluster.workerLog)],
    verdict,
    pass: verdict.every((v) => v.pass !== false),
  };
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * Waits until the edge's spool is empty and ClickHouse holds as many rows as the edge counted
 * clicks (or nothing has changed for a while, or time is up), then compares the three counts.
 */
async function settleClicks(cfg: ClusterConfig, edgeUrl: string, toolRedirects: number, inFlightAllowance: number, log: (line: string) => void): Promise<ClickAccounting> {
  const start = Date.now();
  const sample = async () => {
    const metrics = await httpCall('GET', `${edgeUrl}/metrics`, { timeoutMs: 5_000 });
    if (metrics.status !== 200) throw new Error(`edge /metrics answered ${metrics.status}`);
    const { rows, distinct } = await countClicks(cfg);
    return {
      edgeClicks: promSum(metrics.body, 'clicks_total') ?? 0,
      spoolDepth: promSum(metrics.body, 'spool_depth') ?? 0,
      publishes: promSum(metrics.body, 'jetstream_publish_latency_ms_count') ?? 0,
      rows,
      distinct,
    };
  };
  let last = await sample();
  let changedAt = Date.now();
  let reportedAt = Date.now();
  while (!(last.spoolDepth === 0 && last.rows === last.edgeClicks)) {
    const now = Date.now();
    if (now - start > SETTLE_TIMEOUT_MS || (last.spoolDepth === 0 && now - changedAt > SETTLE_QUIET_MS)) break;
    if (now - reportedAt >= 5_000) {
      reportedAt = now;
      log(`  ${fmt(last.rows)} of ${fmt(last.edgeClicks)} clicks in ClickHouse, ${fmt(last.spoolDepth)} batch(es) in the edge's spool`);
    }
    await sleep(250);
    const next = await sample();
    if (next.rows !== last.rows || next.spoolDepth !== last.spoolDepth) changedAt = Date.now();
    last = next;
  }
  const { edgeClicks, spoolDepth, publishes, rows, distinct } = last;
  const unCounted = edgeClicks - toolRedirects;
  const problems: string[] = [];
  const waited = `${((Date.now() - start) / 1000).toFixed(0)} s after the load`;
  if (spoolDepth > 0) problems.push(`${fmt(spoolDepth)} batch(es) still in the edge's spool ${waited}`);
  if (rows < edgeClicks) problems.push(`${fmt(edgeClicks - rows)} click(s) the edge counted are not in ClickHouse ${waited}`);
  if (rows > edgeClicks) problems.push(`ClickHouse holds ${rows - edgeClicks} row(s) more than the edge counted`);
  if (distinct < rows) problems.push(`${rows - distinct} row(s) repeat a click id`);
  if (unCounted < 0) problems.push(`the tools counted ${-unCounted} more 302s than the edge counted clicks`);
  if (unCounted > inFlightAllowance) problems.push(`the edge counted ${unCounted} clicks more than the tools saw 302s (at most ${inFlightAllowance} can have been in flight or given up on)`);
  const detail =
    problems.length > 0
      ? problems.join('; ')
      : `all ${edgeClicks.toLocaleString('en-US')} clicks the edge counted are in ClickHouse, once each; the tools saw ${toolRedirects.toLocaleString('en-US')} 302s ` +
        `(${unCounted} answered after a tool stopped reading or gave up, within the allowance of ${inFlightAllowance})`;
  return {
    toolRedirects,
    edgeClicks,
    clickhouseRows: rows,
    distinctClickIds: distinct,
    spoolDepth,
    jetstreamPublishes: publishes,
    inFlightAllowance,
    settleMs: Date.now() - start,
    ok: problems.length === 0,
    detail,
  };
}

/**
 * The three targets side by side, per tool: each pair's ratio of redirects per second and of CPU
 * per request (the figure that does not depend on the load tool saturating first).
 */
export function sideBySide(runs: readonly LoadRun[]): SideBySide[] {
  const out: SideBySide[] = [];
  const pairs: [LoadRun['target'], LoadRun['target']][] = [['edge', 'bare'], ['edge', 'node-http'], ['node-http', 'bare']];
  for (const tool of ['wrk', 'autocannon'] as const) {
    for (const [a, b] of pairs) {
      const x = runs.find((r) => r.target === a && r.tool === tool);
      const y = runs.find((r) => r.target === b && r.tool === tool);
      if (!x || !y || y.reqPerSec === 0 || y.cpuMicrosPerRequest === 0) continue;
      out.push({ tool, pair: `${a} / ${b}`, reqPerSec: x.reqPerSec / y.reqPerSec, cpuPerRequest: x.cpuMicrosPerRequest / y.cpuMicrosPerRequest });
    }
  }
  return out;
}

/** The targets against the measured figures. */
function judge(runs: LoadRun[], clicks: ClickAccounting | undefined, haveWrk: boolean): Verdict[] {
  const find = (target: LoadRun['target'], tool: LoadRun['tool']) => runs.find((r) => r.target === target && r.tool === tool);
  const verdict: Verdict[] = [];

  const edgeWrk = find('edge', 'wrk');
  const wrkRate = edgeWrk && edgeWrk.redirects / edgeWrk.durationS;
  verdict.push({
    target: 'edge throughput, wrk',
    required: `≥ ${fmt(TARGETS.wrkRedirectsPerSec)} redirects/s`,
    measured: wrkRate === undefined ? (haveWrk ? 'no run' : 'wrk not installed') : `${fmt(wrkRate)} redirects/s`,
    pass: wrkRate === undefined ? null : wrkRate >= TARGETS.wrkRedirectsPerSec,
  });

  const edgeAc = find('edge', 'autocannon');
  const bareAc = find('bare', 'autocannon');
  const share = edgeAc && bareAc && bareAc.redirects > 0 ? edgeAc.redirects / edgeAc.durationS / (bareAc.redirects / bareAc.durationS) : undefined;
  verdict.push({
    target: 'edge throughput, autocannon',
    required: `≥ ${TARGETS.autocannonShareOfBare * 100}% of the bare server's`,
    measured: share === undefined || !edgeAc || !bareAc ? 'no run' : `${fmt(edgeAc.redirects / edgeAc.durationS)} vs ${fmt(bareAc.redirects / bareAc.durationS)} redirects/s = ${fmt(share * 100, 1)}%`,
    pass: share === undefined ? null : share >= TARGETS.autocannonShareOfBare,
  });

  for (const tool of ['wrk', 'autocannon'] as const) {
    const edge = find('edge', tool);
    const bare = find('bare', tool);
    if (!edge || !bare) continue;
    const ratio = edge.cpuMicrosPerRequest / bare.cpuMicrosPerRequest;
    verdict.push({
      target: `edge CPU per request, ${tool}`,
      required: `≤ ${TARGETS.cpuRatio}× the bare server's`,
      measured: `${fmt(edge.cpuMicrosPerRequest, 1)} vs ${fmt(bare.cpuMicrosPerRequest, 1)} µs = ${fmt(ratio, 2)}×`,
      pass: ratio <= TARGETS.cpuRatio,
    });
  }

  verdict.push({
    target: 'every click acknowledged and stored',
    required: 'ClickHouse rows = edge clicks_total = tools’ 302s (+ in flight), spool empty',
    measured: clicks ? `${fmt(clicks.clickhouseRows)} rows, ${fmt(clicks.edgeClicks)} counted, ${fmt(clicks.toolRedirects)} 302s` : 'no edge run',
    pass: clicks ? clicks.ok : null,
  });
  return verdict;
}
