/** `affstream servers`: NATS, ClickHouse and Redis alone, in the foreground, for development. */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bootConfig } from '../../schema/bootConfig.ts';
import { say } from '../command.ts';
import { removeFile, writePidFile } from '../proc.ts';
import { SERVER_NAMES, runDir, startServers } from '../servers.ts';
import { upFiles } from '../upState.ts';

export const name = 'servers';
export const summary = 'run only NATS, ClickHouse and Redis in the foreground (development)';
export const help = `Usage: affstream servers

Starts NATS (JetStream), ClickHouse and Redis as \`affstream up\` does — project ports, data under
<dataDir>/, logs in each server's directory — and nothing else, then waits. Run edges and workers
yourself (\`node --import tsx node/main.ts\`), or tests against them. A server whose URL is set,
or one already answering on its port, is not started. Ctrl-C stops the servers it started.

Options:
  -h, --help   show this text
`;

/** Runs `affstream servers`. */
export async function run(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: {} });
  const cfg = await bootConfig();
  const { serversPidFile } = upFiles(cfg);
  // Listening before the servers start: a Ctrl-C during startup must still stop what was started.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  for (const s of signals) process.on(s, onSignal);
  // Signal listeners alone do not keep Node running; the interval does until a signal arrives.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    const servers = await startServers(cfg, {
      log: say,
      onExit: (server, code, sig) => say(`${server} exited unexpectedly (${sig ?? `code ${code}`}); see its log under ${cfg.dataDir}/${server}/`),
    });
    mkdirSync(runDir(cfg), { recursive: true });
    writePidFile(serversPidFile, process.pid);
    for (const server of SERVER_NAMES) say(`${server.padEnd(10)} ${servers.urls[server]} (${servers.modes[server]})`);
    say('Ctrl-C stops the servers started here');
    say(`${await stopRequested}: stopping`);
    await servers.stop();
    removeFile(serversPidFile);
    return 0;
  } finally {
    clearInterval(keepAlive);
    for (const s of signals) process.off(s, onSignal);
  }
}
