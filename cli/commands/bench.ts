/**
 * `affstream bench <scenario>`: the benchmarks of loadtest/, with their results written to
 * loadtest/results/. See loadtest/README.md for what each figure means. The module's exports are
 * a {@link Command} (cli/command.ts).
 */
import { parseArgs } from 'node:util';
import { say } from '../command.ts';
import { PROJECT_ROOT } from '../servers.ts';
import { ProcessSet } from '../../loadtest/lib/proc.ts';
import { renderMarkdown, writeResults } from '../../loadtest/lib/results.ts';
import { REDIRECT_DEFAULTS, runRedirect, type RedirectOptions } from '../../loadtest/scenarios/redirect.ts';

/** Full usage text. */
export const help = `Usage: affstream bench redirect [--duration S] [--connections N] [--links N] [--keep]

Measures click redirects side by side on a bare uWebSockets.js 302 server (the ceiling) and on a
real edge + worker in a fresh namespace (bench_<timestamp>), with wrk (when installed) and
autocannon: req/s, latency p50/p99, non-3xx answers and CPU-µs per request of the target
process. Then checks that every click the edge answered is in ClickHouse, exactly once.

Uses the servers of NATS_URL, CLICKHOUSE_URL and REDIS_URL when set, else starts (or reuses) the
project's own. Writes loadtest/results/<date>-redirect.json and .md.

Options:
  --duration S      seconds of load per target and tool (default ${REDIRECT_DEFAULTS.durationS})
  --connections N   connections per load tool (default ${REDIRECT_DEFAULTS.connections})
  --links N         links in the benchmark catalog (default ${REDIRECT_DEFAULTS.links})
  --keep            keep the bench namespace (stream, catalog, ClickHouse database) afterwards
  -h, --help        show this text

Exit code: 0 when every target is met, 1 when one is not or the run failed, 2 on bad usage,
130 when interrupted. How to read the figures: loadtest/README.md.
`;

/** Bounds of the flags: a benchmark must stay a bounded amount of load. */
const LIMITS = { duration: [1, 300], connections: [1, 10_000], links: [1, 100_000] } as const;

function intFlag(name: keyof typeof LIMITS, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const [min, max] = LIMITS[name];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return n;
}

/** The command word. */
export const name = 'bench';

/** One line for the command list. */
export const summary = 'benchmark the click redirect against a bare uWS server (results in loadtest/results/)';

/** Runs `bench` with the arguments after the command name; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  let options: RedirectOptions;
  // Everything thrown here is a usage error: an unknown flag (parseArgs) or a bad value.
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { duration: { type: 'string' }, connections: { type: 'string' }, links: { type: 'string' }, keep: { type: 'boolean' } },
    });
    if (positionals.length !== 1 || positionals[0] !== 'redirect') throw new Error('name the scenario: affstream bench redirect');
    options = {
      durationS: intFlag('duration', values.duration, REDIRECT_DEFAULTS.durationS),
      connections: intFlag('connections', values.connections, REDIRECT_DEFAULTS.connections),
      links: intFlag('links', values.links, REDIRECT_DEFAULTS.links),
      wrkThreads: REDIRECT_DEFAULTS.wrkThreads,
      keep: values.keep ?? false,
      log: say,
    };
  } catch (err) {
    say(`${err instanceof Error ? err.message : String(err)} (see affstream bench --help)`);
    return 2;
  }

  const procs = new ProcessSet(PROJECT_ROOT);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping the benchmark and everything it started…`);
    void procs.interrupt(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const results = await runRedirect(options, procs);
    const files = writeResults(results);
    process.stdout.write(`\n${renderMarkdown(results)}\n`);
    say(`results: ${files.json}, ${files.md}`);
    if (!results.pass) say('at least one target was not met (see the verdict above)');
    return results.pass ? 0 : 1;
  } catch (err) {
    if (interrupted) return 130;
    say(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await procs.stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
