/**
 * What a benchmark run produces and where it goes: the figures' types, the machine they were
 * measured on, and the `loadtest/results/<date>-<scenario>.{json,md}` files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CpuSpan, MachineCpu } from './proc.ts';

/** `loadtest/results/`. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** What one load tool reports about one run. */
export interface ToolResult {
  /** Responses received. */
  requests: number;
  /** Responses with a 3xx status. */
  redirects: number;
  /** Responses that were not 3xx, plus requests that failed (connect, read, write errors, timeouts). */
  non3xx: number;
  /** Of which failed at the socket level or timed out. */
  socketErrors: number;
  /** Seconds the tool actually ran. */
  durationS: number;
  latencyMs: { p50: number; p99: number };
}

/** One target × tool measurement. */
export interface LoadRun extends ToolResult {
  /** The bare uWS 302 server, the same redirect on node:http, or the edge. */
  target: 'bare' | 'node-http' | 'edge';
  tool: 'wrk' | 'autocannon';
  connections: number;
  /** Responses per second. */
  reqPerSec: number;
  /** CPU time the target process used during the run, µs. */
  targetCpuMicros: number;
  /** {@link targetCpuMicros} per response. */
  cpuMicrosPerRequest: number;
  /** Edge runs: CPU µs per response the worker spent meanwhile (it competes for the same cores). */
  workerCpuMicrosPerRequest?: number;
}

/** Were all clicks of the edge runs acknowledged by JetStream and written by the worker? */
export interface ClickAccounting {
  /** 3xx responses the load tools counted against the edge. */
  toolRedirects: number;
  /** Sum of the edge's `clicks_total` over every status. */
  edgeClicks: number;
  /** Rows in the bench namespace's ClickHouse `clicks` table. */
  clickhouseRows: number;
  /** Distinct click ids among those rows: fewer than the rows means a click was written twice. */
  distinctClickIds: number;
  /** The edge's `spool_depth` when counting (batches not yet in JetStream). */
  spoolDepth: number;
  /** JetStream publishes the edge made (count of its publish-latency histogram): clicks per publish shows how well it batches. */
  jetstreamPublishes: number;
  /**
   * Clicks the edge may have recorded that no tool counted as a 302: one request per connection
   * in flight when a tool stops reading, plus requests the tools gave up on (timeouts, resets).
   */
  inFlightAllowance: number;
  /** From the end of the last load run until ClickHouse held every click, ms. */
  settleMs: number;
  ok: boolean;
  detail: string;
}

/** One target of a scenario, judged. */
export interface Verdict {
  target: string;
  required: string;
  measured: string;
  /** null when it could not be measured (e.g. wrk not installed). */
  pass: boolean | null;
}

/** Problems the edge and worker logged during the run. */
export interface LogSummary {
  file: string;
  warnings: number;
  errors: number;
  /** The first distinct messages at warn level or above. */
  samples: string[];
}

/** CPU time one process used during one window of a run. */
export interface ProcessCpu {
  /** "edge", "worker", "nats", "stream client"… */
  process: string;
  /** CPU time (user + system, all threads), s. */
  cpuS: number;
  /** {@link cpuS} over the window's wall time: 1 = one core busy the whole window. */
  cores: number;
  /** {@link cpuS} per event of the run, µs (the events the figure is about: acknowledged, or sent). */
  microsPerEvent: number;
}

/** The CPU of every process measured over one window (the load, the drain after it). */
export interface CpuWindow {
  window: string;
  wallS: number;
  processes: ProcessCpu[];
  /** The machine's CPU outside {@link processes} (other programs, the harness, the kernel, steal), in cores. */
  otherCores: number;
  /** Of {@link otherCores}, the CPU the hypervisor gave to other guests (steal), in cores. */
  stealCores: number;
}

/** A {@link CpuWindow}: `otherCores` is what the machine used beyond the processes listed. */
export function cpuWindow(window: string, wallS: number, processes: ProcessCpu[], machine: MachineCpu): CpuWindow {
  const ours = processes.reduce((n, p) => n + p.cpuS, 0);
  const cores = (micros: number) => (wallS > 0 ? Math.max(0, micros) / 1e6 / wallS : 0);
  return { window, wallS, processes, otherCores: cores(machine.busyMicros - ours * 1e6), stealCores: cores(machine.stealMicros) };
}

/**
 * The window of a {@link CpuSpan} measured on `measured` (name, pid — the pids given to withCpu,
 * in that order), per `events` events; `extra` rows (a load tool's own CPU) come after.
 */
export function spanWindow(window: string, measured: ReadonlyArray<readonly [string, number]>, span: CpuSpan, events: number, extra: ProcessCpu[] = []): CpuWindow {
  const processes = measured.map(([name], i) => processCpu(name, span.cpuMicros[i] as number, span.wallS, events));
  return cpuWindow(window, span.wallS, [...processes, ...extra], span.machine);
}

/** {@link ProcessCpu} of `micros` µs used over `wallS` seconds, for `events` events. */
export function processCpu(process: string, micros: number, wallS: number, events: number): ProcessCpu {
  return { process, cpuS: micros / 1e6, cores: wallS > 0 ? micros / 1e6 / wallS : 0, microsPerEvent: events > 0 ? micros / events : 0 };
}

/** The machine a run was measured on. */
export interface Machine {
  cpus: number;
  model: string;
  memory: string;
  node: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
}

/** Two targets under one tool: the first's figures over the second's. */
export interface SideBySide {
  tool: LoadRun['tool'];
  /** `edge / bare`, `edge / node-http`, `node-http / bare`. */
  pair: string;
  reqPerSec: number;
  cpuPerRequest: number;
}

/** The whole output of `affstream bench redirect`. */
export interface RedirectResults {
  scenario: 'redirect';
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: { durationS: number; connections: number; links: number; requestSet: number; wrkThreads: number; namespace: string };
  runs: LoadRun[];
  ratios: SideBySide[];
  clicks: ClickAccounting | undefined;
  logs: LogSummary[];
  verdict: Verdict[];
  pass: boolean;
}

/** This machine. */
export function machine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    loadAverage: Number((loadavg()[0] ?? 0).toFixed(2)),
  };
}

/** HEAD of the checkout and whether its tracked files have uncommitted changes; `unknown` outside git. */
export function gitState(cwd: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // Tracked files only, results left out: an untracked file (a worktree's node_modules symlink)
    // or the results of the run before (a series of benchmarks) changes no figure.
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)loadtest/results'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(2);
const micros = (n: number | undefined): string => (n === undefined ? '–' : n.toFixed(1));

/** The line naming the machine, its load and the commit, under every report's title. */
export function machineLine(r: { machine: Machine; git: { commit: string; dirty: boolean } }): string {
  return `${r.machine.cpus} × ${r.machine.model}, ${r.machine.memory}, Node ${r.machine.node}, load average ${r.machine.loadAverage} at start; commit ${r.git.commit.slice(0, 12)}${r.git.dirty ? ' (uncommitted changes)' : ''}.`;
}

/** `## CPU` tables, one per window. */
export function cpuSection(windows: readonly CpuWindow[], perEvent: string): string[] {
  const lines: string[] = [];
  for (const w of windows) {
    lines.push(
      `### CPU, ${w.window} (${w.wallS.toFixed(1)} s)`,
      '',
      `| process | CPU s | cores busy | CPU µs ${perEvent} |`,
      '| --- | ---: | ---: | ---: |',
      ...w.processes.map((p) => `| ${p.process} | ${p.cpuS.toFixed(2)} | ${p.cores.toFixed(2)} | ${micros(p.microsPerEvent)} |`),
      `| **all of the above** | ${w.processes.reduce((n, p) => n + p.cpuS, 0).toFixed(2)} | ${w.processes.reduce((n, p) => n + p.cores, 0).toFixed(2)} | ${micros(w.processes.reduce((n, p) => n + p.microsPerEvent, 0))} |`,
      `| everything else on the machine | ${(w.otherCores * w.wallS).toFixed(2)} | ${w.otherCores.toFixed(2)} | – |`,
      `| of which stolen by the hypervisor (steal) | ${(w.stealCores * w.wallS).toFixed(2)} | ${w.stealCores.toFixed(2)} | – |`,
      '',
    );
  }
  return lines;
}

/** `## Verdict` and, when the processes logged problems, `## Logged problems`. */
export function verdictSection(verdict: readonly Verdict[], logs: readonly LogSummary[]): string[] {
  const lines = ['## Verdict', '', '| target | required | measured | result |', '| --- | --- | --- | --- |'];
  for (const v of verdict) lines.push(`| ${v.target} | ${v.required} | ${v.measured} | ${v.pass === null ? 'not measured' : v.pass ? 'pass' : '**FAIL**'} |`);
  const noisy = logs.filter((l) => l.warnings + l.errors > 0);
  if (noisy.length > 0) {
    lines.push('', '## Logged problems', '');
    for (const l of noisy) {
      lines.push(`- \`${l.file}\`: ${l.errors} error(s), ${l.warnings} warning(s)`);
      for (const sample of l.samples) lines.push(`  - ${sample.replace(/\|/g, '\\|')}`);
    }
  }
  lines.push('');
  return lines;
}

/** The redirect run as a Markdown report. */
export function renderRedirect(r: RedirectResults): string {
  const lines = [
    `# Redirect benchmark — ${r.date}`,
    '',
    machineLine(r),
    `${r.options.durationS} s per target and tool, ${r.options.connections} connections, wrk with ${r.options.wrkThreads} thread(s), ` +
      `${r.options.links} links, ${int(r.options.requestSet)} distinct requests replayed in a loop; namespace \`${r.options.namespace}\`.`,
    '',
    '| target | tool | req/s | p50 ms | p99 ms | responses | non-3xx | target CPU µs/req | worker CPU µs/req |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.runs.map(
      (x) =>
        `| ${x.target} | ${x.tool} | ${int(x.reqPerSec)} | ${ms(x.latencyMs.p50)} | ${ms(x.latencyMs.p99)} | ${int(x.requests)} | ${int(x.non3xx)} | ${micros(x.cpuMicrosPerRequest)} | ${micros(x.workerCpuMicrosPerRequest)} |`,
    ),
    '',
  ];
  if (r.ratios.length > 0) {
    lines.push(
      '## Side by side',
      '',
      '`bare` is a uWebSockets.js 302 and nothing else; `node-http` the same redirect as a team would first write it on `node:http` (link lookup, macros, UUIDv7 click id, 302, nothing recorded); `edge` the real one, recording every click.',
      '',
      '| tool | targets | req/s ratio | CPU µs/req ratio |',
      '| --- | --- | ---: | ---: |',
      ...r.ratios.map((x) => `| ${x.tool} | ${x.pair} | ${x.reqPerSec.toFixed(2)} | ${x.cpuPerRequest.toFixed(2)} |`),
      '',
    );
  }
  const c = r.clicks;
  if (c) {
    lines.push(
      '## Clicks',
      '',
      '| 302s counted by the tools | edge `clicks_total` | rows in ClickHouse | distinct click ids | spool depth | clicks per JetStream publish | settled after |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${int(c.toolRedirects)} | ${int(c.edgeClicks)} | ${int(c.clickhouseRows)} | ${int(c.distinctClickIds)} | ${c.spoolDepth} | ` +
        `${c.jetstreamPublishes > 0 ? (c.edgeClicks / c.jetstreamPublishes).toFixed(1) : '–'} | ${(c.settleMs / 1000).toFixed(1)} s |`,
      '',
      `${c.ok ? 'OK' : '**LOST OR EXTRA CLICKS**'}: ${c.detail}`,
      '',
    );
  }
  lines.push(...verdictSection(r.verdict, r.logs));
  return lines.join('\n');
}

/**
 * `<YYYY-MM-DD>-<name>`: the files of a run (`name` defaults to the scenario), or `…-2`, `…-3` when
 * an earlier run of the day has that name in `dir`: a second run never overwrites the first's
 * committed figures.
 */
export function resultsStem(r: { scenario: string; date: string }, name = r.scenario, dir = RESULTS_DIR): string {
  const stem = `${r.date.slice(0, 10)}-${name}`;
  const taken = new Set(existsSync(dir) ? readdirSync(dir).map((f) => f.slice(0, f.indexOf('.'))) : []);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? stem : `${stem}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** The stem of a run at `rate`: a run at another rate than the scenario's default gets its own files (`mixed-r30000`). */
export function rateStem(r: { scenario: string; date: string }, rate: number, defaultRate: number): string {
  return resultsStem(r, rate === defaultRate ? r.scenario : `${r.scenario}-r${rate}`);
}

/** Writes `<dir>/<stem>.json` (the results) and `.md` (`markdown`); returns their paths. */
export function writeResults(r: { scenario: string; date: string }, markdown: string, dir = RESULTS_DIR, stem = resultsStem(r, r.scenario, dir)): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, stem);
  const files = { json: `${base}.json`, md: `${base}.md` };
  writeFileSync(files.json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(files.md, markdown);
  return files;
}
