/**
 * `affstream bench <scenario>`: the benchmarks of loadtest/, with their results written to
 * loadtest/results/ (loadtest/README.md). The harness is not part of the product: it lives in
 * loadtest/bench.ts, uses the product only through its public module (schema/mod.ts), the CLI and
 * the HTTP API, and runs on devDependencies. This module loads it when it is itself loaded — for
 * `bench`, its help and the command list, never for another command — so the product installs
 * and runs without it (`npm ci --omit=dev`); then `bench` says how to get it and exits 2. The
 * module's exports are a `Command` (cli/command.ts).
 */
import { say } from '../command.ts';

type Harness = typeof import('../../loadtest/bench.ts');

const MISSING = 'run npm install (dev dependencies) to use bench';

/** The harness, or why it cannot run. */
async function loadHarness(): Promise<Harness | string> {
  let harness: Harness;
  try {
    harness = await import('../../loadtest/bench.ts');
  } catch (err) {
    // The harness's files missing from this install; any other failure is a bug to show whole.
    if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') return `the benchmark harness is not installed (${(err as Error).message}): ${MISSING}`;
    throw err;
  }
  const missing = harness.missingPackages();
  return missing.length === 0 ? harness : `the benchmark harness needs ${missing.join(' and ')}, not installed: ${MISSING}`;
}

const harness = await loadHarness();

/** The command word. */
export const name = 'bench';

/** One line for the command list. */
export const summary = 'benchmark redirects, event ingestion and the revenue import against their targets (results in loadtest/results/)';

/** Full usage text: the harness's, or what is missing for it. */
export const help = typeof harness === 'string' ? `Usage: affstream bench <scenario> [options]\n\n${harness}.\n` : harness.help;

/** Runs `bench` with the arguments after the command name; resolves to the exit code (2 without the harness). */
export async function run(argv: string[]): Promise<number> {
  if (typeof harness === 'string') {
    say(harness);
    return 2;
  }
  return harness.run(argv, say);
}
