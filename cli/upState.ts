/**
 * What a running `affstream up` leaves in `<dataDir>/run/` for `down`, `status` and `up --detach`:
 * `up.pid` (the supervisor's pid) and `up.json` ({@link UpState}: token, URLs, children's pids).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig } from '../schema/config.ts';
import { isAliveAs, readPidFile } from './proc.ts';
import { runDir, type ServerMode, type ServerName } from './servers.ts';

/** The contents of `up.json`. */
export interface UpState {
  /** The `up` process. */
  pid: number;
  /** `ready` once the edge answers /readyz and the demo catalog is loaded. */
  phase: 'starting' | 'ready' | 'stopping';
  startedAt: string;
  adminToken: string;
  /** Base URL of the edges as seen from this host. */
  edgeUrl: string;
  servers: Record<ServerName, { url: string; mode: ServerMode }>;
  children: { kind: 'edge' | 'worker'; index: number; pid: number }[];
  /** The demo brand's postback secret, when the demo catalog could be read or loaded. */
  demoPostbackSecret?: string;
}

/** Paths of the supervisor's files. */
export function upFiles(cfg: ClusterConfig): { pidFile: string; stateFile: string; serversPidFile: string; logFile: string } {
  const run = runDir(cfg);
  return {
    pidFile: path.join(run, 'up.pid'),
    stateFile: path.join(run, 'up.json'),
    serversPidFile: path.join(run, 'servers.pid'),
    logFile: path.join(path.dirname(run), 'logs', 'up.log'),
  };
}

/** The state file, or undefined when absent or unreadable. */
export function readUpState(cfg: ClusterConfig): UpState | undefined {
  try {
    return JSON.parse(readFileSync(upFiles(cfg).stateFile, 'utf8')) as UpState;
  } catch {
    return undefined;
  }
}

/** Replaces the state file atomically (readers never see half a file); owner-only, it holds the token. */
export function writeUpState(cfg: ClusterConfig, state: UpState): void {
  const file = upFiles(cfg).stateFile;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Pid of the live `affstream` process recorded in `pidFile`, if any. */
export function livePid(pidFile: string): number | undefined {
  const pid = readPidFile(pidFile);
  return pid !== undefined && isAliveAs(pid, 'affstream') ? pid : undefined;
}

/** The edge base URL for clients on this host (a wildcard listen address becomes loopback). */
export function localEdgeUrl(cfg: ClusterConfig): string {
  const host = ['0.0.0.0', '::', '[::]'].includes(cfg.edge.host) ? '127.0.0.1' : cfg.edge.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.edge.port}`;
}

/** The lines `up` prints once the cluster is ready. */
export function banner(state: UpState, cfg: ClusterConfig): string {
  const e = state.edgeUrl;
  const today = new Date().toISOString().slice(0, 10);
  const servers = (Object.entries(state.servers) as [ServerName, UpState['servers'][ServerName]][])
    .map(([name, s]) => `${name} ${s.url} (${s.mode})`)
    .join(', ');
  return [
    '',
    `affstream is up: ${cfg.edge.count} edge(s), ${cfg.worker.count} worker(s), ${cfg.partitions} partitions`,
    `  redirect     ${e}/c/demo1?sub1=test`,
    `  report       ${e}/api/v1/reports/affiliate-daily?from=${today}&to=${today}&format=csv`,
    `  metrics      ${e}/metrics`,
    `  admin token  ${state.adminToken}   (Authorization: Bearer <token> on ${e}/api/v1/…)`,
    `  servers      ${servers}`,
    '',
  ].join('\n');
}
