/** `affstream status`: is everything up? Exit code 0 only when it is. */
import { parseArgs } from 'node:util';
import { bootConfig } from '../../schema/bootConfig.ts';
import { httpOk } from '../http.ts';
import { isAlive } from '../proc.ts';
import { SERVER_NAMES, pingServers } from '../servers.ts';
import { livePid, localEdgeUrl, readUpState, upFiles } from '../upState.ts';

export const name = 'status';
export const summary = 'check the servers, the supervisor and the edge; exit 0 when all are up';
export const help = `Usage: affstream status [--json]

Checks NATS (with JetStream), ClickHouse and Redis at the URLs in force, the \`affstream up\`
supervisor of this data directory and its processes, and the edge's GET /readyz.
Exits 0 when all of them are up, 1 otherwise.

Options:
  --json       print the result as one JSON object
  -h, --help   show this text
`;

/** Runs `affstream status`. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const cfg = await bootConfig();
  const edgeUrl = localEdgeUrl(cfg);
  const [servers, edgeReady] = await Promise.all([pingServers(cfg), httpOk(`${edgeUrl}/readyz`)]);
  const upPid = livePid(upFiles(cfg).pidFile);
  const state = upPid === undefined ? undefined : readUpState(cfg);
  const children = (state?.children ?? []).map((c) => ({ ...c, alive: isAlive(c.pid) }));
  const up = { running: upPid !== undefined, pid: upPid, phase: state?.phase, startedAt: state?.startedAt, children };
  const ok = SERVER_NAMES.every((n) => servers[n].ok) && up.running && children.every((c) => c.alive) && edgeReady;

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok, servers, up, edge: { url: edgeUrl, ready: edgeReady } }, null, 2)}\n`);
    return ok ? 0 : 1;
  }
  const row = (label: string, good: boolean, ...rest: string[]): string => `${label.padEnd(11)} ${(good ? 'up' : 'DOWN').padEnd(5)} ${rest.join('  ')}`;
  const lines = SERVER_NAMES.map((n) => row(n, servers[n].ok, servers[n].url, servers[n].detail));
  const alive = children.filter((c) => c.alive).length;
  lines.push(
    up.running
      ? row('supervisor', alive === children.length, `pid ${upPid}, ${up.phase ?? 'state unknown'} since ${up.startedAt ?? '?'}, ${alive}/${children.length} edge and worker processes alive`)
      : row('supervisor', false, 'affstream up is not running'),
    row('edge', edgeReady, `${edgeUrl}/readyz`),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return ok ? 0 : 1;
}
