/**
 * The revenue import (docs/protocol.md, “Revenue import”): the platform's own per-player, per-day
 * figures, read from a CSV or JSONL stream, checked line by line and written to ClickHouse in large
 * batches. One implementation for `affstream import revenue` and `POST /api/v1/revenue-imports`.
 *
 * An import's id is a UUIDv5 of (brand, SHA-256 of the file), declared before the first byte is
 * read — so the rows of a file are the same rows whenever it is imported — and checked against the
 * bytes read at the end. The log (`revenue_imports`) says `running` first and `done` once every row
 * is written; only a done import is ever current for a day, and of those the latest finished.
 * A killed import is therefore invisible, and importing the file again writes the same rows (one
 * row after ClickHouse collapses them, and at once for readers of `revenue_current`), then marks
 * it done. A file already done is not read at all: the answer is its summary, `duplicate: true`.
 *
 * Memory stays bounded by a batch whatever the file's size: the counts that need every row
 * (players, the second line of a (player, day)) are asked of ClickHouse once the rows are in.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { v5 as uuidv5 } from 'uuid';
import { fileBatches, type FileFormat, type LineRejection } from '../../schema/fileLines.ts';
import { insertStream, quote, selectRows } from '../../schema/clickhouse/client.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { MAX_AMOUNT_DIGITS, normalizeMoney, storable } from '../../schema/money.ts';
import { dayOf } from '../../workers/commissions/periods.ts';

/** The figures of one accepted line, money as decimal text with 4 places. */
export interface RevenueRow {
  playerId: string;
  day: string;
  ggr: string;
  bonuses: string;
  ngr: string;
  stakes: string;
  wins: string;
  deposits: string;
}

/** The money fields of a line: the first three required, the others 0 when absent. */
export const MONEY_FIELDS = ['ggr', 'bonuses', 'ngr', 'stakes', 'wins', 'deposits'] as const;
type MoneyField = (typeof MONEY_FIELDS)[number];
const REQUIRED = new Set<MoneyField>(['ggr', 'bonuses', 'ngr']);
/** Counts and sums of activity, never below zero; GGR, bonuses and NGR may be (a player's winning day, a bonus clawed back). */
const NON_NEGATIVE = new Set<MoneyField>(['stakes', 'wins', 'deposits']);

/** Player ids as in events (docs/protocol.md, “1. Events”): printable ASCII without spaces. */
const PLAYER_ID = /^[\x21-\x7e]{1,128}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
/** The earliest day a line may have: what the events accept too. */
const FIRST_DAY = '2000-01-01';

/** Why a line was refused (no line number yet). */
export interface LineProblem {
  code: 'missing_field' | 'invalid_field';
  message: string;
}

const problem = (code: LineProblem['code'], message: string): LineProblem => ({ code, message });

/** A value as quoted in a message, cut short. */
function shown(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Why `day` is no day of a revenue line up to `lastDay`, or undefined when it is one. */
function dayProblem(day: unknown, lastDay: string): LineProblem | undefined {
  if (day === undefined || day === null || day === '') return problem('missing_field', 'day is required');
  const m = typeof day === 'string' ? DAY.exec(day) : null;
  if (!m) return problem('invalid_field', `day must be a date YYYY-MM-DD, got ${shown(day)}`);
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (date.toISOString().slice(0, 10) !== day) return problem('invalid_field', `day ${day} is not a calendar day`);
  if (day < FIRST_DAY || day > lastDay) return problem('invalid_field', `day ${day} is out of range (${FIRST_DAY} to today, ${lastDay}, in the brand's time zone)`);
  return undefined;
}

/** A line checker: a record of a file (CSV cells or a JSONL object) → its row, or why it is refused. */
export type RevenueLineParser = (record: unknown) => RevenueRow | LineProblem;

/**
 * The checker of the lines of one file against the revenue fields. `lastDay` is the brand's today
 * (`YYYY-MM-DD` in its time zone): a day after it has no figures yet. Fields other than these are
 * ignored.
 */
export function revenueLineParser(lastDay: string): RevenueLineParser {
  // The days of a file are few (and those from 2000 to today a few thousand): each is checked once.
  const goodDays = new Set<string>();
  return (record) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return problem('invalid_field', 'a line must be an object');
    const r = record as Record<string, unknown>;
    const rawPlayer = r.player_id;
    if (rawPlayer === undefined || rawPlayer === null || rawPlayer === '') return problem('missing_field', 'player_id is required');
    const playerId = typeof rawPlayer === 'number' && Number.isSafeInteger(rawPlayer) ? String(rawPlayer) : rawPlayer;
    if (typeof playerId !== 'string' || !PLAYER_ID.test(playerId)) return problem('invalid_field', 'player_id must be 1–128 printable ASCII characters without spaces');
    const day = r.day;
    if (typeof day !== 'string' || !goodDays.has(day)) {
      const bad = dayProblem(day, lastDay);
      if (bad) return bad;
      goodDays.add(day as string);
    }
    const row = { playerId, day } as RevenueRow;
    for (const f of MONEY_FIELDS) {
      const v = r[f];
      if (v === undefined || v === null || v === '') {
        if (REQUIRED.has(f)) return problem('missing_field', `${f} is required`);
        row[f] = '0.0000';
        continue;
      }
      const amount = normalizeMoney(v);
      if (amount === undefined) return problem('invalid_field', `${f} must be a decimal with at most 4 places, got ${shown(v)}`);
      if (NON_NEGATIVE.has(f) && amount.startsWith('-')) return problem('invalid_field', `${f} must not be negative, got ${shown(v)}`);
      if (!storable(amount)) return problem('invalid_field', `${f} must have at most ${MAX_AMOUNT_DIGITS} integer digits, got ${shown(v)}`);
      row[f] = amount;
    }
    return row;
  };
}

const IMPORT_NAMESPACE = '5d1f0a6e-3b8c-4e2a-9f71-2c6d8b4e0a13';

/** The id of the import of a file of `sha256` (hex) for `brandId`: the same file, the same id. */
export function revenueImportId(brandId: string, sha256: string): string {
  return uuidv5(`${brandId}\u0000${sha256.toLowerCase()}`, IMPORT_NAMESPACE);
}

/** What an import did, as the CLI prints it and the API answers it (docs/protocol.md, “Revenue import”). */
export interface RevenueImportSummary {
  importId: string;
  brandId: string;
  fileName: string;
  sha256: string;
  /** The file was imported before: nothing was read or changed, the figures are the first import's. */
  duplicate: boolean;
  /** The brand's time zone, in which the days are. */
  timezone: string;
  startedAt: string;
  finishedAt: string;
  /** Lines read (records; blank lines and the CSV header not counted). */
  lines: number;
  /** Rows written: one per (player, day). */
  rows: number;
  players: number;
  days: number;
  firstDay: string | null;
  lastDay: string | null;
  /** Lines refused: `lines - rows`. */
  rejected: number;
  /** The first {@link LISTED_REJECTIONS} of them, by line number. */
  rejections: LineRejection[];
  /** The imports that were current for some of this import's days until now, and for how many. */
  superseded: { importId: string; days: number }[];
}

/** Rejected lines listed in a summary; the rest are counted. */
export const LISTED_REJECTIONS = 100;

/** Options of {@link importRevenue}. */
export interface RevenueImportOptions {
  brandId: string;
  timezone: string;
  fileName: string;
  format: FileFormat;
  /** SHA-256 (hex) of the whole file, as the caller declares it: the import's id comes from it. */
  sha256: string;
  /** Largest body accepted, bytes (the HTTP endpoint's limit); none when absent. */
  maxBytes?: number;
  /** Told after every chunk of the input: lines and bytes read so far. */
  onProgress?: (lines: number, bytes: number) => void;
}

/**
 * Rows per insert: well over the 10,000 an insert should have at least (docs/architecture.md,
 * “Pitfalls”), a few MB of text, one block for ClickHouse.
 */
export const BATCH_ROWS = 100_000;

const ROW_COLUMNS = ['brand_id', 'day', 'player_id', 'import_id', 'line', ...MONEY_FIELDS] as const;

/** SHA-256 and size of what flows through; past `maxBytes` it fails with `body_too_large`. */
class Digest extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes) return done(new AffstreamError('body_too_large', `the file exceeds ${this.maxBytes} bytes`));
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** A row as a line of TabSeparated (only `\` needs escaping in ids of printable ASCII). */
function tsv(brand: string, importId: string, line: number, r: RevenueRow): string {
  const player = r.playerId.includes('\\') ? r.playerId.replaceAll('\\', '\\\\') : r.playerId;
  return `${brand}\t${r.day}\t${player}\t${importId}\t${line}\t${r.ggr}\t${r.bonuses}\t${r.ngr}\t${r.stakes}\t${r.wins}\t${r.deposits}\n`;
}

/** Rows joined into one string as they come ({@link importRevenue}). */
const PIECE_ROWS = 1_000;

const insertRows = (ch: ClickHouseClient, body: string[]): Promise<void> =>
  insertStream(ch, `INSERT INTO revenue_rows (${ROW_COLUMNS.join(', ')}) FORMAT TabSeparated`, body);

/** A row of `revenue_imports`, as written. */
interface LogRow {
  id: string;
  brand_id: string;
  file_name: string;
  sha256: string;
  status: 'running' | 'done';
  started_at: number;
  finished_at: number;
  finished_key: string;
  lines: number;
  rows: number;
  players: number;
  days: number;
  first_day: string;
  last_day: string;
  covered_days: string[];
  rejected: number;
  rejections: string;
  timezone: string;
}

/** What `first_day`/`last_day` hold when an import has no rows (Date has no null). */
const NO_DAY = '1970-01-01';

async function writeLog(ch: ClickHouseClient, row: LogRow): Promise<void> {
  await ch.insert({ table: 'revenue_imports', values: [row], format: 'JSONEachRow' });
}

const iso = (ms: number): string => new Date(ms).toISOString();

function summaryOf(row: LogRow, duplicate: boolean, superseded: RevenueImportSummary['superseded']): RevenueImportSummary {
  const hasRows = row.rows > 0;
  return {
    importId: row.id,
    brandId: row.brand_id,
    fileName: row.file_name,
    sha256: row.sha256,
    duplicate,
    timezone: row.timezone,
    startedAt: iso(row.started_at * 1000),
    finishedAt: iso(Number(row.finished_key.slice(0, 15))),
    lines: row.lines,
    rows: row.rows,
    players: row.players,
    days: row.days,
    firstDay: hasRows ? row.first_day : null,
    lastDay: hasRows ? row.last_day : null,
    rejected: row.rejected,
    rejections: JSON.parse(row.rejections) as LineRejection[],
    superseded,
  };
}

/** The done row of an import, when there is one. */
async function doneRow(ch: ClickHouseClient, brandId: string, id: string): Promise<LogRow | undefined> {
  const [row] = await selectRows<LogRow>(
    ch,
    `SELECT id, brand_id, file_name, sha256, status, toUInt32(started_at) AS started_at, toUInt32(finished_at) AS finished_at, finished_key,
            lines, rows, players, days, toString(first_day) AS first_day, toString(last_day) AS last_day,
            arrayMap(d -> toString(d), covered_days) AS covered_days, rejected, rejections, timezone
     FROM revenue_imports WHERE brand_id = ${quote(brandId)} AND id = ${quote(id)} AND status = 'done' ORDER BY finished_key LIMIT 1`,
  );
  return row;
}

/** Keeps the rejections of the lowest line numbers, at most {@link LISTED_REJECTIONS}, and counts all. */
class Rejections {
  count = 0;
  private listed: LineRejection[] = [];

  add(r: LineRejection): void {
    this.count++;
    this.listed.push(r);
    // Lines come nearly in order: sorting now and then keeps the list short and exact.
    if (this.listed.length >= 2 * LISTED_REJECTIONS) this.trim();
  }

  /** The listed rejections, by line. */
  first(): LineRejection[] {
    this.trim();
    return this.listed;
  }

  private trim(): void {
    this.listed = this.listed.sort((a, b) => a.line - b.line).slice(0, LISTED_REJECTIONS);
  }
}

/**
 * The rows and players of the import, and the lines that repeat an earlier line's (player, day)
 * — the earlier line counts, the later is refused — asked of ClickHouse, where every row of the
 * import is, rather than remembered here for every line of a file of any size. `accepted` lines
 * were written: when they make as many rows, none repeats and the second query is spared.
 */
async function countRows(ch: ClickHouseClient, where: string, accepted: number): Promise<{ rows: number; players: number; repeats: LineRejection[] }> {
  const [counts] = await selectRows<{ rows: number; players: number }>(ch, `SELECT uniqExact(day, player_id) AS rows, uniqExact(player_id) AS players FROM revenue_rows WHERE ${where}`);
  const rows = Number(counts?.rows ?? 0);
  const players = Number(counts?.players ?? 0);
  if (rows === accepted) return { rows, players, repeats: [] };
  const repeats = await selectRows<{ line: number; player: string; day: string; first: number }>(
    ch,
    `SELECT line, player_id AS player, toString(day) AS day, first
     FROM (SELECT player_id, day, min(line) AS first, groupUniqArray(line) AS lines FROM revenue_rows WHERE ${where} GROUP BY player_id, day HAVING length(lines) > 1)
     ARRAY JOIN lines AS line WHERE line != first ORDER BY line LIMIT ${LISTED_REJECTIONS}`,
  );
  return {
    rows,
    players,
    repeats: repeats.map((r) => ({
      line: Number(r.line),
      code: 'duplicate_line',
      message: `player ${r.player} on ${r.day} is on line ${Number(r.first)} already`,
    })),
  };
}

/** The imports current for some of `days` of `brandId` now, with how many of those days each. */
async function currentImports(ch: ClickHouseClient, brandId: string, days: readonly string[]): Promise<RevenueImportSummary['superseded']> {
  if (days.length === 0) return [];
  const rows = await selectRows<{ import_id: string; days: number }>(
    ch,
    `SELECT import_id, count() AS days FROM (
       SELECT day, argMax(id, finished_key) AS import_id FROM revenue_imports ARRAY JOIN covered_days AS day
       WHERE brand_id = ${quote(brandId)} AND status = 'done' AND has([${days.map((d) => `toDate(${quote(d)})`).join(', ')}], day)
       GROUP BY day)
     GROUP BY import_id ORDER BY import_id`,
  );
  return rows.map((r) => ({ importId: r.import_id, days: Number(r.days) }));
}

/**
 * Import one file read from `input` for `o.brandId`; resolves to its summary. Rejects with an
 * {@link AffstreamError}: `body_too_large` past `o.maxBytes`, `invalid_parameter` when the bytes
 * read do not have the declared SHA-256, or whatever the input failed with. On any failure the
 * import stays `running` — never current — and the rows written under its id are removed when
 * they may not be the file's (a digest that did not match).
 */
export async function importRevenue(ch: ClickHouseClient, input: Readable, o: RevenueImportOptions): Promise<RevenueImportSummary> {
  const sha256 = o.sha256.toLowerCase();
  const id = revenueImportId(o.brandId, sha256);
  const before = await doneRow(ch, o.brandId, id);
  if (before) return summaryOf(before, true, []);

  const startedAt = Date.now();
  const parseLine = revenueLineParser(dayOf(startedAt, o.timezone));
  const log: LogRow = {
    id, brand_id: o.brandId, file_name: o.fileName, sha256, status: 'running', started_at: Math.floor(startedAt / 1000), finished_at: 0, finished_key: '',
    lines: 0, rows: 0, players: 0, days: 0, first_day: NO_DAY, last_day: NO_DAY, covered_days: [], rejected: 0, rejections: '[]', timezone: o.timezone,
  };
  await writeLog(ch, log);

  const digest = new Digest(o.maxBytes ?? Number.POSITIVE_INFINITY);
  const onInputError = (err: Error): void => {
    digest.destroy(err);
  };
  input.on('error', onInputError).pipe(digest);
  const rejections = new Rejections();
  const days = new Set<string>();
  let lines = 0;
  let accepted = 0;
  // A batch is text in pieces of PIECE_ROWS rows, each joined at once: the rows' strings die
  // young instead of piling up in the old generation until the batch is sent.
  let piece: string[] = [];
  let pieces: string[] = [];
  let pending = 0;
  // One insert in flight while the next batch is read: reading and ClickHouse's parsing overlap,
  // and memory holds at most two batches.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (piece.length > 0) pieces.push(piece.join(''));
    const body = pieces;
    piece = [];
    pieces = [];
    pending = 0;
    await inFlight;
    inFlight = insertRows(ch, body);
    // Seen at the next flush or at the end; until then a failure must not go unhandled.
    inFlight.catch(() => undefined);
  };
  try {
    for await (const batch of fileBatches(digest, o.format)) {
      for (const l of batch) {
        lines++;
        if (!('record' in l)) {
          rejections.add(l);
          continue;
        }
        const row = parseLine(l.record);
        if ('code' in row) {
          rejections.add({ line: l.line, ...row });
          continue;
        }
        accepted++;
        days.add(row.day);
        piece.push(tsv(o.brandId, id, l.line, row));
        if (piece.length === PIECE_ROWS) {
          pieces.push(piece.join(''));
          piece = [];
        }
        if (++pending >= BATCH_ROWS) await flush();
      }
      o.onProgress?.(lines, digest.bytes);
    }
    if (pending > 0) await flush();
  } finally {
    input.off('error', onInputError).unpipe(digest);
    // Nothing may land after the caller hears of a failure: the insert in flight ends first.
    await inFlight.catch(() => undefined);
  }
  await inFlight;

  const actual = digest.hash.digest('hex');
  const sorted = [...days].sort();
  const first = sorted[0] ?? NO_DAY;
  const last = sorted[sorted.length - 1] ?? NO_DAY;
  const where = `brand_id = ${quote(o.brandId)} AND import_id = ${quote(id)} AND day >= toDate(${quote(first)}) AND day <= toDate(${quote(last)})`;
  if (actual !== sha256) {
    if (accepted > 0) await removeRows(ch, o.brandId, id);
    throw new AffstreamError('invalid_parameter', `sha256: the file read has SHA-256 ${actual}, not the declared ${sha256}`);
  }
  const counted = accepted > 0 ? await countRows(ch, where, accepted) : { rows: 0, players: 0, repeats: [] };
  for (const r of counted.repeats) rejections.add(r);
  // The repeats beyond those listed are counted, not listed.
  rejections.count += accepted - counted.rows - counted.repeats.length;
  const superseded = (await currentImports(ch, o.brandId, sorted)).filter((s) => s.importId !== id);
  const finishedAt = Date.now();
  const done: LogRow = {
    ...log,
    status: 'done',
    finished_at: Math.floor(finishedAt / 1000),
    finished_key: `${String(finishedAt).padStart(15, '0')}:${id}`,
    lines,
    rows: counted.rows,
    players: counted.players,
    days: sorted.length,
    first_day: first,
    last_day: last,
    covered_days: sorted,
    rejected: rejections.count,
    rejections: JSON.stringify(rejections.first()),
  };
  await writeLog(ch, done);
  return summaryOf(done, false, superseded);
}

/**
 * Removes rows written under an import's id from bytes that were not its file, and waits until
 * ClickHouse has: the file itself, imported later, must find none of them.
 */
async function removeRows(ch: ClickHouseClient, brandId: string, id: string): Promise<void> {
  await ch.command({ query: `ALTER TABLE revenue_rows DELETE WHERE brand_id = ${quote(brandId)} AND import_id = ${quote(id)}` });
  for (;;) {
    const [left] = await selectRows<{ n: number }>(ch, `SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = 'revenue_rows' AND is_done = 0`);
    if (Number(left?.n ?? 0) === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
