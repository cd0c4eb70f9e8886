/**
 * Test kit for integration tests: a cluster of real edge and worker processes on the suite's real
 * servers, isolated by a namespace of its own (stream, KV bucket, ClickHouse database, spool dir),
 * plus helpers to drive it and read its numbers back.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { loadConfig, type ClusterConfig } from '../../schema/config.ts';
import { migrate } from '../../schema/clickhouse/migrate.ts';
import { clickhouse, selectRows } from '../../schema/clickhouse/client.ts';
import { ensureNats } from '../../schema/natsSetup.ts';
import { runReport } from '../../schema/reports/index.ts';
import { PROJECT_ROOT } from '../../cli/servers.ts';

/**
 * The environment that says where the suite's servers are: external URLs, or the ports of the
 * embedded ones (another checkout's suite may be running on the default ports at the same time).
 */
function serverEnv(): Record<string, string | undefined> {
  const names = ['NATS_URL', 'CLICKHOUSE_URL', 'REDIS_URL', 'AFFSTREAM_NATS_PORT', 'AFFSTREAM_CLICKHOUSE_HTTP_PORT', 'AFFSTREAM_CLICKHOUSE_TCP_PORT', 'AFFSTREAM_REDIS_PORT'];
  return Object.fromEntries(names.map((n) => [n, process.env[n]]));
}

/** Config of the servers the suite's global setup started (what `stopServer` needs). */
export function serversConfig(): ClusterConfig {
  return loadConfig({ dataDir: '.data/test' }, serverEnv());
}

/** True when the suite runs against servers it did not start (URLs in the environment): outages can't be staged. */
export const externalServers = Boolean(process.env.NATS_URL || process.env.CLICKHOUSE_URL);

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Poll `fn` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A cluster process (edge or worker) started by a test. */
export class ClusterProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(readonly kind: 'edge' | 'worker', private readonly env: Record<string, string>) {}

  /** Spawn the process; once only (a second spawn would leave the first running, unowned). */
  start(): this {
    if (this.child) throw new Error(`${this.kind} process already started (pid ${this.child.pid})`);
    const entry = this.kind === 'edge' ? 'node/main.ts' : 'workers/main.ts';
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: PROJECT_ROOT, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The exit code once the process has exited by itself, else undefined. */
  get exitCode(): number | undefined {
    return this.child?.exitCode ?? undefined;
  }

  /** Started and not exited (by itself or by a signal). */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stop with `signal` and wait for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  }
}

/** A test cluster. */
export class TestCluster {
  readonly cfg: ClusterConfig;
  readonly token = randomBytes(16).toString('hex');
  readonly processes: ClusterProcess[] = [];

  constructor(readonly name: string) {
    const namespace = `t_${name}_${randomBytes(3).toString('hex')}`;
    this.cfg = loadConfig({ namespace, dataDir: `.data/test/clusters/${namespace}`, logLevel: 'warn' }, serverEnv());
  }

  /** Create the namespace's stream, bucket and database. */
  async setup(): Promise<void> {
    await ensureNats(this.cfg);
    await migrate(this.cfg);
  }

  private env(extra: Record<string, string>): Record<string, string> {
    return {
      AFFSTREAM_NAMESPACE: this.cfg.namespace,
      AFFSTREAM_DATA_DIR: this.cfg.dataDir,
      AFFSTREAM_ADMIN_TOKEN: this.token,
      AFFSTREAM_WORKER_METRICS_PORT: '0',
      AFFSTREAM_LOG_LEVEL: 'warn',
      AFFSTREAM_FLUSH_INTERVAL_MS: '200',
      ...extra,
    };
  }

  /** Create the namespace, start a worker and one edge; resolves with the edge's port once it is ready. */
  async start(): Promise<number> {
    await this.setup();
    const port = await freePort();
    this.worker();
    await this.edge(port);
    return port;
  }

  /** PUT catalog records (`[path, body]`, e.g. `['brands/b1', {...}]`) in order; throws on any non-2xx. */
  async putAll(port: number, records: Array<[string, unknown]>): Promise<void> {
    for (const [path, body] of records) {
      const r = await this.put(port, path, body);
      if (r.status >= 300) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
    }
  }

  /** Start a worker process; `extra` is added to its environment. */
  worker(extra: Record<string, string> = {}): ClusterProcess {
    const p = new ClusterProcess('worker', this.env(extra)).start();
    this.processes.push(p);
    return p;
  }

  /** Start an edge process on `port` and wait for its `/readyz`. */
  async edge(port: number): Promise<ClusterProcess> {
    const p = new ClusterProcess('edge', this.env({ AFFSTREAM_EDGE_PORT: String(port), AFFSTREAM_EDGE_HOST: '127.0.0.1' })).start();
    this.processes.push(p);
    await waitFor(`edge on ${port} ready\n${p.output}`, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined), 60_000);
    return p;
  }

  /** PUT a catalog record through the admin API of the edge on `port`. */
  async put(port: number, path: string, body: unknown): Promise<Response> {
    return fetch(`http://127.0.0.1:${port}/api/v1/${path}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** affiliate-daily rows summed over days, brands and affiliates, for the last two UTC days. */
  async totals(): Promise<{ clicks: number; unique_clicks: number; bot_clicks: number; geo_blocked_clicks: number }> {
    const ch = clickhouse(this.cfg);
    try {
      const today = new Date().toISOString().slice(0, 10);
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const rows = await runReport(ch, 'affiliate-daily', { from: yesterday, to: today, tz: 'UTC', brand: '', affiliate: '' });
      const sum = (k: string) => rows.reduce((n, r) => n + Number(r[k]), 0);
      return { clicks: sum('clicks'), unique_clicks: sum('unique_clicks'), bot_clicks: sum('bot_clicks'), geo_blocked_clicks: sum('geo_blocked_clicks') };
    } finally {
      await ch.close();
    }
  }

  /**
   * Run `affstream <args>` in this cluster's namespace with its admin token, as a user would from
   * the project root; resolves with the exit code and both outputs (never rejects on a non-zero exit).
   */
  cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, AFFSTREAM_NAMESPACE: this.cfg.namespace, AFFSTREAM_ADMIN_TOKEN: this.token, AFFSTREAM_LOG_LEVEL: 'warn', ...extraEnv };
    return new Promise((resolve) => {
      execFile(process.execPath, ['bin/affstream.mjs', ...args], { cwd: PROJECT_ROOT, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      );
    });
  }

  /** Run a query on the namespace's database. */
  async query<T>(sql: string): Promise<T[]> {
    const ch = clickhouse(this.cfg);
    try {
      return await selectRows<T>(ch, sql);
    } finally {
      await ch.close();
    }
  }

  /** Stop every process, drop the database. */
  async teardown(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGKILL')));
    const ch = clickhouse(this.cfg, { database: null });
    await ch.command({ query: `DROP DATABASE IF EXISTS ${this.cfg.clickhouse.database}` }).catch(() => undefined);
    await ch.close();
  }
}

/** Browser-like user agent. */
export const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

/** One click: GET /c/{code} with the given headers, not following the redirect. */
export async function click(port: number, code: string, query: string, headers: Record<string, string>): Promise<{ status: number; location: string | null; setCookie: string | null; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${port}/c/${code}${query ? `?${query}` : ''}`, { redirect: 'manual', headers });
  await r.arrayBuffer();
  return { status: r.status, location: r.headers.get('location'), setCookie: r.headers.get('set-cookie'), ms: performance.now() - t0 };
}

/**
 * Send clicks from `concurrency` loops until `stop()` is called or `max` clicks were sent;
 * resolves with the statuses counted. Bounded in count by `max`.
 */
export function clickStream(port: number, code: string, opts: { concurrency: number; max: number }) {
  let stopped = false;
  const stats = { sent: 0, redirected: 0, other: 0, latencies: [] as number[] };
  const loops = Array.from({ length: opts.concurrency }, async (_, w) => {
    while (!stopped && stats.sent < opts.max) {
      const i = stats.sent++;
      try {
        const r = await click(port, code, `sub1=w${w}`, { 'user-agent': BROWSER_UA, 'x-forwarded-for': `198.51.${i % 200}.${i % 250}` });
        if (r.status === 302) stats.redirected++;
        else stats.other++;
        stats.latencies.push(r.ms);
      } catch {
        stats.other++;
      }
    }
  });
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return stats;
    },
    done: Promise.all(loops).then(() => stats),
  };
}

/** The p-quantile of `xs`. */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}
