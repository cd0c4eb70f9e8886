/**
 * The lines of an import file (docs/protocol.md, “File import” and “Revenue import”), read as a
 * stream: CSV with a header row, or JSONL. Shared by `affstream import events` and the revenue
 * import (CLI and `POST /api/v1/revenue-imports`), so that every import numbers lines and reports
 * unreadable ones the same way: the header is line 1, a CSV record spanning lines is numbered by
 * its last line.
 *
 * Lines come in batches — what one chunk of the input held — rather than one promise per line: at a
 * million lines a file, awaiting each line costs more than parsing it.
 */
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
// csv-parse, of the same project as the csv-stringify the reports use: RFC 4180 quoting (commas
// and line breaks inside quotes, doubled quotes), a BOM from spreadsheet exports, streaming for
// files of millions of rows, and the line number of every record and of every record it skips.
import { Parser, type CsvError } from 'csv-parse';

/** A line of a file: a record read from it, or why it could not be read. */
export type FileLine = { line: number; record: unknown } | LineRejection;

/** A rejected line, and the code saying why. */
export interface LineRejection {
  line: number;
  code: string;
  message: string;
}

/** The formats a file may have, by how its name ends. */
export type FileFormat = 'csv' | 'jsonl';

const FORMATS: Record<string, FileFormat> = { '.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

/** The format of a file named `name` (`.csv`, `.jsonl`, `.ndjson`), or undefined. */
export function formatOf(name: string): FileFormat | undefined {
  return FORMATS[extname(name).toLowerCase()];
}

/**
 * csv-parse with each record tagged with the line it ended on. The parser's `info.lines` is
 * current only while a record is being pushed (its `info` option copies the whole state into every
 * record, which costs more than the parsing).
 */
class NumberedParser extends Parser {
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    return super.push(chunk === null ? null : { line: this.info.lines, fields: chunk }, encoding);
  }
}

/**
 * Everything a readable holds now, then waits for more; ends with the stream, throws its error.
 * A consumer that stops early destroys the stream.
 */
async function* drain<T>(stream: Readable): AsyncGenerator<T[]> {
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let ended = false;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (err: Error): void => {
    failure = err;
    notify();
  };
  stream.on('readable', notify).once('end', onEnd).once('error', onError);
  try {
    for (;;) {
      if (failure) throw failure;
      const batch: T[] = [];
      for (let v: T | null; (v = stream.read() as T | null) !== null; ) batch.push(v);
      if (batch.length > 0) yield batch;
      else if (ended) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off('readable', notify).off('end', onEnd).off('error', onError);
    if (!ended) stream.destroy();
  }
}

/**
 * Records of a CSV file with a header row, as objects keyed by the header's names. An empty cell
 * is an absent field, as in a postback (an empty `brand` would not match).
 */
export async function* csvBatches(input: Readable): AsyncGenerator<FileLine[]> {
  const skipped: LineRejection[] = [];
  const parser = new NumberedParser({
    bom: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // Records of the wrong length are refused below, against the header, by line.
    relax_column_count: true,
    on_skip: (err: CsvError | undefined) => {
      // The parser's errors carry the line they stopped at, untyped.
      const line = typeof (err as { lines?: unknown } | undefined)?.lines === 'number' ? (err as unknown as { lines: number }).lines : 0;
      skipped.push({ line, code: 'invalid_csv', message: err?.message ?? 'unreadable record' });
    },
  });
  const onInputError = (err: Error): void => {
    parser.destroy(err);
  };
  input.on('error', onInputError).pipe(parser);
  try {
    let columns: string[] | undefined;
    for await (const records of drain<{ line: number; fields: string[] }>(parser)) {
      const out: FileLine[] = [];
      for (const { line, fields } of records) {
        // The parser runs ahead of this loop: the records it skipped may lie after this one.
        while (skipped.length > 0 && (skipped[0] as LineRejection).line < line) out.push(skipped.shift() as LineRejection);
        if (columns === undefined) {
          columns = fields;
          continue;
        }
        if (fields.length !== columns.length) {
          out.push({ line, code: 'invalid_csv', message: `Invalid Record Length: columns length is ${columns.length}, got ${fields.length} on line ${line}` });
          continue;
        }
        const record: Record<string, string> = {};
        for (let i = 0; i < fields.length; i++) if (fields[i] !== '') record[columns[i] as string] = fields[i] as string;
        out.push({ line, record });
      }
      if (out.length > 0) yield out;
    }
    if (skipped.length > 0) yield skipped.splice(0);
  } finally {
    input.off('error', onInputError).unpipe(parser);
  }
}

/** Lines of a JSONL file, one JSON value each; blank ones skipped. */
export async function* jsonlBatches(input: Readable): AsyncGenerator<FileLine[]> {
  const decoder = new StringDecoder('utf8');
  let line = 0;
  let rest = '';
  const parse = (text: string, out: FileLine[]): void => {
    line++;
    const json = line === 1 ? text.replace(/^\uFEFF/, '') : text;
    if (json.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(json);
    } catch {
      out.push({ line, code: 'invalid_json', message: 'not a JSON value' });
      return;
    }
    out.push({ line, record });
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    const out: FileLine[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      parse(text.slice(start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl), out);
      start = nl + 1;
    }
    rest = text.slice(start);
    if (out.length > 0) yield out;
  }
  rest += decoder.end();
  const out: FileLine[] = [];
  if (rest !== '') parse(rest.endsWith('\r') ? rest.slice(0, -1) : rest, out);
  if (out.length > 0) yield out;
}

/** The batches of lines of a file in `format`. */
export function fileBatches(input: Readable, format: FileFormat): AsyncGenerator<FileLine[]> {
  return format === 'csv' ? csvBatches(input) : jsonlBatches(input);
}

/** One line at a time, for importers that handle lines one by one. */
export async function* oneByOne(batches: AsyncIterable<FileLine[]>): AsyncGenerator<FileLine> {
  for await (const batch of batches) yield* batch;
}

/** Records of a CSV file with a header row, one at a time ({@link csvBatches}). */
export function csvLines(input: Readable): AsyncGenerator<FileLine> {
  return oneByOne(csvBatches(input));
}

/** Lines of a JSONL file, one at a time ({@link jsonlBatches}). */
export function jsonlLines(input: Readable): AsyncGenerator<FileLine> {
  return oneByOne(jsonlBatches(input));
}
