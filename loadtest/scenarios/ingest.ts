/**
 * Scenario `ingest`: how many player events per second ONE client gets acknowledged — that is,
 * durable in JetStream (docs/protocol.md §6) — over the binary WebSocket stream, at what CPU cost
 * per event in each process, with what ack latency; and whether every acknowledged event then
 * reaches ClickHouse exactly once.
 *
 * One run: a worker and an edge in a fresh namespace, one brand; a client process
 * (tools/streamIngestChild.ts) pipelines frames of N mixed events with the protocol's window for
 * the duration; then the harness waits for the worker to write everything and compares the
 * `events` table with what the acks accepted: rows, distinct event ids, rows per type and the
 * exact money sums. CPU time of the edge, the worker, the servers and the client is read for the
 * load and for the drain after it, so the figures say where the cores went.
 *
 * Once the edge's events are accounted for, and the edge and worker stopped, the same client runs
 * against the floor (bare/uwsIngest.ts): a bare uWS server that makes each frame durable in
 * JetStream as one message and acks it, with no work per event — then again with a msgpack decode
 * of every frame added (@msgpack/msgpack: the edge's own decoder is internal). The floor goes last: it puts over a gigabyte of frames on NATS's disk, and
 * run first, it left the worker's drain after the edge's run taking over 45 s where 13 s had been
 * enough, with the machine mostly idle (most likely the disk still writing those frames). What the floor reaches bounds what
 * any edge could on this machine; the gap is the price of affstream's own work.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, natsNames, parseMoney, PROJECT_ROOT, toDecimalText } from '../../schema/mod.ts';
import { createCatalog } from '../lib/catalog.ts';
import { BenchCluster, nodeScript } from '../lib/cluster.ts';
import { waitForBrand } from '../lib/eventClient.ts';
import { frameTemplate, type FrameSummary } from '../lib/frames.ts';
import { summarizeLog } from '../lib/logs.ts';
import { countEventRows, countEvents, createFloorStream, deleteStreams, floorStream, waitForEventRows, type EventCounts } from '../lib/namespace.ts';
import { freePorts, promSum, scrape } from '../lib/net.ts';
import { serverPids, withCpu, type ProcessSet } from '../lib/proc.ts';
import { cpuSection, gitState, machine, machineLine, processCpu, spanWindow, verdictSection, type CpuWindow, type LogSummary, type Machine, type Verdict } from '../lib/results.ts';
import { runStreamIngest, type StreamIngestInput, type StreamIngestOutput } from '../tools/streamIngest.ts';

/** Options of {@link runIngest}. */
export interface IngestOptions {
  /** Seconds the client sends frames. */
  durationS: number;
  /** Events per frame. */
  frameEvents: number;
  /** Frames kept unacknowledged. */
  window: number;
  /** Keep the namespace afterwards. */
  keep: boolean;
  log(line: string): void;
}

/** Defaults of the `bench ingest` flags. */
export const INGEST_DEFAULTS = { durationS: 10, frameEvents: 1000, window: 64 } as const;

/** The target (loadtest/README.md, “ingest”): events/s durable in JetStream, from one client. */
export const INGEST_TARGET = 300_000;

/** The one brand of the run. */
const BRAND = 'bench-stream';
/**
 * Events still arriving in ClickHouse after the load: give up after 2 minutes (the worker may
 * be far behind a fast edge), or when the row count has not moved for 30 s (a worker that fell
 * behind was seen spending 20–40 s on one flush).
 */
const SETTLE = { timeoutMs: 120_000, quietMs: 30_000 };
/** How long the client waits for its last acks after it stopped sending. */
const DRAIN_TIMEOUT_MS = 30_000;

/** Did every acknowledged event reach ClickHouse, once? */
export interface EventAccounting {
  /** Sum of the acks' `accepted`. */
  acknowledged: number;
  /** The edge's `events_total`; undefined when its /metrics did not answer. */
  edgeCounted: number | undefined;
  clickhouse: EventCounts;
  /** What ClickHouse should hold, from the frame's composition × frames fully accepted (absent when some frame was not). */
  expected?: { byType: Record<string, number>; depositAmount: string; betStake: string; betWin: string };
  /** JetStream messages the events took (the namespace's stream holds nothing else here). */
  jetstreamMessages: number;
  /** Flushes the worker made to ClickHouse (each writes every table once); undefined when its /metrics did not answer. */
  workerFlushes: number | undefined;
  /** Rows in ClickHouse when the load stopped: the rest was written during the drain. */
  rowsAtLoadEnd: number;
  /** From the end of the load until ClickHouse held every event (or the wait gave up), ms. */
  settleMs: number;
  ok: boolean;
  detail: string;
}

/** The floor's servers (bare/uwsIngest.ts), in the order they run. */
const FLOOR_TARGETS = [
  { target: 'bare', args: [], log: 'floor.log' },
  { target: 'bare + decode', args: ['--decode'], log: 'floor-decode.log' },
] as const;

/** The stream client against a floor server: the same frames, nothing but JetStream behind the socket. */
export interface FloorRun {
  /** `bare`: each frame published as one JetStream message; `bare + decode`: each frame decoded too (@msgpack/msgpack). */
  target: (typeof FLOOR_TARGETS)[number]['target'];
  client: StreamIngestOutput;
  /** The server (`bare server`), NATS, ClickHouse, Redis and the client while the client sent. */
  cpu: CpuWindow;
}

/** The whole output of `affstream bench ingest`. */
export interface IngestResults {
  scenario: 'ingest';
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: { durationS: number; frameEvents: number; window: number; namespace: string; partitions: number; flushIntervalMs: number };
  frame: FrameSummary;
  client: StreamIngestOutput | undefined;
  cpu: CpuWindow[];
  /** The same client against the floor, after the edge and worker stopped. */
  floor: FloorRun[];
  events: EventAccounting | undefined;
  /** What the figures say limits the rate, from the CPU windows and the batch sizes. */
  limits: string[];
  logs: LogSummary[];
  verdict: Verdict[];
  pass: boolean;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A run's tag, part of every id: 6 hex digits (ids of equal length make frames of equal size). */
const runTag = (): string => randomBytes(3).toString('hex');

/** Frame size in bytes for `events` events: the edge refuses frames over 1 MiB. */
export function frameBytes(events: number): number {
  return frameTemplate(events, runTag()).summary.bytes;
}

/** Runs the scenario; the children go through `procs`, whose interrupt aborts the run. */
export async function runIngest(opts: IngestOptions, procs: ProcessSet): Promise<IngestResults> {
  const { log } = opts;
  const started = new Date();
  const host = machine();
  const cluster = await BenchCluster.prepare(started);
  const { cfg, namespace } = cluster;
  const secret = randomBytes(18).toString('base64url');
  const tag = runTag();
  const frame = frameTemplate(opts.frameEvents, tag).summary;

  let client: StreamIngestOutput | undefined;
  let events: EventAccounting | undefined;
  const cpu: CpuWindow[] = [];
  const floor: FloorRun[] = [];
  const stream = { secret, durationS: opts.durationS, frameEvents: opts.frameEvents, window: opts.window, tag, drainTimeoutMs: DRAIN_TIMEOUT_MS };
  await cluster.startServers(log);
  try {
    log(`stream client: ${opts.durationS} s per target, frames of ${fmt(opts.frameEvents)} events (${fmt(frame.bytes)} bytes), window ${opts.window}`);

    log(`namespace ${namespace}: migrating ClickHouse, creating the stream, starting an edge and a worker`);
    const { edge, worker } = await cluster.startNodes(procs);
    await procs.guard(createCatalog(cluster.edgeUrl, cluster.adminToken, { brands: [BRAND], affiliates: [], codes: [], paused: [], postbackSecret: secret }));
    await procs.guard(waitForBrand({ baseUrl: cluster.edgeUrl, brand: BRAND, secret }, 10_000));

    const measured = cluster.measured(edge, worker);
    const pids = measured.map(([, pid]) => pid);
    log('edge…');
    const load = await streamLoad(procs, measured, { ...stream, url: streamUrl(cluster.edgeUrl) }, 'load (client sending)', log);
    client = load.client;
    const perEvent = client.accepted;
    cpu.push(load.cpu);

    log('waiting for the worker to write every event to ClickHouse…');
    const rowsAtLoadEnd = await countEventRows(cfg);
    const drain = await withCpu(pids, () => procs.guard(waitForEventRows(cfg, client?.accepted ?? 0, SETTLE, log)));
    cpu.push(spanWindow('drain (worker catching up)', measured, drain, perEvent));
    events = await procs.guard(accountEvents(cluster, client, frame, rowsAtLoadEnd, drain.result));
    log(`${events.ok ? 'events OK' : 'EVENTS DO NOT ADD UP'}: ${events.detail}`);
    await procs.stop(edge);
    await procs.stop(worker);
    floor.push(...(await runFloor(cluster, procs, stream, log)));
  } finally {
    await cluster.close(procs, opts.keep || events?.ok === false, log);
  }

  const limits = [...(client && events ? explainLimits(client, cpu, events, host) : []), ...floorLimits(floor, client, cpu[0], host.cpus)];
  const verdict = judge(client, events);
  return {
    scenario: 'ingest',
    date: started.toISOString(),
    machine: host,
    git: gitState(PROJECT_ROOT),
    options: { durationS: opts.durationS, frameEvents: opts.frameEvents, window: opts.window, namespace, partitions: cfg.partitions, flushIntervalMs: cfg.worker.flushIntervalMs },
    frame,
    client,
    cpu,
    floor,
    events,
    limits,
    logs: [summarizeLog(cluster.edgeLog), summarizeLog(cluster.workerLog)],
    verdict,
    pass: verdict.every((v) => v.pass !== false),
  };
}

/** `ws://…/v1/stream?brand=…` of the server at `baseUrl`. */
const streamUrl = (baseUrl: string): string => `${baseUrl.replace('http:', 'ws:')}/v1/stream?brand=${BRAND}`;

/**
 * One run of the stream client, reading the CPU of the `measured` processes meanwhile: the client's
 * figures, and the CPU window `window` per acknowledged event, the client's own CPU included.
 */
async function streamLoad(
  procs: ProcessSet,
  measured: readonly [string, number][],
  input: StreamIngestInput,
  window: string,
  log: (line: string) => void,
): Promise<{ client: StreamIngestOutput; cpu: CpuWindow }> {
  const load = await withCpu(
    measured.map(([, pid]) => pid),
    () => procs.guard(runStreamIngest(procs, input)),
  );
  const client = load.result;
  log(
    `  ${fmt(client.acceptedPerSec)} events/s acknowledged (${fmt(client.accepted)} in ${client.durationS.toFixed(1)} s), ack p50 ${client.ackLatencyMs.p50.toFixed(1)} ms, ` +
      `p99 ${client.ackLatencyMs.p99.toFixed(1)} ms`,
  );
  const events = client.accepted;
  return { client, cpu: spanWindow(window, measured, load, events, [processCpu('stream client', client.cpuMicros, client.durationS, events)]) };
}

/**
 * The floor: the client against each bare server in turn (bare/uwsIngest.ts), alone — the edge and
 * the worker have stopped — publishing to a stream of the namespace's own.
 */
async function runFloor(cluster: BenchCluster, procs: ProcessSet, stream: Omit<StreamIngestInput, 'url'>, log: (line: string) => void): Promise<FloorRun[]> {
  const [port] = (await freePorts(1)) as [number];
  const baseUrl = `http://127.0.0.1:${port}`;
  await procs.guard(createFloorStream(cluster.cfg));
  const servers = Object.entries(serverPids(cluster.serverCfg)) as [string, number][];
  const runs: FloorRun[] = [];
  for (const { target, args, log: logFile } of FLOOR_TARGETS) {
    const server = procs.spawn(`${target} server`, ...nodeScript('loadtest/bare/uwsIngest.ts', String(port), ...args), {
      env: cluster.env,
      output: path.join(cluster.workDir, logFile),
      service: true,
    });
    await cluster.ready(procs, `the ${target} server`, `${baseUrl}/readyz`);
    log(`${target} server (the floor)…`);
    const run = await streamLoad(procs, [['bare server', server.pid], ...servers], { ...stream, url: streamUrl(baseUrl) }, `${target} server (client sending)`, log);
    await procs.stop(server);
    runs.push({ target, ...run });
  }
  // Over a gigabyte of frames: not kept beyond the run.
  await procs.guard(deleteStreams(cluster.cfg, [floorStream(cluster.cfg).stream]));
  return runs;
}

/** Compares ClickHouse with the acks, the edge's counter and the frames' composition. */
async function accountEvents(cluster: BenchCluster, client: StreamIngestOutput, frame: FrameSummary, rowsAtLoadEnd: number, settleMs: number): Promise<EventAccounting> {
  const { cfg } = cluster;
  const clickhouse = await countEvents(cfg);
  const [edgeMetrics, workerMetrics] = await Promise.all([scrape(`${cluster.edgeUrl}/metrics`), scrape(`${cluster.workerUrl}/metrics`)]);
  const nc = await connectNats(cfg, `${cfg.namespace}-bench`);
  let jetstreamMessages = 0;
  try {
    const info = await (await jetstreamManager(nc)).streams.info(natsNames(cfg).stream);
    jetstreamMessages = info.state.messages;
  } finally {
    await nc.close();
  }

  const acknowledged = client.accepted;
  const whole = client.framesFullyAccepted;
  const times = (text: string) => toDecimalText((parseMoney(text) as bigint) * BigInt(whole));
  const expected =
    whole === client.framesAcked && client.framesAcked > 0
      ? {
          byType: Object.fromEntries(Object.entries(frame.byType).map(([t, n]) => [t, n * whole])),
          depositAmount: times(frame.depositAmount),
          betStake: times(frame.betStake),
          betWin: times(frame.betWin),
        }
      : undefined;

  const problems: string[] = [];
  const waited = `${(settleMs / 1000).toFixed(0)} s after the load`;
  if (clickhouse.rows < acknowledged) problems.push(`${fmt(acknowledged - clickhouse.rows)} acknowledged event(s) are not in ClickHouse ${waited}`);
  if (clickhouse.rows > acknowledged) problems.push(`ClickHouse holds ${fmt(clickhouse.rows - acknowledged)} row(s) more than were acknowledged`);
  if (clickhouse.distinctIds < clickhouse.rows) problems.push(`${fmt(clickhouse.rows - clickhouse.distinctIds)} row(s) repeat an event id`);
  if (expected) {
    for (const [type, n] of Object.entries(expected.byType)) {
      const got = clickhouse.byType[type] ?? 0;
      if (got !== n) problems.push(`${type}: ${fmt(got)} rows, expected ${fmt(n)}`);
    }
    // Compared as exact amounts: ClickHouse prints decimals with its own number of places.
    const money = (label: string, got: string, want: string) => {
      if (parseMoney(got) !== parseMoney(want)) problems.push(`${label}: ClickHouse sums ${got}, the frames sent ${want}`);
    };
    money('deposit amounts', clickhouse.depositAmount, expected.depositAmount);
    money('bet stakes', clickhouse.betStake, expected.betStake);
    money('bet wins', clickhouse.betWin, expected.betWin);
  } else {
    problems.push('not every frame was accepted whole, so rows per type and money could not be predicted');
  }
  const edgeCounted = edgeMetrics === undefined ? undefined : (promSum(edgeMetrics, 'events_total') ?? 0);
  if (edgeCounted === undefined) problems.push("the edge's /metrics did not answer within 5 s");
  else if (edgeCounted !== acknowledged) problems.push(`the edge counted ${fmt(edgeCounted)} accepted events, the acks ${fmt(acknowledged)}`);
  return {
    acknowledged,
    edgeCounted,
    clickhouse,
    expected,
    jetstreamMessages,
    workerFlushes: workerMetrics === undefined ? undefined : (promSum(workerMetrics, 'clickhouse_flush_latency_ms_count') ?? 0),
    rowsAtLoadEnd,
    settleMs,
    ok: problems.length === 0,
    detail:
      problems.length > 0
        ? problems.join('; ')
        : `all ${fmt(acknowledged)} acknowledged events are in ClickHouse once each, rows per type and deposit, stake and win sums exactly as sent`,
  };
}

/**
 * What the figures say about the limit: how busy each process was during the load, the ceiling
 * its cost per event implies, and the batch sizes on the way. Facts from this run, not a guess.
 */
function explainLimits(client: StreamIngestOutput, cpu: CpuWindow[], events: EventAccounting, host: Machine): string[] {
  const load = cpu[0];
  if (!load) return [];
  const lines: string[] = [];
  const total = load.processes.reduce((n, p) => n + p.cores, 0);
  const busiest = [...load.processes].sort((a, b) => b.cores - a.cores);
  const busy = total + load.otherCores;
  lines.push(
    `During the load the measured processes kept ${total.toFixed(2)} of the machine's ${host.cpus} cores busy, everything else ${load.otherCores.toFixed(2)}` +
      `${busy >= host.cpus * 0.9 ? ' — the machine was saturated: every process competed for the same cores' : ''}; ` +
      `busiest: ${busiest
        .slice(0, 3)
        .map((p) => `${p.process} ${p.cores.toFixed(2)}`)
        .join(', ')}.`,
  );
  const edge = load.processes.find((p) => p.process === 'edge');
  if (edge && edge.microsPerEvent > 0) {
    lines.push(
      `The edge spent ${edge.microsPerEvent.toFixed(2)} CPU-µs per acknowledged event: its JavaScript runs on one thread, so one edge process cannot ack more than ` +
        `~${fmt(1e6 / edge.microsPerEvent)} events/s even with a core to itself${edge.cores >= 0.9 ? ', and it had about one core busy throughout' : ''}.`,
    );
  }
  const all = load.processes.reduce((n, p) => n + p.microsPerEvent, 0);
  if (all > 0) {
    lines.push(
      `All measured processes together spent ${all.toFixed(2)} CPU-µs per event while it was acknowledged: ${host.cpus} cores at full use give ~${fmt((host.cpus * 1e6) / all)} events/s ` +
        `with the cluster co-located like this (the worker's share of the drain afterwards not included).`,
    );
  }
  const worker = cpu.reduce((n, w) => n + (w.processes.find((p) => p.process === 'worker')?.microsPerEvent ?? 0), 0);
  if (worker > 0) {
    lines.push(
      `The worker spent ${worker.toFixed(2)} CPU-µs per event over the load and the drain together: one worker process cannot write more than ~${fmt(1e6 / worker)} events/s to ClickHouse.`,
    );
  }
  if (events.jetstreamMessages > 0) {
    lines.push(
      `Batches: ${fmt(client.frame.events)} events per frame; the edge merges the frames ready together and splits them by player partition into ${fmt(events.acknowledged / events.jetstreamMessages, 1)} events per JetStream message ` +
        `(${fmt(events.jetstreamMessages)} messages); JetStream takes ~1.0M events/s at 100 events per message and ~19k/s at 1 (loadtest/README.md, “Reference figures”).`,
    );
  }
  if (events.workerFlushes === undefined) {
    lines.push("The worker's /metrics did not answer within 5 s after the drain: its event loop was blocked.");
  } else if (events.workerFlushes > 0) {
    const drained = events.clickhouse.rows - events.rowsAtLoadEnd;
    lines.push(
      `The worker made ${fmt(events.workerFlushes)} ClickHouse flushes (~${fmt(events.clickhouse.rows / events.workerFlushes)} event rows each); ${fmt(events.rowsAtLoadEnd)} rows were in ClickHouse when the load stopped, ` +
        `${fmt(drained)} more in the ${(events.settleMs / 1000).toFixed(1)} s after it.`,
    );
  }
  return lines;
}

/** CPU-µs per event `process` spent in `window`, when it was measured. */
const microsOf = (window: CpuWindow | undefined, process: string): number | undefined => window?.processes.find((p) => p.process === process)?.microsPerEvent;

/** The CPU-µs per event of every process of `window` together. */
const microsOfAll = (window: CpuWindow): number => window.processes.reduce((n, p) => n + p.microsPerEvent, 0);

/**
 * What the floor says about the target: how far below or above it anything gets on this machine
 * over one WebSocket with no work per event, what that leaves of the CPU an event may cost at the
 * target rate, and the decoder's share. `edgeLoad` is the edge run's load window.
 */
export function floorLimits(floor: readonly FloorRun[], edge: StreamIngestOutput | undefined, edgeLoad: CpuWindow | undefined, cpus: number): string[] {
  const bare = floor.find((f) => f.target === 'bare');
  const server = microsOf(bare?.cpu, 'bare server');
  if (!bare || bare.client.accepted === 0 || server === undefined) return [];
  const lines: string[] = [];
  const nats = microsOf(bare.cpu, 'nats');
  const client = microsOf(bare.cpu, 'stream client') ?? 0;
  const all = microsOfAll(bare.cpu);
  const edgeServer = microsOf(edgeLoad, 'edge');
  lines.push(
    `The floor — a bare uWebSockets.js server that publishes each ${fmt(bare.client.frame.events)}-event frame as one JetStream message and acks it, no work per event, the worker not running — ` +
      `got ${fmt(bare.client.acceptedPerSec)} events/s acknowledged from the same client` +
      `${edge && edge.accepted > 0 ? `; the edge ${fmt(edge.acceptedPerSec)}, ${fmt((100 * edge.acceptedPerSec) / bare.client.acceptedPerSec, 1)}% of it` : ''}. ` +
      `Per event the floor cost ${server.toFixed(2)} CPU-µs in the bare server, ${nats === undefined ? 'an unmeasured share' : nats.toFixed(2)} in nats-server and ${client.toFixed(2)} in the client ` +
      `(${all.toFixed(2)} in every measured process)` +
      `${edgeServer !== undefined && edgeServer > 0 ? `; the edge spent ${edgeServer.toFixed(2)} in itself, ${(edgeServer - server).toFixed(2)} more than the bare server: the price of its work on each event` : ''}.`,
  );
  const budget = (cpus * 1e6) / INGEST_TARGET;
  const busiest = [...bare.cpu.processes]
    .sort((a, b) => b.cores - a.cores)
    .slice(0, 3)
    .map((p) => `${p.process} ${p.cores.toFixed(2)}`)
    .join(', ');
  if (bare.client.acceptedPerSec < INGEST_TARGET) {
    lines.push(
      `The floor itself stays below the target of ${fmt(INGEST_TARGET)} events/s: with nothing but one WebSocket and JetStream between the client and the disk, this machine acknowledged ` +
        `${fmt(bare.client.acceptedPerSec)}, so no edge can reach the target here from one client, whatever it saves on its own work (cores busy in the floor run: ${busiest}; everything else ${bare.cpu.otherCores.toFixed(2)}). ` +
        `At the target, ${cpus} cores allow ${budget.toFixed(2)} CPU-µs per event for every process together; the floor alone spends ${all.toFixed(2)}.`,
    );
  } else {
    lines.push(
      `The floor reaches the target of ${fmt(INGEST_TARGET)} events/s. At the target, ${cpus} cores allow ${budget.toFixed(2)} CPU-µs per event for every process together; the floor spends ${all.toFixed(2)} of them, ` +
        `which leaves ${(budget - all).toFixed(2)} for the edge's own work on each event and the worker's — and one edge thread must stay under ${(1e6 / INGEST_TARGET).toFixed(2)} CPU-µs per event in all.`,
    );
  }
  const decoded = microsOf(floor.find((f) => f.target === 'bare + decode')?.cpu, 'bare server');
  if (decoded !== undefined && decoded > 0) {
    lines.push(
      `A msgpack decode of every event (@msgpack/msgpack; the edge's own decoder costs less) alone: ${decoded.toFixed(2)} CPU-µs per event in the bare server with it, ${(decoded - server).toFixed(2)} more than without; ` +
        `a server that decodes every event on one thread cannot ack more than ~${fmt(1e6 / decoded)} events/s, one that only publishes the frames ~${fmt(1e6 / server)}` +
        `${1e6 / decoded < INGEST_TARGET ? ` — below the target: an edge that decodes every event on its one thread cannot reach it, whatever else it saves` : ''}.`,
    );
  }
  return lines;
}

/** The targets against the measured figures. */
function judge(client: StreamIngestOutput | undefined, events: EventAccounting | undefined): Verdict[] {
  const verdict: Verdict[] = [];
  verdict.push({
    target: 'events/s durable in JetStream, one client',
    required: `≥ ${fmt(INGEST_TARGET)} events/s acknowledged`,
    measured: client ? `${fmt(client.acceptedPerSec)} events/s` : 'no run',
    pass: client ? client.acceptedPerSec >= INGEST_TARGET : null,
  });
  const errorFrames = client ? Object.values(client.errors).reduce((n, k) => n + k, 0) : 0;
  verdict.push({
    target: 'every frame acknowledged',
    required: 'no error frame, no rejected event, no frame unanswered, no close by the server',
    measured: client
      ? `${fmt(client.framesAcked)} of ${fmt(client.framesSent)} frames acked; ${fmt(errorFrames)} error frame(s), ${fmt(client.rejected)} rejected, ${fmt(client.unanswered)} unanswered` +
        `${client.serverClose ? `, closed ${client.serverClose.code} ${client.serverClose.reason}` : ''}`
      : 'no run',
    pass: client ? errorFrames === 0 && client.rejected === 0 && client.unanswered === 0 && !client.serverClose && client.duplicates === 0 : null,
  });
  verdict.push({
    target: 'every acknowledged event in ClickHouse exactly once',
    required: 'rows = accepted, no event id twice, rows per type and money sums = what was sent',
    measured: events ? `${fmt(events.clickhouse.rows)} rows, ${fmt(events.clickhouse.distinctIds)} distinct ids, ${fmt(events.acknowledged)} accepted` : 'no run',
    pass: events ? events.ok : null,
  });
  return verdict;
}

/** The run as a Markdown report. */
export function renderIngest(r: IngestResults): string {
  const c = r.client;
  const lines = [
    `# Ingest benchmark — ${r.date}`,
    '',
    machineLine(r),
    `${r.options.durationS} s of frames of ${fmt(r.options.frameEvents)} events (${fmt(r.frame.bytes)} bytes: ${Object.entries(r.frame.byType)
      .map(([t, n]) => `${n} ${t}`)
      .join(', ')}), window ${r.options.window}, one WebSocket client in its own process; ` +
      `${r.options.partitions} partitions, worker flush interval ${r.options.flushIntervalMs} ms; namespace \`${r.options.namespace}\`.`,
    '',
  ];
  if (c) {
    lines.push(
      '| events/s acknowledged | events accepted | frames acked | ack p50 ms | ack p99 ms | ack max ms | duplicates | rejected | error frames | unanswered |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${fmt(c.acceptedPerSec)} | ${fmt(c.accepted)} | ${fmt(c.framesAcked)} | ${c.ackLatencyMs.p50.toFixed(1)} | ${c.ackLatencyMs.p99.toFixed(1)} | ${c.ackLatencyMs.max.toFixed(1)} | ` +
        `${fmt(c.duplicates)} | ${fmt(c.rejected)} | ${fmt(Object.values(c.errors).reduce((n, k) => n + k, 0))} | ${fmt(c.unanswered)} |`,
      '',
      'Ack latency is from sending a frame to its ack, as the pipelining client sees it: with the window full, most of it is waiting behind earlier frames.',
      '',
    );
  }
  lines.push(...cpuSection(r.cpu, 'per acknowledged event'), ...floorSection(r));
  const e = r.events;
  if (e) {
    const types = Object.keys({ ...(e.expected?.byType ?? {}), ...e.clickhouse.byType });
    lines.push(
      '## Events in ClickHouse',
      '',
      '| | rows | distinct ids | ' + types.join(' | ') + ' | deposit sum | stake sum | win sum |',
      '| --- | ---: | ---: | ' + types.map(() => '---:').join(' | ') + ' | ---: | ---: | ---: |',
      `| sent and acknowledged | ${fmt(e.acknowledged)} | ${fmt(e.acknowledged)} | ${types.map((t) => (e.expected ? fmt(e.expected.byType[t] ?? 0) : '–')).join(' | ')} | ` +
        `${e.expected?.depositAmount ?? '–'} | ${e.expected?.betStake ?? '–'} | ${e.expected?.betWin ?? '–'} |`,
      `| in ClickHouse | ${fmt(e.clickhouse.rows)} | ${fmt(e.clickhouse.distinctIds)} | ${types.map((t) => fmt(e.clickhouse.byType[t] ?? 0)).join(' | ')} | ` +
        `${e.clickhouse.depositAmount} | ${e.clickhouse.betStake} | ${e.clickhouse.betWin} |`,
      '',
      `Edge \`events_total\` ${e.edgeCounted === undefined ? 'not available' : fmt(e.edgeCounted)}; ${fmt(e.jetstreamMessages)} JetStream messages; ${fmt(e.rowsAtLoadEnd)} rows in ClickHouse when the load stopped; ${e.clickhouse.rows >= e.acknowledged ? 'all of them' : `${fmt(e.clickhouse.rows)}`} ${(e.settleMs / 1000).toFixed(1)} s later.`,
      '',
      `${e.ok ? 'OK' : '**EVENTS MISSING, EXTRA OR WRONG**'}: ${e.detail}`,
      '',
    );
  }
  if (r.limits.length > 0) lines.push('## What limits the rate', '', ...r.limits.map((l) => `- ${l}`), '');
  lines.push(...verdictSection(r.verdict, r.logs));
  return lines.join('\n');
}

/** `## Floor`: the bare servers and the edge side by side, then the floor runs' CPU tables. */
function floorSection(r: IngestResults): string[] {
  if (r.floor.length === 0) return [];
  const n = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(2));
  const bareRate = r.floor.find((f) => f.target === 'bare')?.client.acceptedPerSec ?? 0;
  const rows = [
    ...r.floor.map((f) => ({ target: f.target, client: f.client, cpu: f.cpu, server: 'bare server', perMessage: f.client.framesAcked > 0 ? f.client.frame.events : undefined })),
    ...(r.client
      ? [
          {
            target: 'edge',
            client: r.client,
            cpu: r.cpu[0],
            server: 'edge',
            perMessage: r.events && r.events.jetstreamMessages > 0 ? r.events.acknowledged / r.events.jetstreamMessages : undefined,
          },
        ]
      : []),
  ];
  return [
    '## Floor: the same client against a bare server',
    '',
    '`bare` is a uWebSockets.js server that publishes each frame, as it came, as one JetStream message (with a `Nats-Msg-Id`, to a stream stored like the event stream) and acks it with the frame\'s event count, read from the msgpack array header: no event decoded, validated, deduplicated or re-encoded, the worker not running. ' +
      "`bare + decode` also decodes every frame with @msgpack/msgpack, which the edge's own decoder matches value for value at a lower cost. `edge` is the run above. CPU-µs per acknowledged event; `all` counts every measured process (ClickHouse and Redis too).",
    '',
    '| target | events/s acknowledged | of bare | frames acked / sent | events per JetStream message | ack p50 ms | ack p99 ms | server CPU-µs | nats-server | worker | stream client | all |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (x) =>
        `| ${x.target} | ${fmt(x.client.acceptedPerSec)} | ${bareRate > 0 ? `${fmt((100 * x.client.acceptedPerSec) / bareRate, 1)}%` : '–'} | ${fmt(x.client.framesAcked)} / ${fmt(x.client.framesSent)} | ` +
        `${x.perMessage === undefined ? '–' : fmt(x.perMessage, 1)} | ${x.client.ackLatencyMs.p50.toFixed(1)} | ${x.client.ackLatencyMs.p99.toFixed(1)} | ` +
        `${n(microsOf(x.cpu, x.server))} | ${n(microsOf(x.cpu, 'nats'))} | ${n(microsOf(x.cpu, 'worker'))} | ${n(microsOf(x.cpu, 'stream client'))} | ${x.cpu ? n(microsOfAll(x.cpu)) : '–'} |`,
    ),
    '',
    ...cpuSection(
      r.floor.map((f) => f.cpu),
      'per acknowledged event',
    ),
  ];
}
