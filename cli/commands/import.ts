/**
 * `affstream import events <file.csv|file.jsonl> --brand <id>` (docs/protocol.md, “File import”):
 * batch import of player events through the edge's own `POST /v1/events` — msgpack, signed with the
 * brand's `postbackSecret` like any platform's batch, marked `source=import` — so that imported
 * events are validated, deduplicated and attributed exactly as live ones. Event ids make a rerun
 * safe: what was accepted before comes back as duplicates. `affstream import revenue` is
 * cli/commands/importRevenue.ts.
 */
import { createHmac } from 'node:crypto';
import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { encode } from '@msgpack/msgpack';
import { bootConfig } from '../../schema/bootConfig.ts';
import { SOURCE_HEADER } from '../../node/ingest/webhook.ts';
import { CliError } from '../command.ts';
import { fileBatches, formatOf, oneByOne, type FileLine, type LineRejection } from '../../schema/fileLines.ts';
import { httpCall, type HttpAnswer } from '../http.ts';
import { localEdgeUrl, readUpState } from '../upState.ts';
import { importRevenueFile, REVENUE_HELP } from './importRevenue.ts';

export const name = 'import';
export const summary = 'import player events, or the platform’s daily revenue, from a CSV or JSONL file (idempotent)';
export const help = `Usage: affstream import events <file.csv|file.jsonl> --brand <id> [--edge URL] [--batch N]
       affstream import revenue <file.csv|file.jsonl> --brand <id> [--json]

affstream import events

Sends the events of a file to the edge as signed msgpack batches (POST /v1/events), marked
source=import. They are validated, deduplicated and attributed like live events: importing the
same file again reports every event as a duplicate.

File formats (the event fields and values of docs/protocol.md, “1. Events”):
  .csv            a header row naming the fields, one event per row; empty cells are absent fields
  .jsonl/.ndjson  one JSON object per line; blank lines are skipped. Write money with more than
                  15 significant digits as a string ("123456789012.3456"): JSON numbers are doubles

Options:
  --brand ID     the brand the events belong to (required)
  --edge URL     the edge to send to (default: this host's edge from cluster.config.ts)
  --batch N      events per batch (default and maximum: edge.maxEventsPerBatch); batches are
                 also kept under edge.maxEventBodyBytes
  -h, --help     show this text

The brand's postbackSecret is read through the admin API with AFFSTREAM_ADMIN_TOKEN, or the
token \`affstream up\` wrote to <dataDir>/run/up.json.

Prints how many events were accepted and were duplicates, and each rejected line with its number
(the header is line 1) and code: the edge's codes (docs/protocol.md), or invalid_csv and
invalid_json for lines that could not be read, and body_too_large for an event that alone
exceeds a batch. Exit code: 0 when nothing was rejected, 1 otherwise or when the edge could not
take the file (the events sent until then are in; rerun to finish), 2 on bad usage.

${REVENUE_HELP}`;

/** What an import did. */
export interface ImportSummary {
  accepted: number;
  duplicates: number;
  /** By line number. */
  rejected: LineRejection[];
  /** Set when the edge could not take a batch: the lines from `line` on were not imported. */
  stopped?: { line: number; reason: string };
}

/** The edge's answer to a batch (docs/protocol.md, “3. Batches over HTTP”). */
export interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: { index: number; code: string; message: string }[];
}

/**
 * Sends `lines` in batches of at most `maxEvents` events and `maxBytes` of msgpack envelope, in
 * file order, one batch at a time; maps the edge's rejections (batch indexes) back to lines.
 */
export async function importEvents(
  lines: AsyncIterable<FileLine>,
  o: { brand: string; maxEvents: number; maxBytes: number; send: (events: unknown[]) => Promise<BatchAnswer> },
): Promise<ImportSummary> {
  const summary: ImportSummary = { accepted: 0, duplicates: 0, rejected: [] };
  // An envelope's size is its empty form plus its events' encodings, plus up to 4 bytes as the
  // array's header grows from one byte (up to 15 items) to five.
  const overhead = encode({ brand: o.brand, events: [] }).byteLength + 4;
  let batch: { line: number; record: unknown }[] = [];
  let bytes = overhead;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const answer = await o.send(batch.map((b) => b.record));
    summary.accepted += answer.accepted;
    summary.duplicates += answer.duplicates;
    for (const r of answer.rejected) summary.rejected.push({ line: batch[r.index]?.line ?? 0, code: r.code, message: r.message });
    batch = [];
    bytes = overhead;
  };
  try {
    for await (const l of lines) {
      if (!('record' in l)) {
        summary.rejected.push(l);
        continue;
      }
      const size = encode(l.record).byteLength;
      if (overhead + size > o.maxBytes) {
        summary.rejected.push({ line: l.line, code: 'body_too_large', message: `the event alone exceeds a batch of ${o.maxBytes} bytes` });
        continue;
      }
      if (batch.length === o.maxEvents || bytes + size > o.maxBytes) await flush();
      batch.push(l);
      bytes += size;
    }
    await flush();
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    summary.stopped = { line: batch[0]?.line ?? 0, reason: err.message };
  }
  summary.rejected.sort((a, b) => a.line - b.line);
  return summary;
}

/** Attempts per batch when the edge is unreachable or answers 503 (a resend is safe: event ids). */
const ATTEMPTS = 5;

function describeAnswer(a: HttpAnswer): string {
  try {
    const e = (JSON.parse(a.body) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) return `${a.status} ${e.code}: ${e.message ?? ''}`;
  } catch {
    // Not the edge's JSON error: show the status alone.
  }
  return `status ${a.status}`;
}

/** A sender of signed msgpack batches marked `source=import`; throws {@link CliError} when the edge cannot take one. */
export function batchSender(edge: string, brand: string, secret: string): (events: unknown[]) => Promise<BatchAnswer> {
  return async (events) => {
    const body = encode({ brand, events });
    const headers = {
      'Content-Type': 'application/msgpack',
      'X-Signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      [SOURCE_HEADER]: 'import',
    };
    for (let attempt = 1; ; attempt++) {
      let a: HttpAnswer | undefined;
      let failure = '';
      try {
        a = await httpCall('POST', `${edge}/v1/events`, { headers, body, timeoutMs: 60_000 });
      } catch (err) {
        failure = (err as Error).message;
      }
      if (a?.status === 200) return JSON.parse(a.body) as BatchAnswer;
      if (a) {
        failure = describeAnswer(a);
        if (a.status !== 503) throw new CliError(`the edge refused a batch: ${failure}`);
      }
      if (attempt === ATTEMPTS) throw new CliError(`the edge did not take a batch after ${ATTEMPTS} attempts: ${failure}`);
      await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    }
  };
}

/** The brand's postback secret, through the admin API. */
async function brandSecret(edge: string, brand: string, token: string): Promise<string> {
  let a: HttpAnswer;
  try {
    a = await httpCall('GET', `${edge}/api/v1/brands/${encodeURIComponent(brand)}`, { headers: { Authorization: `Bearer ${token}` }, timeoutMs: 10_000 });
  } catch (err) {
    throw new CliError(`cannot reach the edge at ${edge}: ${(err as Error).message} (is \`affstream up\` running? --edge URL)`);
  }
  if (a.status === 404) throw new CliError(`no brand ${brand} at ${edge}`);
  if (a.status === 401) throw new CliError('the admin token was refused: set AFFSTREAM_ADMIN_TOKEN to the token of the cluster at --edge');
  if (a.status !== 200) throw new CliError(`GET /api/v1/brands/${brand}: ${describeAnswer(a)}`);
  const secret = (JSON.parse(a.body) as { postbackSecret?: string | null }).postbackSecret;
  if (!secret) throw new CliError(`brand ${brand} has no postbackSecret, which signs the batches: set one (PUT /api/v1/brands/${brand})`);
  return secret;
}

/** The summary as printed. */
export function formatSummary(file: string, s: ImportSummary): string {
  const lines = [`${file}: ${s.accepted} accepted, ${s.duplicates} duplicates, ${s.rejected.length} rejected`];
  for (const r of s.rejected) lines.push(`  line ${r.line}: ${r.code}: ${r.message}`);
  if (s.stopped) lines.push(`stopped at line ${s.stopped.line}: ${s.stopped.reason}`, 'the events before it are in; run the same import again to finish');
  return `${lines.join('\n')}\n`;
}

/** Runs `affstream import`; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { brand: { type: 'string' }, edge: { type: 'string' }, batch: { type: 'string' }, json: { type: 'boolean' } },
  });
  const usage = (problem: string): number => {
    process.stderr.write(`affstream import: ${problem}\nRun \`affstream import --help\` for usage.\n`);
    return 2;
  };
  const [what, file, ...extra] = positionals;
  if (what !== 'events' && what !== 'revenue') return usage('name what to import: affstream import events|revenue <file>');
  if (file === undefined || extra.length > 0) return usage(`name one file: affstream import ${what} <file.csv|file.jsonl> --brand <id>`);
  const format = formatOf(file);
  if (!format) return usage(`${file}: the file must end in .csv, .jsonl or .ndjson`);
  if (!values.brand) return usage('--brand is required');
  if (what === 'revenue') {
    if (values.edge !== undefined || values.batch !== undefined) return usage('import revenue takes --brand and --json only');
    return importRevenueFile(file, format, values.brand, values.json ?? false);
  }
  if (values.json) return usage('--json is for import revenue');
  const cfg = await bootConfig();
  const maxEvents = cfg.edge.maxEventsPerBatch;
  const batch = values.batch === undefined ? maxEvents : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > maxEvents) return usage(`--batch must be an integer from 1 to ${maxEvents}`);

  const token = cfg.adminToken ?? readUpState(cfg)?.adminToken;
  if (!token) throw new CliError('no admin token: set AFFSTREAM_ADMIN_TOKEN, or run `affstream up`, which writes one');
  const edge = (values.edge ?? localEdgeUrl(cfg)).replace(/\/+$/, '');
  // Opened before anything goes out, so that a wrong path fails alone.
  const handle = await open(file).catch((err: Error) => {
    throw new CliError(`cannot read ${file}: ${err.message}`);
  });
  try {
    const secret = await brandSecret(edge, values.brand, token);
    const result = await importEvents(oneByOne(fileBatches(handle.createReadStream({ autoClose: false }), format)), {
      brand: values.brand,
      maxEvents: batch,
      maxBytes: cfg.edge.maxEventBodyBytes,
      send: batchSender(edge, values.brand, secret),
    });
    process.stdout.write(formatSummary(file, result));
    return result.rejected.length === 0 && !result.stopped ? 0 : 1;
  } finally {
    await handle.close();
  }
}
