/**
 * `affstream import revenue <file.csv|file.jsonl> --brand <id>` (docs/protocol.md, “Revenue import”):
 * the platform's delayed per-player, per-day revenue, written to ClickHouse by this process with
 * the importer `POST /api/v1/revenue-imports` uses (node/revenue/import.ts), then merged into the
 * commission books through the affiliates' partitions (node/revenue/merge.ts), on the NATS
 * connection the catalog was read from. The file is read twice: once for its SHA-256, which names
 * the import, then to import it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { jetstream } from '@nats-io/jetstream';
import { bootConfig } from '../../schema/bootConfig.ts';
import { Catalog } from '../../schema/catalogStore.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import { connectNats } from '../../schema/natsSetup.ts';
import { natsNames } from '../../schema/subjects.ts';
import { importRevenue, LISTED_REJECTIONS, type RevenueImportSummary } from '../../node/revenue/import.ts';
import { mergeFailed, mergeImport, type MergedImportSummary, type RevenueMergeSummary } from '../../node/revenue/merge.ts';
import { CliError } from '../command.ts';
import type { FileFormat } from '../../schema/fileLines.ts';

/** The revenue part of `affstream import --help`. */
export const REVENUE_HELP = `affstream import revenue

Imports the platform's own figures per player and day into ClickHouse (this process writes them;
the same import over HTTP is POST /api/v1/revenue-imports, docs/protocol.md, “Revenue import”).

Fields (CSV header names or JSONL keys; others are ignored):
  player_id                  the platform's player id (as in events)
  day                        YYYY-MM-DD, a day in the brand's time zone, at most today there
  ggr, bonuses, ngr          required; exact decimals with at most 4 places (may be negative)
  stakes, wins, deposits     optional (0 when absent); not negative

Options:
  --brand ID     the brand the figures belong to (required; its timezone sets the days)
  --json         print the summary as JSON (the API's answer) instead of text

The same file imported again writes nothing (\`duplicate\`); a corrected file for the same days
replaces the earlier one for its days only, both staying in the log (revenue_imports). An import
that was killed is never used; run it again to complete it. A second line for the same player
and day is rejected (duplicate_line): the first counts.

Once imported, the figures of the days already over in the brand's time zone are merged into
RevShare (docs/commissions.md, “Revenue imports”): adjustment lines for closed periods, moved
accruals for open ones. The merge sends absolute figures, so importing the same file again merges
it again without adding anything: that is how a merge that failed, or days that were not over yet,
get merged.

Shows progress on a terminal, then the summary: lines, rows, players, days, the rejected lines
with their numbers and reasons (the first ${LISTED_REJECTIONS}, and a count of the rest), and the
merge. Exit code: 0 when no line was rejected and the merge was done, 1 otherwise or when the
import failed (run it again), 2 on bad usage.
`;

/** SHA-256 (hex) of a file, reading it once. */
async function sha256Of(file: string, onBytes: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.byteLength;
    onBytes(bytes);
  }
  return hash.digest('hex');
}

const int = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

/** One status line on a terminal, rewritten in place at most 5 times a second. */
class Progress {
  private shownAt = 0;
  private readonly started = Date.now();

  constructor(private readonly total: number) {}

  show(what: string, bytes: number, lines?: number): void {
    const now = Date.now();
    if (now - this.shownAt < 200) return;
    this.shownAt = now;
    const pct = this.total > 0 ? ` (${Math.floor((bytes / this.total) * 100)}%)` : '';
    const rate = lines === undefined ? '' : `  ${int(lines)} lines  ${int(Math.round(lines / Math.max(0.001, (now - this.started) / 1000)))} lines/s`;
    process.stderr.write(`\r\x1b[K${what} ${mb(bytes)} of ${mb(this.total)} MB${pct}${rate}`);
  }

  clear(): void {
    if (this.shownAt > 0) process.stderr.write('\r\x1b[K');
  }
}

/** Adjustment lines a printed summary lists; the rest are counted. */
const LISTED_LINES = 20;

/** The merge part of the summary as printed. */
function formatMerge(m: RevenueMergeSummary): string[] {
  if (mergeFailed(m)) return [`  merge failed: ${m.error.code}: ${m.error.message}`];
  const days = (list: string[]) => `${int(list.length)} day${list.length === 1 ? '' : 's'}`;
  const lines = [
    m.days.length === 0
      ? '  merge: no day over yet in the brand\u2019s time zone'
      : `  merged ${days(m.days)} (${m.days[0]} to ${m.days[m.days.length - 1]}): ${int(m.affiliates)} affiliate${m.affiliates === 1 ? '' : 's'} told, ${int(m.lines.length)} adjustment line${m.lines.length === 1 ? '' : 's'}`,
  ];
  for (const l of m.lines.slice(0, LISTED_LINES)) lines.push(`  line ${l.commissionId}: ${l.ok ? (l.status ?? 'ok') : `refused: ${l.error?.message ?? ''}`}`);
  if (m.lines.length > LISTED_LINES) lines.push(`  … and ${int(m.lines.length - LISTED_LINES)} more lines (--json lists them all)`);
  if (!m.applied) lines.push('  not every commission actor answered in time: the figures are queued and will apply');
  if (m.notOver.length > 0) lines.push(`  ${days(m.notOver)} not over yet (${m.notOver.join(', ')}): not merged; import the same file again when over`);
  return lines;
}

/** The summary as printed. */
export function formatRevenueSummary(file: string, s: MergedImportSummary): string {
  const span = s.firstDay === null ? 'no days' : `${int(s.days)} day${s.days === 1 ? '' : 's'} (${s.firstDay} to ${s.lastDay}, ${s.timezone})`;
  const lines = [
    s.duplicate
      ? `${file}: already imported as ${s.importId} (finished ${s.finishedAt}): its rows are unchanged`
      : `${file}: imported as ${s.importId} for brand ${s.brandId}`,
    `  ${int(s.lines)} lines, ${int(s.rows)} rows, ${int(s.players)} players, ${span}, ${int(s.rejected)} rejected`,
  ];
  for (const r of s.rejections) lines.push(`  line ${r.line}: ${r.code}: ${r.message}`);
  if (s.rejected > s.rejections.length) lines.push(`  … and ${int(s.rejected - s.rejections.length)} more rejected lines`);
  for (const o of s.superseded) lines.push(`  replaces import ${o.importId} on ${int(o.days)} day${o.days === 1 ? '' : 's'}`);
  lines.push(...formatMerge(s.merge));
  return `${lines.join('\n')}\n`;
}

/** Runs `affstream import revenue` on a file whose arguments were checked; resolves to the exit code. */
export async function importRevenueFile(file: string, format: FileFormat, brandId: string, json: boolean): Promise<number> {
  const size = await stat(file).then(
    (st) => st.size,
    (err: Error) => {
      throw new CliError(`cannot read ${file}: ${err.message}`);
    },
  );
  const cfg = await bootConfig();
  const nc = await connectNats(cfg, 'affstream-import').catch((err: Error) => {
    throw new CliError(`cannot reach NATS, which holds the catalog: ${err.message}`);
  });
  const ch = clickhouse(cfg, { timeoutMs: 300_000 });
  let catalog: Catalog | undefined;
  let summary: MergedImportSummary;
  try {
    catalog = await Catalog.open(nc, cfg, () => undefined);
    const brand = catalog.get('brands', brandId);
    if (!brand) throw new CliError(`no brand ${brandId} in the catalog (PUT /api/v1/brands/${brandId})`);
    const progress = process.stderr.isTTY ? new Progress(size) : undefined;
    let imported: RevenueImportSummary;
    try {
      const sha256 = await sha256Of(file, (bytes) => progress?.show('reading', bytes));
      imported = await importRevenue(ch, createReadStream(file, { highWaterMark: 1 << 20 }), {
        brandId,
        timezone: brand.timezone,
        fileName: file,
        format,
        sha256,
        onProgress: (lines, bytes) => progress?.show('importing', bytes, lines),
      });
    } catch (err) {
      // ClickHouse unreachable, the file changed while read: nothing of it is used until a rerun completes it.
      throw new CliError(`${file}: ${(err as Error).message}; the import is incomplete and not used: run it again`);
    } finally {
      progress?.clear();
    }
    const deps = { ch, catalog, nc, js: jetstream(nc), names: natsNames(cfg), partitions: cfg.partitions, answerTimeoutMs: cfg.edge.commandTimeoutMs };
    summary = await mergeImport(deps, imported, (err) => process.stderr.write(`${(err as Error).stack ?? String(err)}\n`));
  } finally {
    catalog?.close();
    await ch.close();
    await nc.close();
  }
  process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : formatRevenueSummary(file, summary));
  return summary.rejected === 0 && !mergeFailed(summary.merge) ? 0 : 1;
}
