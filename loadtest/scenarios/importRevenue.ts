/**
 * Scenario `import`: `affstream import revenue` of a generated file of a million lines
 * (deterministic: the same --lines, the same bytes), run as the real CLI process, into a fresh
 * namespace's ClickHouse. How many lines per second the command takes from start to exit, and its
 * memory peak (VmHWM); then the same file again (a duplicate: nothing written); the same import
 * with a 128 MiB heap limit (the memory it needs does not grow with the file); and an import killed
 * with SIGKILL half-way, then run again: exactly one copy of every line, in the table (FINAL) and
 * in `revenue_current`.
 *
 * No edge or worker runs: the CLI reads the brand from the catalog (NATS KV) and writes ClickHouse
 * itself, so the machine holds the importer and the servers only. The namespace has no live layer,
 * so the merge that ends every import tells no affiliate, but its queries over the import's days
 * run and are timed with the rest.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Catalog, clickhouse, type ClusterConfig, connectNats, ensureNats, migrate, parseBrand, PROJECT_ROOT, selectRows, toDecimalText } from '../../schema/mod.ts';
import { Rng } from '../generator/random.ts';
import { beginRun, type BenchCluster } from '../lib/cluster.ts';
import { cpuMicros, memoryMiB, serverPids, type ProcessSet } from '../lib/proc.ts';
import { machineLine, verdictSection, type Machine, type Verdict } from '../lib/results.ts';

/** Options of {@link runImport}. */
export interface ImportOptions {
  lines: number;
  keep: boolean;
  log(line: string): void;
}

/** Defaults of the flags. */
export const IMPORT_DEFAULTS = { lines: 1_000_000 } as const;

/** The rate an import must reach (loadtest/README.md, `import`). */
export const TARGET_LINES_PER_S = 100_000;
/** The heap limit of the bounded-memory run: far below what a million rows would take whole. */
const CAPPED_HEAP_MIB = 128;
const SEED = 20_261_130;
const DAYS = 30;
/** The brand of each run: each import is a file of its own brand, so that none supersedes another. */
const BRANDS = { main: 'bench-revenue', capped: 'bench-revenue-capped', killed: 'bench-revenue-killed' } as const;

/** The generated file. */
export interface RevenueFile {
  path: string;
  lines: number;
  bytes: number;
  sha256: string;
  players: number;
  /** Sum of every line's NGR, exact. */
  ngr: string;
}

/**
 * The figures the scenario reads of the summary `affstream import revenue --json` prints
 * (docs/protocol.md, “Revenue import”); it holds more.
 */
export interface ImportSummary {
  /** The file was imported before: nothing was read or changed. */
  duplicate: boolean;
  lines: number;
  rows: number;
  players: number;
  rejected: number;
  /** The merge into the commission books that follows the import. */
  merge?: { days: string[]; notOver: string[]; affiliates: number; applied: boolean };
}

/** One run of the CLI, as measured from outside. */
export interface CliRun {
  /** Start to exit, seconds. */
  wallS: number;
  /** CPU of the process, seconds. */
  cpuS: number;
  /** ClickHouse server's CPU meanwhile, seconds (undefined when its pid is unknown). */
  clickhouseCpuS: number | undefined;
  /** VmHWM, MiB: the process's resident peak. */
  peakMiB: number;
  exit: string;
  summary: ImportSummary | undefined;
  linesPerS: number | undefined;
}

/** What the table and the view hold for one brand. */
export interface Stored {
  /** Rows in the table as they are (a line written twice counts twice until merged). */
  raw: number;
  /** Rows after collapsing (FINAL). */
  final: number;
  /** Distinct line numbers. */
  distinctLines: number;
  /** Rows of `revenue_current`. */
  view: number;
  /** Sum of `revenue_current`'s NGR, exact. */
  viewNgr: string;
}

/** The whole output of `affstream bench import`. */
export interface ImportResults {
  scenario: 'import';
  date: string;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  options: { lines: number; namespace: string; cappedHeapMiB: number };
  file: Omit<RevenueFile, 'path'>;
  run: CliRun | undefined;
  stored: Stored | undefined;
  duplicate: { run: CliRun; rawAfter: number } | undefined;
  capped: CliRun | undefined;
  killed: { rowsAtKill: number; exit: string; status: string[]; viewAfterKill: number; rerun: CliRun; stored: Stored } | undefined;
  verdict: Verdict[];
  pass: boolean;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const cents = (c: number): string => `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`;

/**
 * Writes `lines` lines of revenue: the platform's day-sorted export of 30 days of October 2026,
 * each player once a day, seeded figures in cents (NGR = GGR − bonuses, wins = stakes − GGR, a
 * deposit on about one line in three).
 */
export async function writeRevenueFile(file: string, lines: number): Promise<RevenueFile> {
  const rng = new Rng(SEED);
  const players = Math.ceil(lines / DAYS);
  const out = createWriteStream(file);
  const hash = createHash('sha256');
  let bytes = 0;
  let ngr = 0n;
  let text = 'player_id,day,ggr,bonuses,ngr,stakes,wins,deposits\n';
  const put = async (force: boolean): Promise<void> => {
    if (!force && text.length < 1 << 20) return;
    const chunk = Buffer.from(text);
    text = '';
    hash.update(chunk);
    bytes += chunk.byteLength;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  for (let i = 0; i < lines; i++) {
    const day = `2026-10-${String(1 + Math.floor(i / players)).padStart(2, '0')}`;
    const ggr = rng.int(-50_000, 200_000);
    const bonuses = rng.chance(0.3) ? rng.int(0, 20_000) : 0;
    const stakes = Math.max(ggr, 0) + rng.int(0, 500_000);
    const deposits = rng.chance(0.35) ? cents(rng.int(1_000, 100_000)) : '';
    ngr += BigInt(ggr - bonuses) * 100n;
    text += `player-${i % players},${day},${cents(ggr)},${cents(bonuses)},${cents(ggr - bonuses)},${cents(stakes)},${cents(stakes - ggr)},${deposits}\n`;
    await put(false);
  }
  await put(true);
  out.end();
  await once(out, 'close');
  return { path: file, lines, bytes, sha256: hash.digest('hex'), players, ngr: toDecimalText(ngr) };
}

/** Puts the benchmark's brands in the catalog, as the admin API would store them. */
async function createBrands(cfg: ClusterConfig): Promise<void> {
  const nc = await connectNats(cfg, 'bench-import');
  try {
    const catalog = await Catalog.open(nc, cfg, () => undefined);
    const now = new Date().toISOString();
    for (const id of Object.values(BRANDS)) {
      await catalog.put('brands', id, { ...parseBrand(id, { name: id, currency: 'EUR', timezone: 'Europe/Malta' }), createdAt: now, updatedAt: now });
    }
    catalog.close();
  } finally {
    await nc.close();
  }
}

/**
 * Runs `affstream import revenue <file> --brand <brand> --json` with `nodeArgs`, sampling its
 * memory peak every 50 ms (VmHWM never decreases: the last sample is the peak up to it).
 * `whileRunning` may kill it.
 */
async function runCli(
  procs: ProcessSet,
  cluster: BenchCluster,
  file: RevenueFile,
  brand: string,
  nodeArgs: string[] = [],
  whileRunning?: (pid: number, running: () => boolean) => Promise<void>,
): Promise<CliRun> {
  const clickhousePid = serverPids(cluster.serverCfg).clickhouse;
  const chBefore = clickhousePid === undefined ? undefined : cpuMicros(clickhousePid);
  const t0 = performance.now();
  const child = procs.spawn('import', process.execPath, [...nodeArgs, path.join(PROJECT_ROOT, 'bin/affstream.mjs'), 'import', 'revenue', file.path, '--brand', brand, '--json'], {
    env: cluster.env,
    output: 'capture',
  });
  let peakMiB = 0;
  let cpu = 0;
  let exited = false;
  void child.exited.then(() => (exited = true));
  const sampling = (async () => {
    while (!exited) {
      peakMiB = Math.max(peakMiB, memoryMiB(child.pid)?.peak ?? 0);
      try {
        cpu = cpuMicros(child.pid);
      } catch {
        // gone between two samples
      }
      await sleep(50);
    }
  })();
  await whileRunning?.(child.pid, () => !exited);
  const status = await child.exited;
  const wallS = (performance.now() - t0) / 1000;
  await sampling;
  let summary: ImportSummary | undefined;
  try {
    summary = JSON.parse(child.stdout()) as ImportSummary;
  } catch {
    summary = undefined;
  }
  return {
    wallS,
    cpuS: cpu / 1e6,
    clickhouseCpuS: clickhousePid === undefined || chBefore === undefined ? undefined : (cpuMicros(clickhousePid) - chBefore) / 1e6,
    peakMiB,
    exit: status.signal ? `signal ${status.signal}` : `exit code ${status.code}${status.code === 0 ? '' : `: ${child.stderr().trim().slice(-300)}`}`,
    summary,
    linesPerS: summary && !summary.duplicate && status.code === 0 ? summary.lines / wallS : undefined,
  };
}

/** What ClickHouse holds for `brand`. */
async function stored(cfg: ClusterConfig, brand: string): Promise<Stored> {
  const ch = clickhouse(cfg, { timeoutMs: 120_000 });
  try {
    const where = `brand_id = '${brand}'`;
    const [t] = await selectRows<{ raw: number; lines: number }>(ch, `SELECT count() AS raw, uniqExact(line) AS lines FROM revenue_rows WHERE ${where}`);
    const [f] = await selectRows<{ n: number }>(ch, `SELECT count() AS n FROM revenue_rows FINAL WHERE ${where}`);
    const [v] = await selectRows<{ n: number; ngr: string }>(ch, `SELECT count() AS n, toString(sum(ngr)) AS ngr FROM revenue_current WHERE ${where}`);
    return { raw: Number(t?.raw), final: Number(f?.n), distinctLines: Number(t?.lines), view: Number(v?.n), viewNgr: v?.ngr ?? '' };
  } finally {
    await ch.close();
  }
}

async function rowCount(cfg: ClusterConfig, brand: string): Promise<number> {
  const ch = clickhouse(cfg, { timeoutMs: 10_000 });
  try {
    const [r] = await selectRows<{ n: number }>(ch, `SELECT count() AS n FROM revenue_rows WHERE brand_id = '${brand}'`);
    return Number(r?.n ?? 0);
  } finally {
    await ch.close();
  }
}

async function logStatuses(cfg: ClusterConfig, brand: string): Promise<string[]> {
  const ch = clickhouse(cfg, { timeoutMs: 10_000 });
  try {
    return (await selectRows<{ status: string }>(ch, `SELECT DISTINCT status FROM revenue_imports WHERE brand_id = '${brand}' ORDER BY status`)).map((r) => r.status);
  } finally {
    await ch.close();
  }
}

/**
 * `AFFSTREAM_BENCH_CPU_PROF=import` profiles the measured import (`--cpu-prof` into
 * `<run directory>/import-cpuprofile/`): where its time goes.
 */
function profiled(cluster: BenchCluster): string[] {
  const wanted = (process.env.AFFSTREAM_BENCH_CPU_PROF ?? '').split(',').map((s) => s.trim());
  return wanted.includes('import') ? ['--cpu-prof', `--cpu-prof-dir=${path.join(cluster.workDir, 'import-cpuprofile')}`] : [];
}

/** Runs the scenario. */
export async function runImport(opts: ImportOptions, procs: ProcessSet): Promise<ImportResults> {
  const { log } = opts;
  const { started, host, git, cluster } = await beginRun();
  const { cfg, namespace } = cluster;
  log(`generating ${fmt(opts.lines)} lines of revenue…`);
  const file = await writeRevenueFile(path.join(cluster.workDir, `revenue-${opts.lines}.csv`), opts.lines);
  log(`  ${(file.bytes / 1e6).toFixed(1)} MB, sha256 ${file.sha256.slice(0, 12)}…`);
  let run: CliRun | undefined;
  let kept: Stored | undefined;
  let duplicate: ImportResults['duplicate'];
  let capped: CliRun | undefined;
  let killed: ImportResults['killed'];
  await cluster.startServers(log);
  try {
    log(`namespace ${namespace}: migrating ClickHouse, creating the catalog`);
    await procs.guard(Promise.all([migrate(cfg), ensureNats(cfg)]));
    await procs.guard(createBrands(cfg));

    log('importing…');
    run = await runCli(procs, cluster, file, BRANDS.main, profiled(cluster));
    log(`  ${run.exit}; ${run.wallS.toFixed(2)} s, ${run.linesPerS === undefined ? '–' : fmt(run.linesPerS)} lines/s, peak ${run.peakMiB.toFixed(0)} MiB`);
    kept = await stored(cfg, BRANDS.main);

    log('the same file again…');
    const again = await runCli(procs, cluster, file, BRANDS.main);
    duplicate = { run: again, rawAfter: (await stored(cfg, BRANDS.main)).raw };
    log(`  ${again.exit}; duplicate: ${String(again.summary?.duplicate)}, ${again.wallS.toFixed(2)} s`);

    log(`the same import with a ${CAPPED_HEAP_MIB} MiB heap…`);
    capped = await runCli(procs, cluster, file, BRANDS.capped, [`--max-old-space-size=${CAPPED_HEAP_MIB}`]);
    log(`  ${capped.exit}; peak ${capped.peakMiB.toFixed(0)} MiB`);

    log('an import killed half-way (SIGKILL), then run again…');
    let rowsAtKill = 0;
    const cut = await runCli(procs, cluster, file, BRANDS.killed, [], async (pid, running) => {
      for (;;) {
        if (!running()) return;
        rowsAtKill = await rowCount(cfg, BRANDS.killed);
        if (rowsAtKill >= file.lines / 2) break;
        await sleep(100);
      }
      process.kill(pid, 'SIGKILL');
    });
    const status = await logStatuses(cfg, BRANDS.killed);
    const viewAfterKill = (await stored(cfg, BRANDS.killed)).view;
    log(`  ${cut.exit} with ${fmt(rowsAtKill)} rows written; log: ${status.join(', ')}; rows in revenue_current: ${fmt(viewAfterKill)}`);
    const rerun = await runCli(procs, cluster, file, BRANDS.killed);
    killed = { rowsAtKill, exit: cut.exit, status, viewAfterKill, rerun, stored: await stored(cfg, BRANDS.killed) };
    log(`  rerun ${rerun.exit}; ${fmt(killed.stored.raw)} rows stored, ${fmt(killed.stored.final)} after FINAL, ${fmt(killed.stored.view)} in revenue_current`);
  } finally {
    await cluster.close(procs, opts.keep, log);
  }
  const { path: _path, ...fileFigures } = file;
  const verdict = judge(file, run, kept, duplicate, capped, killed);
  return {
    scenario: 'import',
    date: started.toISOString(),
    machine: host,
    git,
    options: { lines: opts.lines, namespace, cappedHeapMiB: CAPPED_HEAP_MIB },
    file: fileFigures,
    run,
    stored: kept,
    duplicate,
    capped,
    killed,
    verdict,
    pass: verdict.every((v) => v.pass !== false),
  };
}

/** Every line once, exactly: in the table after collapsing and in the view, with the file's NGR. */
const exact = (s: Stored | undefined, f: RevenueFile): boolean => s !== undefined && s.final === f.lines && s.distinctLines === f.lines && s.view === f.lines && s.viewNgr === f.ngr;
const storedText = (s: Stored | undefined): string =>
  s ? `${fmt(s.raw)} rows (${fmt(s.final)} FINAL, ${fmt(s.distinctLines)} distinct lines), ${fmt(s.view)} in revenue_current, NGR ${s.viewNgr}` : 'not measured';

function judge(f: RevenueFile, run: CliRun | undefined, s: Stored | undefined, dup: ImportResults['duplicate'], capped: CliRun | undefined, k: ImportResults['killed']): Verdict[] {
  const same = (r: CliRun | undefined) => r?.summary?.lines === f.lines && r.summary.rows === f.lines && r.summary.rejected === 0 && r.summary.players === f.players;
  return [
    {
      target: `import rate ≥ ${fmt(TARGET_LINES_PER_S)} lines/s`,
      required: 'lines ÷ the command’s wall time, start to exit (hashing the file, reading the catalog and ClickHouse’s counts included)',
      measured: run?.linesPerS === undefined ? `no rate (${run?.exit ?? 'no run'})` : `${fmt(run.linesPerS)} lines/s (${run.wallS.toFixed(2)} s)`,
      pass: run?.linesPerS === undefined ? false : run.linesPerS >= TARGET_LINES_PER_S,
    },
    {
      target: 'bounded memory',
      required: `the same import completes with a ${CAPPED_HEAP_MIB} MiB heap (what it holds does not grow with the file); both peaks (VmHWM) reported`,
      measured: capped ? `${capped.exit}; peak ${run?.peakMiB.toFixed(0) ?? '–'} MiB unlimited, ${capped.peakMiB.toFixed(0)} MiB with the limit` : 'not measured',
      pass: capped ? capped.exit === 'exit code 0' && same(capped) : null,
    },
    {
      target: 'every line imported exactly once',
      required: `summary: ${fmt(f.lines)} lines = rows, 0 rejected; ClickHouse: as many rows FINAL and distinct lines, revenue_current has each and the file’s NGR (${f.ngr})`,
      measured: storedText(s),
      pass: run ? same(run) && exact(s, f) : null,
    },
    {
      target: 'the same file again changes nothing',
      required: 'duplicate: true, exit 0, no row written',
      measured: dup ? `duplicate: ${String(dup.run.summary?.duplicate)}, ${dup.run.exit}, ${fmt(dup.rawAfter)} rows after (${fmt(s?.raw ?? 0)} before), ${dup.run.wallS.toFixed(2)} s` : 'not measured',
      pass: dup ? dup.run.summary?.duplicate === true && dup.run.exit === 'exit code 0' && dup.rawAfter === s?.raw : null,
    },
    {
      target: 'a killed import rerun leaves exactly one copy of every line',
      required: 'killed by SIGKILL past half its rows: still running, nothing in revenue_current; the rerun completes it: every line once (FINAL, distinct lines, revenue_current, NGR)',
      measured: k ? `killed (${k.exit}) at ${fmt(k.rowsAtKill)} rows, log ${k.status.join('+')}, ${fmt(k.viewAfterKill)} visible; rerun ${k.rerun.exit}: ${storedText(k.stored)}` : 'not measured',
      pass: k ? k.exit === 'signal SIGKILL' && k.status.join() === 'running' && k.viewAfterKill === 0 && same(k.rerun) && exact(k.stored, f) : null,
    },
  ];
}

const runRow = (what: string, r: CliRun | undefined): string =>
  r
    ? `| ${what} | ${r.exit.split(':')[0]} | ${r.wallS.toFixed(2)} | ${r.linesPerS === undefined ? '–' : fmt(r.linesPerS)} | ${r.cpuS.toFixed(2)} | ${r.clickhouseCpuS === undefined ? '–' : r.clickhouseCpuS.toFixed(2)} | ${r.peakMiB.toFixed(0)} |`
    : `| ${what} | not run | | | | | |`;

/** The run as a Markdown report. */
export function renderImport(r: ImportResults): string {
  const lines = [
    `# Revenue import benchmark — ${r.date}`,
    '',
    machineLine(r),
    `\`affstream import revenue\` (its own process) of a generated CSV of ${fmt(r.file.lines)} lines (${(r.file.bytes / 1e6).toFixed(1)} MB, ${fmt(r.file.players)} players × ${DAYS} days, sha256 \`${r.file.sha256.slice(0, 16)}…\`) into ClickHouse; namespace \`${r.options.namespace}\`.`,
    '',
    '| run | exit | wall s | lines/s | CPU s | ClickHouse CPU s | peak MiB (VmHWM) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    runRow('import', r.run),
    runRow('the same file again (duplicate)', r.duplicate?.run),
    runRow(`import, heap limited to ${r.options.cappedHeapMiB} MiB`, r.capped),
    runRow('import killed half-way', undefined).replace('not run', r.killed?.exit ?? 'not run'),
    runRow('the killed import run again', r.killed?.rerun),
    '',
    'Wall time is the whole command: Node and tsx starting, the SHA-256 pass over the file, the catalog read from NATS, the import, ClickHouse counting players and repeated lines at the end, and the merge into the commission books (its queries over the import’s days: the namespace has no live layer, so no affiliate is told). CPU s is the importing process’s own; ClickHouse parses and stores the rows on the same machine meanwhile.',
    '',
  ];
  const merge = r.run?.summary?.merge;
  if (merge) lines.push(`Merge of the first import: ${merge.days.length} days merged, ${merge.notOver.length} not over, ${fmt(merge.affiliates)} affiliates told, applied ${merge.applied}.`, '');
  if (r.killed) {
    lines.push(
      `Killed at ${fmt(r.killed.rowsAtKill)} rows in ClickHouse; its log said ${r.killed.status.join(', ')} and revenue_current showed ${fmt(r.killed.viewAfterKill)} of its rows. After the rerun: ${storedText(r.killed.stored)}.`,
      '',
    );
  }
  lines.push(...verdictSection(r.verdict, []));
  return lines.join('\n');
}
