/**
 * `affstream down`: stops the `affstream up` (or `affstream servers`) running on this data
 * directory, then anything a supervisor killed without its own shutdown (SIGKILL, power loss)
 * left behind: its edges and workers, and the servers named by pid files.
 */
import { parseArgs } from 'node:util';
import { bootConfig } from '../../schema/bootConfig.ts';
import { say } from '../command.ts';
import { isAliveAs, removeFile, terminate } from '../proc.ts';
import { SERVER_NAMES, stopServer } from '../servers.ts';
import { livePid, readUpState, upFiles } from '../upState.ts';

export const name = 'down';
export const summary = 'stop what `affstream up` started';
export const help = `Usage: affstream down

Sends SIGTERM to the running \`affstream up\` (pid in <dataDir>/run/up.pid), which stops edges,
workers and the servers it started, and waits for it (SIGKILL after 60 s). Also stops a running
\`affstream servers\`, and the edges, workers and servers a supervisor that died without
cleaning up left running. Servers that \`up\` did not start itself are left alone.

Options:
  -h, --help   show this text
`;

/** The supervisor stops edges (10 s), workers (30 s) and servers (10 s) in turn. */
const SUPERVISOR_GRACE_MS = 60_000;

/** Runs `affstream down`. */
export async function run(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: {} });
  const cfg = await bootConfig();
  const files = upFiles(cfg);
  let found = false;
  for (const [label, pidFile] of [
    ['up', files.pidFile],
    ['servers', files.serversPidFile],
  ] as const) {
    const pid = livePid(pidFile);
    if (pid === undefined) continue;
    found = true;
    say(`stopping affstream ${label} (pid ${pid})`);
    const { killed } = await terminate(pid, SUPERVISOR_GRACE_MS);
    if (killed) say(`affstream ${label} did not stop within ${SUPERVISOR_GRACE_MS / 1000} s: killed`);
  }

  const children = readUpState(cfg)?.children ?? [];
  for (const kind of ['edge', 'worker'] as const) {
    const script = kind === 'edge' ? 'node/main.ts' : 'workers/main.ts';
    const left = children.filter((c) => c.kind === kind && isAliveAs(c.pid, script));
    await Promise.all(
      left.map(async (c) => {
        found = true;
        say(`stopping leftover ${kind} ${c.index} (pid ${c.pid})`);
        await terminate(c.pid);
      }),
    );
  }
  for (const server of SERVER_NAMES) {
    if (await stopServer(cfg, server)) {
      found = true;
      say(`stopped leftover ${server}`);
    }
  }
  for (const file of [files.pidFile, files.stateFile, files.serversPidFile]) removeFile(file);
  say(found ? 'down' : 'nothing was running');
  return 0;
}
