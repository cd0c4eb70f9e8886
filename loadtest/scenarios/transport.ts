/**
 * Scenarios `postback`, `json` and `msgpack`: one event transport at a time under autocannon —
 * S2S GET postbacks (each request a new event, through autocannon's id replacement), or signed
 * JSON or msgpack batches (a set of distinct pre-signed bodies, replayed in a loop). How many
 * events per second the edge accepts (durable in JetStream) from one load tool, at what latency and
 * CPU per event in each process; then: is every accepted event in ClickHouse, exactly once?
 *
 * Every event is a registration of a player of its own (organic): it is written at once, so the
 * ClickHouse count is the accepted count. A batch body replayed after the set wrapped is answered
 * "duplicate" and counted once — which the check also shows.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encode } from '@msgpack/msgpack';
import { createCatalog } from '../lib/catalog.ts';
import { beginRun } from '../lib/cluster.ts';
import { waitForBrand } from '../lib/eventClient.ts';
import { summarizeLog } from '../lib/logs.ts';
import { countEventRows, countEvents, waitForEventRows } from '../lib/namespace.ts';
import { promSum, scrape } from '../lib/net.ts';
import { withCpu, type ProcessSet } from '../lib/proc.ts';
import { cpuSection, machineLine, spanWindow, verdictSection, type CpuWindow, type LogSummary, type Machine, type Verdict } from '../lib/results.ts';
import type { TrafficRequest } from '../lib/traffic.ts';
import { runAutocannonRaw, type AutocannonOutput } from '../tools/autocannon.ts';

/** The transports of these scenarios. */
export type HttpTransport = 'postback' | 'json' | 'msgpack';

/** Options of {@link runTransport}. */
export interface TransportOptions {
  transport: HttpTransport;
  durationS: number;
  connections: number;
  /** Events per batch (json, msgpack). */
  batch: number;
  keep: boolean;
  log(line: string): void;
}

/** Defaults of the flags. */
export const TRANSPORT_DEFAULTS = { durationS: 10, connections: 32, batch: 100 } as const;

/** Distinct batch bodies: at ~1,000 batches/s for 10 s few repeat; repeats are answered as duplicates. */
const BODIES = 2_000;
/** After the load: every accepted event in ClickHouse within 2 minutes, or nothing moving for 30 s. */
const SETTLE = { timeoutMs: 120_000, quietMs: 30_000 };
const BRAND = 'bench-s2s';

/** The whole output of `affstream bench postback|json|msgpack`. */
export interface TransportResults {
  scenario: HttpTransport;
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: { durationS: number; connections: number; batch: number; namespace: string };
  tool: AutocannonOutput | undefined;
  /** Events per request (1 for postbacks). */
  eventsPerRequest: number;
  /** The edge's `events_total` (accepted), ClickHouse's rows and distinct event ids. */
  accepted: number | undefined;
  clickhouse: { rows: number; distinctIds: number; settleMs: number } | undefined;
  eventsPerSec: number | undefined;
  cpu: CpuWindow[];
  logs: LogSummary[];
  verdict: Verdict[];
  pass: boolean;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The replayed requests of `transport`. */
function requestsOf(transport: HttpTransport, tag: string, secret: string, batch: number): TrafficRequest[] {
  if (transport === 'postback') {
    return [{ path: `/pb/${BRAND}?type=registration&event_id=${tag}-[<id>]&player_id=${tag}-[<id>]&country=DE&token=${secret}`, headers: {} }];
  }
  return Array.from({ length: BODIES }, (_, b) => {
    const envelope = { brand: BRAND, events: Array.from({ length: batch }, (_, i) => ({ type: 'registration', event_id: `${tag}-${b}-${i}`, player_id: `${tag}-${b}-${i}`, country: 'DE' })) };
    const body = transport === 'json' ? Buffer.from(JSON.stringify(envelope)) : Buffer.from(encode(envelope));
    const headers = { 'Content-Type': `application/${transport}`, 'X-Signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` };
    return { path: '/v1/events', headers, bodyBase64: body.toString('base64') };
  });
}

/**
 * The edge's `events_total` once it stops moving (a second apart, at most 10 s): requests in
 * flight when the tool stopped are still being made durable and counted. Undefined when /metrics
 * does not answer.
 */
async function settledCount(metricsUrl: string): Promise<number | undefined> {
  let previous: number | undefined;
  for (let i = 0; i < 10; i++) {
    const metrics = await scrape(metricsUrl);
    const count = metrics === undefined ? undefined : (promSum(metrics, 'events_total') ?? 0);
    if (count !== undefined && count === previous) return count;
    previous = count;
    await sleep(1_000);
  }
  return previous;
}

/** Runs the scenario of `opts.transport`. */
export async function runTransport(opts: TransportOptions, procs: ProcessSet): Promise<TransportResults> {
  const { log } = opts;
  const { started, host, git, cluster, secret } = await beginRun();
  const { cfg, namespace } = cluster;
  const tag = randomBytes(3).toString('hex');
  const eventsPerRequest = opts.transport === 'postback' ? 1 : opts.batch;
  let tool: AutocannonOutput | undefined;
  let accepted: number | undefined;
  let clickhouse: TransportResults['clickhouse'];
  const cpu: CpuWindow[] = [];
  await cluster.startServers(log);
  try {
    log(`namespace ${namespace}: migrating ClickHouse, creating the stream, starting an edge and a worker`);
    const { edge, worker } = await cluster.startNodes(procs);
    await procs.guard(createCatalog(cluster.edgeUrl, cluster.adminToken, { brands: [BRAND], affiliates: [], codes: [], paused: [], postbackSecret: secret }));
    await procs.guard(waitForBrand({ baseUrl: cluster.edgeUrl, brand: BRAND, secret }, 10_000));
    const measured = cluster.measured(edge, worker);
    const requests = requestsOf(opts.transport, tag, secret, opts.batch);
    log(`autocannon: ${opts.transport}, ${opts.durationS} s, ${opts.connections} connections, ${eventsPerRequest} event(s) per request…`);
    const load = await withCpu(
      measured.map(([, pid]) => pid),
      () => procs.guard(runAutocannonRaw(procs, { baseUrl: cluster.edgeUrl, connections: opts.connections, durationS: opts.durationS, requests, workDir: cluster.workDir }, opts.transport === 'postback')),
    );
    tool = load.result;
    accepted = await settledCount(`${cluster.edgeUrl}/metrics`);
    log(`  ${fmt(tool['2xx'] / tool.durationS)} requests/s answered 200, edge accepted ${accepted === undefined ? '(no /metrics)' : fmt(accepted)} events`);
    cpu.push(spanWindow('load', measured, load, accepted ?? 0));
    log('waiting for the worker to write every accepted event to ClickHouse…');
    const drain = await withCpu(measured.map(([, pid]) => pid), () => procs.guard(waitForEventRows(cfg, accepted ?? 0, SETTLE, log)));
    cpu.push(spanWindow('drain (worker catching up)', measured, drain, accepted ?? 0));
    const counts = await countEvents(cfg);
    clickhouse = { rows: await countEventRows(cfg), distinctIds: counts.distinctIds, settleMs: drain.result };
  } finally {
    await cluster.close(procs, opts.keep, log);
  }
  const eventsPerSec = tool && accepted !== undefined && tool.durationS > 0 ? accepted / tool.durationS : undefined;
  const verdict = judge(tool, accepted, clickhouse, eventsPerRequest, opts.connections);
  return {
    scenario: opts.transport,
    date: started.toISOString(),
    machine: host,
    git,
    options: { durationS: opts.durationS, connections: opts.connections, batch: eventsPerRequest, namespace },
    tool,
    eventsPerRequest,
    accepted,
    clickhouse,
    eventsPerSec,
    cpu,
    logs: [summarizeLog(cluster.edgeLog), summarizeLog(cluster.workerLog)],
    verdict,
    pass: verdict.every((v) => v.pass !== false),
  };
}

/**
 * The targets against the figures. Requests in flight when autocannon stops are answered and
 * counted by the edge but never read by the tool: the edge may accept up to one request per
 * connection more than the 200s the tool saw.
 */
function judge(tool: AutocannonOutput | undefined, accepted: number | undefined, ch: TransportResults['clickhouse'], perRequest: number, connections: number): Verdict[] {
  const failed = tool ? tool.total - tool['2xx'] + tool.errors : 0;
  return [
    {
      target: 'every request answered 200',
      required: 'no other status, no socket error or timeout',
      measured: tool ? `${fmt(tool['2xx'])} of ${fmt(tool.total)} answered 200; ${fmt(tool.errors)} errors (${fmt(tool.timeouts)} timeouts)` : 'no run',
      pass: tool ? failed === 0 : null,
    },
    {
      target: 'every accepted event in ClickHouse exactly once',
      required: 'rows = the edge’s events_total = distinct event ids; accepted ≤ events in requests answered 200 + one request per connection in flight',
      measured:
        ch && accepted !== undefined && tool
          ? `${fmt(ch.rows)} rows, ${fmt(ch.distinctIds)} distinct ids, ${fmt(accepted)} accepted, ${fmt(tool['2xx'] * perRequest)} events in 200 answers`
          : 'not measured',
      pass: ch && accepted !== undefined && tool ? ch.rows === accepted && ch.distinctIds === ch.rows && accepted <= (tool['2xx'] + connections) * perRequest : null,
    },
  ];
}

/** The run as a Markdown report. */
export function renderTransport(r: TransportResults): string {
  const t = r.tool;
  const lines = [
    `# ${r.scenario} benchmark — ${r.date}`,
    '',
    machineLine(r),
    `autocannon (its own process), ${r.options.durationS} s, ${r.options.connections} connections, ${r.eventsPerRequest} registration(s) of new players per request; namespace \`${r.options.namespace}\`.`,
    '',
  ];
  if (t) {
    lines.push(
      '| requests/s | events/s accepted | p50 ms | p99 ms | requests | 200 | errors |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${fmt(t.total / t.durationS)} | ${r.eventsPerSec === undefined ? '–' : fmt(r.eventsPerSec)} | ${t.p50} | ${t.p99} | ${fmt(t.total)} | ${fmt(t['2xx'])} | ${fmt(t.errors)} |`,
      '',
      'autocannon reports latency in whole milliseconds. An answer means the events are durable in JetStream.',
      '',
    );
  }
  if (r.clickhouse) lines.push(`ClickHouse: ${fmt(r.clickhouse.rows)} event rows, ${fmt(r.clickhouse.distinctIds)} distinct ids, ${(r.clickhouse.settleMs / 1000).toFixed(1)} s after the load.`, '');
  lines.push(...cpuSection(r.cpu, 'per accepted event'), ...verdictSection(r.verdict, r.logs));
  return lines.join('\n');
}
