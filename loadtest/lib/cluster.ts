/**
 * The cluster a benchmark runs against: the project's servers (started or reused as `affstream up`
 * does), and an edge and a worker started as separate processes in a fresh namespace, with their
 * logs and spool in a directory of their own. Every scenario sets it up and tears it down the same
 * way, through this class.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { bootConfig, type ClusterConfig, dataDir, ensureNats, migrate, PROJECT_ROOT, type Servers, startServers } from '../../schema/mod.ts';
import { httpOk } from './http.ts';
import { benchNamespace, dropNamespace } from './namespace.ts';
import { freePorts, waitFor } from './net.ts';
import { serverPids, type Child, type ProcessSet } from './proc.ts';
import { gitState, machine, type Machine } from './results.ts';

/** How long a started process may take to answer. */
const READY_TIMEOUT_MS = 30_000;

/** `node --import tsx <script>`, resolved from the project root. */
export function nodeScript(script: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, script), ...args]];
}

/** One benchmark run's namespace, servers, edge and worker. */
export class BenchCluster {
  /** The servers, once {@link startServers} ran. */
  private servers: Servers | undefined;

  private constructor(
    /** `bench_<timestamp>`. */
    readonly namespace: string,
    /** The namespace's config: the harness and its children derive it from the same environment. */
    readonly cfg: ClusterConfig,
    /** The deployment's own config, for the servers: they live where `affstream up` keeps them. */
    readonly serverCfg: ClusterConfig,
    /** `<dataDir>/bench/<namespace>/`: logs, spool, scratch files. */
    readonly workDir: string,
    /** Environment of the edge and the worker. */
    readonly env: Record<string, string>,
    readonly adminToken: string,
    /** `http://127.0.0.1:<port>` of the edge. */
    readonly edgeUrl: string,
    /** `http://127.0.0.1:<port>` of the worker's metrics server. */
    readonly workerUrl: string,
  ) {}

  /** Picks the namespace, the directory and the ports of a run started at `started`; starts nothing. */
  static async prepare(started: Date): Promise<BenchCluster> {
    const namespace = benchNamespace(started);
    const serverCfg = await bootConfig();
    const workDir = path.join(dataDir(serverCfg), 'bench', namespace);
    mkdirSync(workDir, { recursive: true });
    const [edgePort, workerMetricsPort] = (await freePorts(2)) as [number, number];
    const adminToken = randomBytes(24).toString('base64url');
    const env = {
      AFFSTREAM_NAMESPACE: namespace,
      AFFSTREAM_ADMIN_TOKEN: adminToken,
      // The edge spools under <dataDir>/spool and adopts spools of dead edges it finds there: a
      // directory of its own keeps the benchmark from replaying another cluster's clicks.
      AFFSTREAM_DATA_DIR: workDir,
      AFFSTREAM_EDGE_HOST: '127.0.0.1',
      AFFSTREAM_EDGE_PORT: String(edgePort),
      AFFSTREAM_WORKER_METRICS_PORT: String(workerMetricsPort),
      AFFSTREAM_LOG_LEVEL: 'warn',
    };
    const cfg = await bootConfig({}, { ...process.env, ...env });
    return new BenchCluster(namespace, cfg, serverCfg, workDir, env, adminToken, `http://127.0.0.1:${edgePort}`, `http://127.0.0.1:${workerMetricsPort}`);
  }

  /** The edge's log (pino, level warn). */
  get edgeLog(): string {
    return path.join(this.workDir, 'edge.log');
  }

  /** The worker's log (pino, level warn). */
  get workerLog(): string {
    return path.join(this.workDir, 'worker.log');
  }

  /** Starts (or reuses) NATS, ClickHouse and Redis. */
  async startServers(log: (line: string) => void): Promise<void> {
    this.servers = await startServers(this.serverCfg, { log });
  }

  /** Waits until GET `url` answers 200, or a child dies, or {@link READY_TIMEOUT_MS} passes. */
  ready(procs: ProcessSet, what: string, url: string): Promise<true> {
    return procs.guard(waitFor(what, async () => ((await httpOk(url)) ? true : undefined), READY_TIMEOUT_MS));
  }

  /** The processes whose CPU a scenario measures: the edge, the worker and the servers, by name. */
  measured(edge: Child, worker: Child): [string, number][] {
    return [['edge', edge.pid], ['worker', worker.pid], ...Object.entries(serverPids(this.serverCfg)).map(([name, pid]) => [name, pid] as [string, number])];
  }

  /** Migrates ClickHouse and creates the stream for the namespace, then starts a worker and an edge and waits for both. */
  async startNodes(procs: ProcessSet): Promise<{ edge: Child; worker: Child }> {
    await procs.guard(Promise.all([migrate(this.cfg), ensureNats(this.cfg)]));
    const worker = procs.spawn('worker', ...this.profiled('worker', nodeScript('workers/main.ts')), { env: this.env, output: this.workerLog, service: true });
    const edge = procs.spawn('edge', ...this.profiled('edge', nodeScript('node/main.ts')), { env: this.env, output: this.edgeLog, service: true });
    await Promise.all([this.ready(procs, 'the edge', `${this.edgeUrl}/readyz`), this.ready(procs, 'the worker', `${this.workerUrl}/readyz`)]);
    return { edge, worker };
  }

  /**
   * `AFFSTREAM_BENCH_CPU_PROF=edge,worker` (either or both) writes V8 CPU profiles of that process
   * into `<run directory>/<name>-cpuprofile/` when it stops: where the CPU of a benchmark went,
   * under its own load. One file per thread; the largest is the process's main thread (the other
   * is the TypeScript loader's).
   */
  private profiled(name: 'edge' | 'worker', [command, args]: [string, string[]]): [string, string[]] {
    const wanted = (process.env.AFFSTREAM_BENCH_CPU_PROF ?? '').split(',').map((s) => s.trim());
    if (!wanted.includes(name)) return [command, args];
    return [command, ['--cpu-prof', `--cpu-prof-dir=${path.join(this.workDir, `${name}-cpuprofile`)}`, ...args]];
  }

  /**
   * Stops every child, drops the namespace (its stream, catalog bucket, ClickHouse database and
   * Redis keys) unless `keep`, and stops the servers this run started.
   */
  async close(procs: ProcessSet, keep: boolean, log: (line: string) => void): Promise<void> {
    await procs.stopAll();
    // Without servers nothing of the namespace was created.
    if (!this.servers) return;
    if (!keep) {
      await dropNamespace(this.cfg).catch((err: unknown) => log(`could not drop namespace ${this.namespace}: ${err instanceof Error ? err.message : String(err)}`));
    } else {
      log(`kept namespace ${this.namespace} (stream, catalog bucket, ClickHouse database ${this.cfg.clickhouse.database}, Redis keys ${this.namespace}:*) for inspection`);
    }
    await this.servers?.stop();
  }
}

/** The start of a scenario's run. */
export interface RunStart {
  started: Date;
  /** The machine, read before the run's own processes add to its load average. */
  host: Machine;
  /** The commit, read before the run writes any result file. */
  git: { commit: string; dirty: boolean };
  /** The run's own namespace and ports. */
  cluster: BenchCluster;
  /** A postback secret for the run's brands. */
  secret: string;
}

/** What every scenario does first: note when, on what and on which commit, and prepare its cluster. */
export async function beginRun(started = new Date()): Promise<RunStart> {
  const host = machine();
  const git = gitState(PROJECT_ROOT);
  const cluster = await BenchCluster.prepare(started);
  return { started, host, git, cluster, secret: randomBytes(18).toString('base64url') };
}
