/**
 * The three servers the cluster needs — NATS JetStream, ClickHouse and Redis — run as child
 * processes on the project's own ports, with their data, generated configs and logs under
 * `<dataDir>/nats`, `<dataDir>/clickhouse` and `<dataDir>/redis`, and pid files under
 * `<dataDir>/run`.
 *
 * A server whose URL is configured is left alone (`external`); one already answering on its port
 * is used as it is and never stopped by us (`reused`); otherwise we start it (`started`). Every
 * stop goes through the pid file, so a server may be stopped and started again by another process
 * than the one that first started it: integration tests do exactly that to simulate outages.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { clickhouseUrl, natsUrl, redisUrl, type ClusterConfig } from '../schema/config.ts';
import { httpCall, httpOk } from './http.ts';
import { isAliveAs, readPidFile, removeFile, sleep, tail, terminate, writePidFile } from './proc.ts';

/** The project root: the folder of `cluster.config.ts`, against which a relative `dataDir` resolves. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The servers, in the order they are reported. */
export const SERVER_NAMES = ['nats', 'clickhouse', 'redis'] as const;

/** One of {@link SERVER_NAMES}. */
export type ServerName = (typeof SERVER_NAMES)[number];

/** The URL clients use for each server. */
export type ServerUrls = Record<ServerName, string>;

/**
 * How a server came to be available: we `started` it (and stop it), it was already answering on
 * its port (`reused`, never stopped by us), or its URL is configured (`external`).
 */
export type ServerMode = 'started' | 'reused' | 'external';

/** Options of {@link startServer} and {@link startServers}. */
export interface StartOptions {
  /** Progress lines ("nats: started …"). Default: silent. */
  log?: (line: string) => void;
  /** How long a started server may take to answer, ms. Default 60000. */
  readyTimeoutMs?: number;
  /** Called when a server we started exits without {@link stopServer} having asked it to. */
  onExit?: (name: ServerName, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** What {@link startServers} returns. */
export interface Servers {
  urls: ServerUrls;
  modes: Record<ServerName, ServerMode>;
  /** Stops the servers this call started (through their pid files); leaves the others running. */
  stop(): Promise<void>;
}

/** Result of {@link pingServers} for one server. */
export interface PingResult {
  url: string;
  ok: boolean;
  /** Version and features when `ok`, else why not. */
  detail: string;
}

/** A server could not be started. `logFile` is the log to read first, when there is one. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  constructor(
    readonly code: 'server_missing' | 'port_in_use' | 'server_start_failed',
    readonly server: ServerName,
    message: string,
    readonly logFile?: string,
  ) {
    super(message);
  }
}

/** Absolute data directory of `cfg`. */
export function dataDir(cfg: ClusterConfig): string {
  return path.resolve(PROJECT_ROOT, cfg.dataDir);
}

/** Where pid files and the `up` state live. */
export function runDir(cfg: ClusterConfig): string {
  return path.join(dataDir(cfg), 'run');
}

/**
 * HTTP monitoring port of the embedded NATS server. Not a config key of its own: it follows the
 * client port (14222 → 18222) so that two clusters with distinct NATS ports never collide.
 */
export function natsMonitorPort(cfg: ClusterConfig): number {
  return cfg.nats.port + 4000 <= 65535 ? cfg.nats.port + 4000 : cfg.nats.port - 4000;
}

/** The URLs in force for `cfg`, configured or embedded. */
export function serverUrls(cfg: ClusterConfig): ServerUrls {
  return { nats: natsUrl(cfg), clickhouse: clickhouseUrl(cfg), redis: redisUrl(cfg) };
}

/** Files of one embedded server: its directory, pid file and logs (the most telling first). */
export function serverPaths(cfg: ClusterConfig, name: ServerName): { dir: string; pidFile: string; logFiles: string[] } {
  const dir = path.join(dataDir(cfg), name);
  const pidFile = path.join(runDir(cfg), `${name}.pid`);
  if (name === 'clickhouse') {
    const logs = path.join(dir, 'log');
    return { dir, pidFile, logFiles: ['clickhouse-server.err.log', 'stdout.log'].map((f) => path.join(logs, f)) };
  }
  return { dir, pidFile, logFiles: [path.join(dir, `${name}.log`)] };
}

type Probe = 'yes' | 'no' | 'other';

interface Definition {
  binary: string;
  port(cfg: ClusterConfig): number;
  configured(cfg: ClusterConfig): string | undefined;
  /** Is the right kind of server on the port (`yes`), nothing (`no`), or something else (`other`)? */
  probe(cfg: ClusterConfig): Promise<Probe>;
  /** Ready for clients: a stricter check than `probe` where the server has one. */
  ready(cfg: ClusterConfig): Promise<boolean>;
  /** Writes the generated config files; returns the arguments and the file for stdout/stderr. */
  prepare(cfg: ClusterConfig, dir: string): { args: string[]; stdio: string };
}

const DEFINITIONS: Record<ServerName, Definition> = {
  nats: {
    binary: 'nats-server',
    port: (cfg) => cfg.nats.port,
    configured: (cfg) => cfg.nats.url,
    probe: async (cfg) => classify(await exchange(cfg.nats.port), (s) => s.startsWith('INFO ')),
    ready: async (cfg) => httpOk(`http://127.0.0.1:${natsMonitorPort(cfg)}/healthz?js-enabled-only=true`),
    prepare(cfg, dir) {
      const conf = path.join(dir, 'nats.conf');
      writeFileSync(conf, natsConf(cfg, dir));
      return { args: ['-c', conf], stdio: path.join(dir, 'nats.log') };
    },
  },
  clickhouse: {
    binary: 'clickhouse-server',
    port: (cfg) => cfg.clickhouse.httpPort,
    configured: (cfg) => cfg.clickhouse.url,
    async probe(cfg) {
      if (await clickhousePing(`http://127.0.0.1:${cfg.clickhouse.httpPort}`)) return 'yes';
      return (await exchange(cfg.clickhouse.httpPort, undefined, false)) === null ? 'no' : 'other';
    },
    ready: (cfg) => clickhousePing(`http://127.0.0.1:${cfg.clickhouse.httpPort}`),
    prepare(cfg, dir) {
      mkdirSync(path.join(dir, 'log'), { recursive: true });
      const conf = path.join(dir, 'config.xml');
      writeFileSync(conf, clickhouseConfigXml(cfg, dir));
      writeFileSync(path.join(dir, 'users.xml'), CLICKHOUSE_USERS_XML);
      return { args: [`--config-file=${conf}`], stdio: path.join(dir, 'log', 'stdout.log') };
    },
  },
  redis: {
    binary: 'redis-server',
    port: (cfg) => cfg.redis.port,
    configured: (cfg) => cfg.redis.url,
    // LOADING and NOAUTH still mean "a Redis is here": starting a second one could only fail.
    probe: async (cfg) => classify(await exchange(cfg.redis.port, 'PING\r\n'), (s) => /^(\+PONG|-LOADING|-NOAUTH)/.test(s)),
    ready: async (cfg) => (await exchange(cfg.redis.port, 'PING\r\n'))?.startsWith('+PONG') === true,
    prepare(cfg, dir) {
      const args = ['--port', String(cfg.redis.port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''];
      return { args, stdio: path.join(dir, 'redis.log') };
    },
  },
};

function natsConf(cfg: ClusterConfig, dir: string): string {
  return [
    '# Generated by affstream (cli/servers.ts) at every start; edit that file, not this one.',
    `listen: "127.0.0.1:${cfg.nats.port}"`,
    `http: "127.0.0.1:${natsMonitorPort(cfg)}"`,
    // Edges publish batches of up to thousands of events per message.
    'max_payload: 8MB',
    `jetstream { store_dir: ${JSON.stringify(dir)} }`,
    '',
  ].join('\n');
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clickhouseConfigXml(cfg: ClusterConfig, dir: string): string {
  const d = xml(dir.endsWith('/') ? dir : `${dir}/`);
  return `<?xml version="1.0"?>
<!-- Generated by affstream (cli/servers.ts) at every start; edit that file, not this one. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>${d}log/clickhouse-server.log</log>
        <errorlog>${d}log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>${cfg.clickhouse.httpPort}</http_port>
    <tcp_port>${cfg.clickhouse.tcpPort}</tcp_port>
    <!-- No interserver_http_port: one server, no replication. -->
    <path>${d}</path>
    <tmp_path>${d}tmp/</tmp_path>
    <user_files_path>${d}user_files/</user_files_path>
    <format_schema_path>${d}format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <!-- Reports count UTC days whatever the host's zone. -->
    <timezone>UTC</timezone>
    <!-- Longer than @clickhouse/client's idle socket TTL (2.5 s), so the client closes first. -->
    <keep_alive_timeout>10</keep_alive_timeout>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <!-- Honoured from ClickHouse 20.x; 18.16 ignores it and relies on the profile limits in users.xml. -->
    <max_server_memory_usage>4000000000</max_server_memory_usage>
</yandex>
`;
}

const CLICKHOUSE_USERS_XML = `<?xml version="1.0"?>
<!-- Generated by affstream (cli/servers.ts) at every start; edit that file, not this one. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <max_memory_usage_for_all_queries>4000000000</max_memory_usage_for_all_queries>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`;

/**
 * Connects to 127.0.0.1:`port`, optionally sends `send`, and returns the first bytes received:
 * null when nothing listens, '' when the peer stays silent or hangs up. With `readReply` false
 * it only checks that the port accepts connections.
 */
function exchange(port: number, send?: string, readReply = true, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    let connected = false;
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (v: string | null): void => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(connected ? '' : null));
    socket.once('connect', () => {
      connected = true;
      if (!readReply) done('');
      else if (send !== undefined) socket.write(send);
    });
    socket.once('data', (chunk) => done(chunk.toString('latin1')));
    socket.once('error', () => done(connected ? '' : null));
    socket.once('end', () => done(''));
  });
}

function classify(answer: string | null, isIt: (s: string) => boolean): Probe {
  if (answer === null) return 'no';
  return isIt(answer) ? 'yes' : 'other';
}

async function clickhousePing(base: string): Promise<boolean> {
  try {
    const { status, body } = await httpCall('GET', new URL('/ping', base));
    return status === 200 && body.trim() === 'Ok.';
  } catch {
    return false;
  }
}

/** Finds `name` on PATH or in the sbin directories Debian installs servers into. */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Pids this process stopped on purpose, so their exit is not reported through `onExit`. Never
 * pruned: the exit event can arrive after `terminate` has already seen the process gone.
 */
const stopping = new Set<number>();

/**
 * Makes one server available: nothing to do when its URL is configured or a server of that kind
 * already answers on its port; otherwise starts it detached (its own process group, so a Ctrl-C
 * in the terminal reaches only us and we stop things in order), writes its pid file and waits
 * until it answers. Throws {@link ServerError} with the tail of its log when it does not.
 */
export async function startServer(cfg: ClusterConfig, name: ServerName, opts: StartOptions = {}): Promise<ServerMode> {
  const def = DEFINITIONS[name];
  const log = opts.log ?? (() => {});
  if (def.configured(cfg) !== undefined) return 'external';
  const port = def.port(cfg);
  const found = await def.probe(cfg);
  if (found === 'yes') {
    log(`${name}: using the server already answering on port ${port} (left running on exit)`);
    return 'reused';
  }
  if (found === 'other') {
    throw new ServerError('port_in_use', name, `${name}: port ${port} is taken by a program that is not ${def.binary}; free it, choose another port in cluster.config.ts, or set the server's URL`);
  }
  const binary = findBinary(def.binary);
  if (binary === undefined) {
    throw new ServerError('server_missing', name, `${name}: ${def.binary} is not installed; run \`sh scripts/bootstrap.sh\` (installs it) or set the server's URL`);
  }

  const paths = serverPaths(cfg, name);
  mkdirSync(paths.dir, { recursive: true });
  mkdirSync(runDir(cfg), { recursive: true });
  const { args, stdio } = def.prepare(cfg, paths.dir);
  const out = openSync(stdio, 'a');
  const child = spawn(binary, args, { cwd: paths.dir, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exit: string | undefined;
  child.once('error', (err) => (exit = err.message));
  child.once('exit', (code, sig) => (exit = sig ? `killed by ${sig}` : `exited with code ${code}`));
  const pid = child.pid;
  if (pid === undefined) throw new ServerError('server_start_failed', name, `${name}: could not run ${binary}`);
  writePidFile(paths.pidFile, pid);

  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let ready = false;
  while (exit === undefined && !(ready = await def.ready(cfg)) && Date.now() < deadline) await sleep(100);
  if (!ready) {
    if (exit === undefined) await terminate(pid);
    removeFile(paths.pidFile);
    const why = exit ?? `did not answer within ${timeoutMs / 1000} s`;
    throw await startFailure(name, `${name}: ${def.binary} ${why}`, paths.logFiles, stdio);
  }

  // The child may outlive this process (a test may restart a server that the suite's setup stops).
  child.unref();
  const onExit = opts.onExit;
  if (onExit) {
    child.once('exit', (code, sig) => {
      if (!stopping.has(pid)) onExit(name, code, sig);
    });
  }
  log(`${name}: started ${def.binary} on port ${port} (pid ${pid}, data ${paths.dir})`);
  return 'started';
}

/** The error for a server that did not come up, quoting the first of its logs that says anything. */
async function startFailure(name: ServerName, headline: string, logFiles: string[], stdio: string): Promise<ServerError> {
  const files = [...new Set([...logFiles, stdio])];
  for (const file of files) {
    const lines = await tail(file, 20);
    if (lines !== '') return new ServerError('server_start_failed', name, `${headline}\nlast lines of ${file}:\n${lines.replace(/^/gm, '  ')}`, file);
  }
  return new ServerError('server_start_failed', name, `${headline} (nothing logged in ${files.join(', ')})`, files[0]);
}

/**
 * The pid of the server `<dataDir>/run/<name>.pid` names while it runs, whichever process started
 * it; undefined when there is none (not started by this project, or gone). Pids are reused: a pid
 * file naming a live process of another program counts as none.
 */
export function serverPid(cfg: ClusterConfig, name: ServerName): number | undefined {
  const pid = readPidFile(serverPaths(cfg, name).pidFile);
  return pid !== undefined && isAliveAs(pid, DEFINITIONS[name].binary) ? pid : undefined;
}

/**
 * Stops the server that `<dataDir>/run/<name>.pid` names (SIGTERM, up to `graceMs`, then SIGKILL)
 * whichever process started it. False when there was none: not started by this project, or
 * already gone (the stale pid file is removed).
 */
export async function stopServer(cfg: ClusterConfig, name: ServerName, graceMs = 10_000): Promise<boolean> {
  const { pidFile } = serverPaths(cfg, name);
  const pid = serverPid(cfg, name);
  if (pid === undefined) {
    removeFile(pidFile);
    return false;
  }
  stopping.add(pid);
  await terminate(pid, graceMs);
  removeFile(pidFile);
  return true;
}

/**
 * Makes all three servers available (in parallel) as {@link startServer} does. When one fails,
 * the others it started are stopped again and the first error is thrown (the others are logged).
 */
export async function startServers(cfg: ClusterConfig, opts: StartOptions = {}): Promise<Servers> {
  const results = await Promise.allSettled(SERVER_NAMES.map((name) => startServer(cfg, name, opts)));
  const modes = {} as Record<ServerName, ServerMode>;
  const errors: unknown[] = [];
  SERVER_NAMES.forEach((name, i) => {
    const r = results[i] as PromiseSettledResult<ServerMode>;
    if (r.status === 'fulfilled') modes[name] = r.value;
    else errors.push(r.reason);
  });
  const stop = async (): Promise<void> => {
    await Promise.all(SERVER_NAMES.filter((name) => modes[name] === 'started').map((name) => stopServer(cfg, name)));
  };
  if (errors.length > 0) {
    await stop();
    for (const err of errors.slice(1)) opts.log?.(err instanceof Error ? err.message : String(err));
    throw errors[0];
  }
  return { urls: serverUrls(cfg), modes, stop };
}

/**
 * Checks one server the way the cluster uses it: NATS with JetStream enabled, ClickHouse over HTTP
 * with the configured credentials, Redis with INFO. Never throws.
 */
export async function pingServer(cfg: ClusterConfig, name: ServerName, timeoutMs = 3000): Promise<PingResult> {
  const url = serverUrls(cfg)[name];
  try {
    const detail =
      name === 'nats' ? await pingNats(url, timeoutMs) : name === 'clickhouse' ? await pingClickHouse(cfg, url, timeoutMs) : await pingRedis(url, timeoutMs);
    return { url, ok: true, detail };
  } catch (err) {
    return { url, ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

/** {@link pingServer} for all three, in parallel. */
export async function pingServers(cfg: ClusterConfig, timeoutMs = 3000): Promise<Record<ServerName, PingResult>> {
  const [nats, clickhouse, redis] = await Promise.all(SERVER_NAMES.map((name) => pingServer(cfg, name, timeoutMs)));
  return { nats: nats as PingResult, clickhouse: clickhouse as PingResult, redis: redis as PingResult };
}

async function pingNats(url: string, timeoutMs: number): Promise<string> {
  const nc = await connect({ servers: url, timeout: timeoutMs, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
    const account = await jsm.getAccountInfo();
    return `nats-server ${nc.info?.version ?? '?'}, JetStream on (${account.streams} streams)`;
  } finally {
    await nc.close();
  }
}

async function pingClickHouse(cfg: ClusterConfig, url: string, timeoutMs: number): Promise<string> {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || cfg.clickhouse.user;
  const password = decodeURIComponent(u.password) || cfg.clickhouse.password;
  u.username = '';
  u.password = '';
  u.searchParams.set('query', 'SELECT version()');
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const { status, body } = await httpCall('GET', u, { headers: { authorization: auth }, timeoutMs });
  if (status !== 200) throw new Error(`HTTP ${status}: ${body.trim().slice(0, 200)}`);
  return `ClickHouse ${body.trim()}`;
}

async function pingRedis(url: string, timeoutMs: number): Promise<string> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() rejects with a bare "Connection is closed."; the socket error says why.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause = err));
  try {
    await redis.connect().catch((err: unknown) => {
      throw cause ?? err;
    });
    const info = await redis.info('server');
    return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`;
  } finally {
    redis.disconnect();
  }
}
