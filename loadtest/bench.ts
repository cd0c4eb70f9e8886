/**
 * The benchmark harness's command: `affstream bench <scenario>` runs the scenario, with its
 * results written to loadtest/results/ (loadtest/README.md says what each figure means). The
 * product's CLI (cli/commands/bench.ts) loads this module only for that command, so the product
 * installs and runs without the harness's own packages ({@link HARNESS_PACKAGES}).
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../schema/mod.ts';
import { ProcessSet } from './lib/proc.ts';
import { renderRedirect, writeResults } from './lib/results.ts';
import { ATTRIBUTION_DEFAULTS, renderAttribution, runAttribution } from './scenarios/attribution.ts';
import { FRAUD_DEFAULTS, fraudStem, renderFraud, runFraud } from './scenarios/fraud.ts';
import { FUZZ_DEFAULTS, renderFuzz, runFuzzScenario } from './scenarios/fuzz.ts';
import { IMPORT_DEFAULTS, renderImport, runImport, TARGET_LINES_PER_S } from './scenarios/importRevenue.ts';
import { frameBytes, INGEST_DEFAULTS, renderIngest, runIngest } from './scenarios/ingest.ts';
import { MIXED_DEFAULTS, renderMixed, runMixed } from './scenarios/mixed.ts';
import { REDIRECT_DEFAULTS, runRedirect } from './scenarios/redirect.ts';
import { renderTransport, runTransport, TRANSPORT_DEFAULTS, type HttpTransport } from './scenarios/transport.ts';

/**
 * The npm packages the harness runs on that the product does not: its load tools and clients
 * (tools/autocannonChild.ts, the WebSocket clients of tools/) and the property-based testing
 * library of `fuzz`. They are devDependencies, absent from an install without them
 * (`npm ci --omit=dev`).
 */
export const HARNESS_PACKAGES = ['autocannon', 'ws', 'fast-check'] as const;

/** The {@link HARNESS_PACKAGES} that do not resolve from here: empty when the harness can run. */
export function missingPackages(): string[] {
  const require = createRequire(import.meta.url);
  return HARNESS_PACKAGES.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/** Full usage text. */
export const help = `Usage: affstream bench redirect [--duration S] [--connections N] [--links N] [--keep]
       affstream bench ingest [--duration S] [--frame N] [--window W] [--keep]
       affstream bench attribution [--rate R] [--duration S] [--keep]
       affstream bench mixed [--rate R] [--duration S | --soak M] [--seed N] [--keep]
       affstream bench postback|json|msgpack [--duration S] [--connections N] [--batch N] [--keep]
       affstream bench fraud [--rate R] [--duration S] [--warmup S] [--keep]
       affstream bench import [--lines N] [--keep]
       affstream bench fuzz [--runs N] [--seed S] [--keep]

Each scenario runs a real edge and worker (import: the CLI alone) in a fresh namespace (bench_<timestamp>) and writes
loadtest/results/<date>-<scenario>.json and .md (<date>-<scenario>-2.* for the day's second run,
and so on), with a verdict against the scenario's targets (loadtest/README.md).

redirect     click redirects side by side on a bare uWebSockets.js 302 server (the ceiling) and
             on the edge, with wrk (when installed) and autocannon: req/s, latency p50/p99,
             non-3xx answers and CPU-µs per request; then every click the edge answered must be
             in ClickHouse, exactly once.
  --duration S      seconds of load per target and tool (default ${REDIRECT_DEFAULTS.durationS})
  --connections N   connections per load tool (default ${REDIRECT_DEFAULTS.connections})
  --links N         links in the benchmark catalog (default ${REDIRECT_DEFAULTS.links})

ingest       player events over the binary WebSocket stream from ONE client process: events/s
             acknowledged (durable in JetStream), ack latency p50/p99, CPU-µs per event of the
             edge, the worker and the servers; then every acknowledged event must be in
             ClickHouse exactly once, with the exact money sums. First, the floor: the same
             client against a bare uWebSockets.js server that publishes each frame as one
             JetStream message and acks it (no work per event), then with a msgpack decode of
             every frame added, side by side with the edge.
  --duration S      seconds the client sends, to each floor server and to the edge (default ${INGEST_DEFAULTS.durationS})
  --frame N         events per frame, at most 10000 and 1 MiB (default ${INGEST_DEFAULTS.frameEvents})
  --window W        frames kept unacknowledged, 1-64 (default ${INGEST_DEFAULTS.window}, the protocol's window)

attribution  under a steady load of postbacks and JSON batches (registrations quoting clicks
             from real redirects, deposits), a probe registration every 200 ms on one of 32
             probe affiliates: time from its acceptance until the live API counts it
             (p50/p99/max), and until the ClickHouse aggregates do; then every event must be
             stored and attributed.
  --rate R          background events per second (default ${ATTRIBUTION_DEFAULTS.rate})
  --duration S      seconds of load (default ${ATTRIBUTION_DEFAULTS.durationS}, at least 3)

mixed        a casino programme's whole traffic from a seeded generator (redirects with bots and
             restricted countries, the player funnel over postbacks, JSON and msgpack batches and
             the stream, duplicates, late events, planted fraud for every rule), with end-to-end
             latency probes, a progress line every second on stderr, a chart of the run
             (loadtest/results/<date>-mixed.svg), CPU and memory per process, the worker's
             event-loop delay and its conversion latency (its /metrics); then
             affiliate-daily and the live API must equal the generator's ledger exactly (verdict
             PASS/FAIL with the differing rows), and fraud alerts are scored (precision, recall).
  --rate R          redirects + events per second in steady state (default ${MIXED_DEFAULTS.rate})
  --duration S      seconds of load (default ${MIXED_DEFAULTS.durationS})
  --soak M          soak mode: M minutes at --rate instead of --duration (1-60); results named soak
  --seed N          generator seed: the same seed replays the same traffic (default ${MIXED_DEFAULTS.seed})

postback, json, msgpack
             one event transport under autocannon: S2S GET postbacks (every request a new
             event), or signed JSON or msgpack batches of --batch events; requests/s, events/s
             accepted, latency, CPU-µs per event; then every accepted event must be in
             ClickHouse exactly once.
  --duration S      seconds of load (default ${TRANSPORT_DEFAULTS.durationS})
  --connections N   autocannon connections (default ${TRANSPORT_DEFAULTS.connections})
  --batch N         events per batch, json and msgpack (default ${TRANSPORT_DEFAULTS.batch})

fraud        under a clean background of registrations and deposits, a registration farm (six
             registrations from one IP on a fresh sub-ID) every 250 ms: time from the sixth
             registration's acceptance until GET /api/v1/fraud/pauses lists the sub-ID
             (p50/p99/max); every farm paused once, no alert on the background.
  --rate R          background events per second (default ${FRAUD_DEFAULTS.rate})
  --duration S      seconds of judged load, after the warm-up (default ${FRAUD_DEFAULTS.durationS})
  --warmup S        seconds of load before it, probed but not judged (default ${FRAUD_DEFAULTS.warmupS})

import       \`affstream import revenue\` of a generated CSV (deterministic) as its own process,
             without edge or worker: lines/s from start to exit against ${TARGET_LINES_PER_S.toLocaleString('en-US')}, and its
             memory peak (VmHWM); the same file again (a duplicate, nothing written); the same
             import under a 128 MiB heap limit (bounded memory); an import killed with SIGKILL
             half-way and run again: every line exactly once (FINAL and revenue_current).
             AFFSTREAM_BENCH_CPU_PROF=import profiles the measured import.
  --lines N         lines of the file (default ${IMPORT_DEFAULTS.lines.toLocaleString('en-US')})

fuzz         every endpoint under random and hostile input from fast-check properties: redirects,
             postbacks, JSON and msgpack batches (signed and not), the pixel, WebSocket stream
             frames, the admin API, raw bytes on TCP. No 5xx, every request and frame answered,
             every 4xx a JSON code, the documented answer where the protocol names one; the edge
             and the worker still running (same pids), GET /healthz 200 after every target; then
             ClickHouse must hold exactly the events the edge accepted, each once, and no refused
             one (partial writes 0). A violation is shrunk to a minimal input, reported with the
             seed and path that replay it.
  --runs N          inputs per target (default ${FUZZ_DEFAULTS.runs.toLocaleString('en-US')}; 1-100000)
  --seed S          fast-check's seed: the same seed generates the same inputs (default ${FUZZ_DEFAULTS.seed})

Every scenario:
  --keep            keep the bench namespace (stream, catalog, ClickHouse database, Redis keys)
  -h, --help        show this text

Uses the servers of NATS_URL, CLICKHOUSE_URL and REDIS_URL when set, else starts (or reuses) the
project's own. Exit code: 0 when every target is met, 1 when one is not or the run failed, 2 on
bad usage, 130 when interrupted. How to read the figures: loadtest/README.md.
`;

/** Bounds of the flags: a benchmark must stay a bounded amount of load. */
const LIMITS = {
  duration: [1, 300],
  connections: [1, 10_000],
  links: [1, 100_000],
  frame: [1, 10_000],
  window: [1, 64],
  rate: [1, 100_000],
  seed: [0, 2 ** 31 - 1],
  batch: [1, 10_000],
  soak: [1, 60],
  warmup: [0, 300],
  lines: [1_000, 10_000_000],
  runs: [1, 100_000],
} as const;
type Flag = keyof typeof LIMITS;

function intFlag(name: Flag, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const [min, max] = LIMITS[name];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return n;
}

/** What a scenario returns to the command: its results (the JSON file), their Markdown, and the verdict. */
interface Outcome {
  results: { scenario: string; date: string };
  markdown: string;
  pass: boolean;
  /** File name of the results when not `<date>-<scenario>`. */
  stem?: string;
}

/** A scenario: the flags it takes, and how it runs once they are parsed. */
interface Scenario {
  flags: readonly Flag[];
  /** Checks the flags (throwing is a usage error) and returns the run. */
  prepare(values: Partial<Record<Flag, string>>, keep: boolean, log: (line: string) => void): (procs: ProcessSet) => Promise<Outcome>;
}

const SCENARIOS: Record<string, Scenario> = {
  redirect: {
    flags: ['duration', 'connections', 'links'],
    prepare(values, keep, log) {
      const options = {
        durationS: intFlag('duration', values.duration, REDIRECT_DEFAULTS.durationS),
        connections: intFlag('connections', values.connections, REDIRECT_DEFAULTS.connections),
        links: intFlag('links', values.links, REDIRECT_DEFAULTS.links),
        wrkThreads: REDIRECT_DEFAULTS.wrkThreads,
        keep,
        log,
      };
      return async (procs) => {
        const results = await runRedirect(options, procs);
        return { results, markdown: renderRedirect(results), pass: results.pass };
      };
    },
  },
  ingest: {
    flags: ['duration', 'frame', 'window'],
    prepare(values, keep, log) {
      const options = {
        durationS: intFlag('duration', values.duration, INGEST_DEFAULTS.durationS),
        frameEvents: intFlag('frame', values.frame, INGEST_DEFAULTS.frameEvents),
        window: intFlag('window', values.window, INGEST_DEFAULTS.window),
        keep,
        log,
      };
      const bytes = frameBytes(options.frameEvents);
      if (bytes > 1024 * 1024) throw new Error(`--frame ${options.frameEvents}: a frame would be ${bytes} bytes, over the edge's 1 MiB limit`);
      return async (procs) => {
        const results = await runIngest(options, procs);
        return { results, markdown: renderIngest(results), pass: results.pass };
      };
    },
  },
  fraud: {
    flags: ['rate', 'duration', 'warmup'],
    prepare(values, keep, log) {
      const options = {
        rate: intFlag('rate', values.rate, FRAUD_DEFAULTS.rate),
        durationS: intFlag('duration', values.duration, FRAUD_DEFAULTS.durationS),
        warmupS: intFlag('warmup', values.warmup, FRAUD_DEFAULTS.warmupS),
        keep,
        log,
      };
      return async (procs) => {
        const results = await runFraud(options, procs);
        return { results, markdown: renderFraud(results), pass: results.pass, stem: fraudStem(results) };
      };
    },
  },
  attribution: {
    flags: ['rate', 'duration'],
    prepare(values, keep, log) {
      const options = {
        rate: intFlag('rate', values.rate, ATTRIBUTION_DEFAULTS.rate),
        durationS: intFlag('duration', values.duration, ATTRIBUTION_DEFAULTS.durationS),
        keep,
        log,
      };
      // The probes start 2 s into the load (their clicks are made 2 s before they register).
      if (options.durationS < 3) throw new Error('--duration must be at least 3 for bench attribution');
      return async (procs) => {
        const results = await runAttribution(options, procs);
        return { results, markdown: renderAttribution(results), pass: results.pass };
      };
    },
  },
  ...Object.fromEntries(
    (['postback', 'json', 'msgpack'] as const).map((transport: HttpTransport): [string, Scenario] => [
      transport,
      {
        flags: transport === 'postback' ? ['duration', 'connections'] : ['duration', 'connections', 'batch'],
        prepare(values, keep, log) {
          const options = {
            transport,
            durationS: intFlag('duration', values.duration, TRANSPORT_DEFAULTS.durationS),
            connections: intFlag('connections', values.connections, TRANSPORT_DEFAULTS.connections),
            batch: intFlag('batch', values.batch, TRANSPORT_DEFAULTS.batch),
            keep,
            log,
          };
          return async (procs) => {
            const results = await runTransport(options, procs);
            return { results, markdown: renderTransport(results), pass: results.pass };
          };
        },
      },
    ]),
  ),
  import: {
    flags: ['lines'],
    prepare(values, keep, log) {
      const options = { lines: intFlag('lines', values.lines, IMPORT_DEFAULTS.lines), keep, log };
      return async (procs) => {
        const results = await runImport(options, procs);
        return { results, markdown: renderImport(results), pass: results.pass };
      };
    },
  },
  fuzz: {
    flags: ['runs', 'seed'],
    prepare(values, keep, log) {
      const options = { runs: intFlag('runs', values.runs, FUZZ_DEFAULTS.runs), seed: intFlag('seed', values.seed, FUZZ_DEFAULTS.seed), keep, log };
      return async (procs) => {
        const results = await runFuzzScenario(options, procs);
        return { results, markdown: renderFuzz(results), pass: results.pass };
      };
    },
  },
  mixed: {
    flags: ['rate', 'duration', 'soak', 'seed'],
    prepare(values, keep, log) {
      if (values.duration !== undefined && values.soak !== undefined) throw new Error('give --duration or --soak, not both');
      const soakMinutes = values.soak === undefined ? undefined : intFlag('soak', values.soak, 1);
      const options = {
        rate: intFlag('rate', values.rate, MIXED_DEFAULTS.rate),
        durationS: soakMinutes === undefined ? intFlag('duration', values.duration, MIXED_DEFAULTS.durationS) : soakMinutes * 60,
        seed: intFlag('seed', values.seed, MIXED_DEFAULTS.seed),
        soak: soakMinutes !== undefined,
        keep,
        log,
      };
      return async (procs) => {
        const results = await runMixed(options, procs);
        return { results, markdown: renderMixed(results), pass: results.pass, stem: results.stem };
      };
    },
  },
};

/**
 * Runs `affstream bench` with the arguments after the command name, `say` printing the harness's
 * progress and error lines; resolves to the exit code.
 */
export async function run(argv: string[], say: (line: string) => void): Promise<number> {
  let start: (procs: ProcessSet) => Promise<Outcome>;
  // Everything thrown here is a usage error: an unknown flag (parseArgs) or a bad value.
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(Object.keys(LIMITS).map((flag) => [flag, { type: 'string' as const }])),
        keep: { type: 'boolean' },
      },
    });
    const scenario = positionals.length === 1 ? SCENARIOS[positionals[0] as string] : undefined;
    if (!scenario) throw new Error(`name one scenario: affstream bench ${Object.keys(SCENARIOS).join('|')}`);
    const { keep, ...flags } = values as Partial<Record<Flag, string>> & { keep?: boolean };
    const foreign = Object.keys(flags).filter((flag) => !scenario.flags.includes(flag as Flag));
    if (foreign.length > 0) throw new Error(`bench ${positionals[0]} does not take ${foreign.map((f) => `--${f}`).join(', ')}`);
    start = scenario.prepare(flags, keep ?? false, say);
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
    const { results, markdown, pass, stem } = await start(procs);
    const files = writeResults(results, markdown, undefined, stem);
    process.stdout.write(`\n${markdown}\n`);
    say(`results: ${files.json}, ${files.md}`);
    if (!pass) say('at least one target was not met (see the verdict above)');
    return pass ? 0 : 1;
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
