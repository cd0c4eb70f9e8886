/**
 * `affstream up`: the supervisor. Starts the servers, prepares ClickHouse and NATS, runs the
 * worker and edge processes, loads the demo catalog, prints the URLs, and on Ctrl-C or SIGTERM
 * stops everything in order: edges first (they flush pending clicks to JetStream), then workers
 * (they flush to ClickHouse), then the servers it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exponentialBackoff, failuresInARow, RESTART_PACING } from '../../schema/backoff.ts';
import { bootConfig } from '../../schema/bootConfig.ts';
import { migrate } from '../../schema/clickhouse/migrate.ts';
import { loadRulesFile } from '../../workers/runtime/rulesFile.ts';
import type { ClusterConfig } from '../../schema/config.ts';
import { ensureNats } from '../../schema/natsSetup.ts';
import { CliError, describeError, say } from '../command.ts';
import { httpCall, httpOk } from '../http.ts';
import { removeFile, sleep, tail, terminate, writePidFile } from '../proc.ts';
import { PROJECT_ROOT, SERVER_NAMES, runDir, startServers, type Servers } from '../servers.ts';
import { banner, livePid, localEdgeUrl, readUpState, upFiles, writeUpState, type UpState } from '../upState.ts';

export const name = 'up';
export const summary = 'start servers, workers and edges, load the demo catalog, print the URLs';
export const help = `Usage: affstream up [--detach]

Starts the cluster that cluster.config.ts describes:
  1. NATS, ClickHouse and Redis as child processes on the project's ports, data under
     <dataDir>/ (a server is not started when NATS_URL, CLICKHOUSE_URL or REDIS_URL is set,
     or when one already answers on its port);
  2. the ClickHouse migrations and the NATS streams and buckets;
  3. worker.count worker and edge.count edge processes (their pino logs go to stdout);
  4. once GET /readyz answers 200, the demo catalog (brand demo, plan demo-hybrid, affiliate aff1, link demo1)
     unless link demo1 exists; then prints the redirect, report and metrics URLs
     and the admin token (generated unless AFFSTREAM_ADMIN_TOKEN is set).
Once up, a worker or edge that dies is started again (after 1 s, doubling to 30 s while it keeps
dying). Ctrl-C or SIGTERM stops edges, then workers, then the servers it started.

Options:
  -d, --detach   run in the background, logging to <dataDir>/logs/up.log; returns once the
                 cluster is ready. \`affstream down\` stops it, \`affstream status\` checks it.
  -h, --help     show this text
`;

/** Runs `affstream up`. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { detach: { type: 'boolean', short: 'd' } } });
  const cfg = await bootConfig();
  // Checked here too, so a bad rules file stops `up` with its reason rather than a worker that dies at boot.
  await loadRulesFile(cfg);
  const running = livePid(upFiles(cfg).pidFile);
  if (running !== undefined) {
    say(`already up (pid ${running}); \`affstream down\` stops it`);
    return 1;
  }
  mkdirSync(runDir(cfg), { recursive: true });
  return values.detach ? detach(cfg) : supervise(cfg);
}

/** How long the edges may take to answer /readyz. */
const READY_TIMEOUT_MS = 120_000;
/** How long `--detach` waits for the whole start, servers and migrations included. */
const DETACH_TIMEOUT_MS = 300_000;
/** Edges flush their click batches within a publish timeout; workers flush to ClickHouse. */
const EDGE_GRACE_MS = 10_000;
const WORKER_GRACE_MS = 30_000;

interface Child {
  kind: 'edge' | 'worker';
  index: number;
  proc: ChildProcess;
  label: string;
  startedAt: number;
  /** Deaths in a row of this slot (kind, index), the current run not counted. */
  deaths: number;
}

async function supervise(cfg: ClusterConfig): Promise<number> {
  const files = upFiles(cfg);
  const adminToken = cfg.adminToken ?? randomBytes(16).toString('hex');
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!stop.signal.aborted) say(`${sig}: stopping`);
    stop.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);

  writePidFile(files.pidFile, process.pid);
  const state: UpState = {
    pid: process.pid,
    phase: 'starting',
    startedAt: new Date().toISOString(),
    adminToken,
    edgeUrl: localEdgeUrl(cfg),
    servers: {} as UpState['servers'],
    children: [],
  };
  const children: Child[] = [];
  const restarts = new Set<NodeJS.Timeout>();
  let servers: Servers | undefined;
  let code = 0;
  try {
    servers = await startServers(cfg, {
      log: say,
      onExit: (server, exitCode, sig) => say(`${server} exited unexpectedly (${describeExit(exitCode, sig)}); the cluster needs it: restart with \`affstream down\` and \`affstream up\``),
    });
    for (const server of SERVER_NAMES) state.servers[server] = { url: servers.urls[server], mode: servers.modes[server] };
    stop.signal.throwIfAborted();
    const applied = await migrate(cfg);
    say(applied.length > 0 ? `ClickHouse migrations applied: ${applied.join(', ')}` : 'ClickHouse schema up to date');
    await ensureNats(cfg);
    stop.signal.throwIfAborted();

    const env = { ...process.env, AFFSTREAM_ADMIN_TOKEN: adminToken };
    let startupFailure: ((err: Error) => void) | undefined;
    const died = new Promise<never>((_, reject) => (startupFailure = reject));
    // Observed through the races below; a death after them must not become an unhandled rejection.
    died.catch(() => {});
    const recordChildren = () => {
      state.children = children.map((c) => ({ kind: c.kind, index: c.index, pid: c.proc.pid ?? 0 }));
      writeUpState(cfg, state);
    };
    // Once up, a child that dies (a crash, a kill -9) is started again in its slot: a worker
    // recovers its partitions from ClickHouse and the stream, an edge adopts the dead one's spool.
    const onChildExit = (child: Child, exitCode: number | null, sig: NodeJS.Signals | null): void => {
      const why = `${child.label} (pid ${child.proc.pid}) ${describeExit(exitCode, sig)}`;
      if (state.phase === 'starting') startupFailure?.(new CliError(`${why} during startup`));
      if (state.phase !== 'ready') return;
      const deaths = failuresInARow(child.deaths, Date.now() - child.startedAt, RESTART_PACING);
      const pause = exponentialBackoff(deaths, RESTART_PACING.baseMs, RESTART_PACING.maxMs);
      say(`${why} unexpectedly; starting it again in ${pause / 1000} s`);
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (state.phase !== 'ready') return;
        const fresh = spawnChild(child.kind, child.index, env, onChildExit, deaths);
        children[children.indexOf(child)] = fresh;
        recordChildren();
        say(`${fresh.label} started again (pid ${fresh.proc.pid})`);
      }, pause);
      restarts.add(timer);
    };
    for (let i = 0; i < cfg.worker.count; i++) children.push(spawnChild('worker', i, env, onChildExit));
    for (let i = 0; i < cfg.edge.count; i++) children.push(spawnChild('edge', i, env, onChildExit));
    recordChildren();

    await Promise.race([waitReady(state.edgeUrl, stop.signal), died]);
    const demo = loadDemoCatalog(state.edgeUrl, adminToken).catch((err: Error) => {
      say(`demo catalog not loaded: ${err.message}`);
      return undefined;
    });
    state.demoPostbackSecret = await Promise.race([demo, died]);
    state.phase = 'ready';
    writeUpState(cfg, state);
    process.stdout.write(`${banner(state, cfg)}\nCtrl-C stops everything.\n`);
    if (!stop.signal.aborted) await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
  } catch (err) {
    if (!stop.signal.aborted) {
      say(describeError(err));
      code = 1;
    }
  } finally {
    state.phase = 'stopping';
    for (const t of restarts) clearTimeout(t);
    writeUpState(cfg, state);
    await stopChildren(children.filter((c) => c.kind === 'edge'), EDGE_GRACE_MS);
    await stopChildren(children.filter((c) => c.kind === 'worker'), WORKER_GRACE_MS);
    await servers?.stop();
    removeFile(files.stateFile);
    removeFile(files.pidFile);
    for (const sig of signals) process.off(sig, onSignal);
  }
  say(code === 0 ? 'stopped' : 'stopped after a failed start');
  return code;
}

function spawnChild(
  kind: Child['kind'],
  index: number,
  env: NodeJS.ProcessEnv,
  onExit: (child: Child, code: number | null, sig: NodeJS.Signals | null) => void,
  deaths = 0,
): Child {
  const script = kind === 'edge' ? 'node/main.ts' : 'workers/main.ts';
  // Own process group: a terminal Ctrl-C reaches only the supervisor, which stops children in order.
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: PROJECT_ROOT,
    env: { ...env, AFFSTREAM_PROCESS_INDEX: String(index) },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  const child: Child = { kind, index, proc, label: `${kind} ${index}`, startedAt: Date.now(), deaths };
  proc.once('error', (err) => say(`${child.label}: ${err.message}`));
  proc.once('exit', (code, sig) => onExit(child, code, sig));
  return child;
}

function describeExit(code: number | null, sig: NodeJS.Signals | null): string {
  return sig ? `was killed by ${sig}` : `exited with code ${code}`;
}

async function stopChildren(children: Child[], graceMs: number): Promise<void> {
  const running = children.filter((c) => c.proc.pid !== undefined && c.proc.exitCode === null && c.proc.signalCode === null);
  await Promise.all(
    running.map(async (c) => {
      const { killed } = await terminate(c.proc.pid as number, graceMs);
      if (killed) say(`${c.label} did not stop within ${graceMs / 1000} s: killed`);
    }),
  );
}

async function waitReady(edgeUrl: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await httpOk(`${edgeUrl}/readyz`))) {
    signal.throwIfAborted();
    if (Date.now() >= deadline) throw new CliError(`the edge did not answer ${edgeUrl}/readyz with 200 within ${READY_TIMEOUT_MS / 1000} s`);
    await sleep(250);
  }
}

/**
 * Loads the demo brand, plan, affiliate and link unless link demo1 exists; returns the demo brand's
 * postback secret (new, or read back) for the banner.
 */
async function loadDemoCatalog(edgeUrl: string, token: string): Promise<string | undefined> {
  const api = (method: string, p: string, body?: unknown) =>
    httpCall(method, `${edgeUrl}/api/v1/${p}`, {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 10_000,
    });
  const link = await api('GET', 'links/demo1');
  if (link.status === 200) {
    const brand = await api('GET', 'brands/demo');
    return brand.status === 200 ? (JSON.parse(brand.body) as { postbackSecret?: string }).postbackSecret : undefined;
  }
  if (link.status !== 404) throw new Error(`GET /api/v1/links/demo1 answered ${link.status}: ${link.body.slice(0, 300)}`);

  const secret = randomBytes(16).toString('hex');
  const records: [string, unknown][] = [
    ['brands/demo', { name: 'Demo Casino', currency: 'EUR', jurisdiction: 'MT', attributionWindowDays: 30, restrictedCountries: ['US', 'FR'], restrictedUrl: 'https://demo-casino.example/restricted', postbackSecret: secret }],
    // A hybrid plan (docs/commissions.md): 50.00 per qualified FTD of at least 20.00, and 25 % of NGR.
    ['plans/demo-hybrid', {
      brandId: 'demo', currency: 'EUR', cpa: { amount: '50.00', minDeposit: '20.00' },
      revshare: { tiers: [{ from: '0', pct: '25' }], tierBy: 'ngr', carryOver: 'carry' }, holdDays: 0,
    }],
    ['affiliates/aff1', { name: 'Demo Affiliate', status: 'active', planId: 'demo-hybrid' }],
    ['links/demo1', { brandId: 'demo', affiliateId: 'aff1', campaign: 'launch', landingUrl: 'https://demo-casino.example/welcome?cid={click_id}&s1={sub1}' }],
  ];
  for (const [p, body] of records) {
    // With several edges the link may reach one that has not yet seen the brand (catalog changes
    // propagate within 1 s), which rejects the reference with 422: retry for a few seconds.
    const deadline = Date.now() + 3000;
    let res = await api('PUT', p, body);
    while (res.status === 422 && Date.now() < deadline) {
      await sleep(200);
      res = await api('PUT', p, body);
    }
    if (res.status < 200 || res.status > 299) throw new Error(`PUT /api/v1/${p} answered ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return secret;
}

/**
 * `--detach`: runs `affstream up` again as a background process in its own session, logging to
 * `<dataDir>/logs/up.log`, and returns once its state file says it is ready.
 */
async function detach(cfg: ClusterConfig): Promise<number> {
  const { logFile } = upFiles(cfg);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const bin = fileURLToPath(new URL('../../bin/affstream.mjs', import.meta.url));
  const child = spawn(process.execPath, [bin, 'up'], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exit: string | undefined;
  child.once('exit', (code, sig) => (exit = describeExit(code, sig)));
  const deadline = Date.now() + DETACH_TIMEOUT_MS;
  for (;;) {
    const state = readUpState(cfg);
    if (state !== undefined && state.pid === child.pid && state.phase === 'ready') {
      process.stdout.write(banner(state, cfg));
      say(`running in the background (pid ${child.pid}, log ${logFile}); \`affstream down\` stops it`);
      child.unref();
      return 0;
    }
    if (exit !== undefined) {
      say(`up ${exit}; last lines of ${logFile}:`);
      process.stderr.write(`${await tail(logFile, 40)}\n`);
      return 1;
    }
    if (Date.now() >= deadline) {
      say(`not ready after ${DETACH_TIMEOUT_MS / 1000} s (pid ${child.pid}); see ${logFile}; \`affstream down\` stops it`);
      return 1;
    }
    await sleep(200);
  }
}
