/**
 * `POST /api/v1/revenue-imports?brand=<id>&sha256=<hex>[&file=<name>]` (admin token;
 * docs/protocol.md, “Revenue import”): a revenue file as the request body (`text/csv` or
 * `application/x-ndjson`), imported as it arrives by the importer the CLI uses
 * (node/revenue/import.ts), then merged into the commission books (node/revenue/merge.ts); the
 * answer is the import's summary with its merge: 200, or 503 when the import is done but its merge
 * could not be done (the client's retry — the same file again — is what merges it).
 *
 * Not through `route()` (node/http.ts), which buffers a body whole: the body is a stream fed from
 * `res.onData`, and uWS stops reading the socket (`pause`) while the importer has not taken what
 * came, so a file of any size holds a bounded amount of memory. `sha256` names the import before
 * its first byte is read (the importer checks it against the bytes at the end). A body over
 * `edge.maxImportBodyBytes` is answered 413 — at once when its Content-Length says so, else once
 * the importer has stopped and its last insert has ended: what it wrote belongs to an import that
 * is not done, which nothing reads.
 */
import { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { FileFormat } from '../../schema/fileLines.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { requireBearer } from '../auth.ts';
import { errorReply, json, send, type Reply } from '../http.ts';
import { badParam } from '../requestParams.ts';
import { importRevenue, type RevenueImportOptions } from './import.ts';
import { mergeFailed, mergeImport, type MergedImportSummary, type RevenueMergeDeps } from './merge.ts';

/** What the endpoint needs. */
export interface RevenueApiDeps extends RevenueMergeDeps {
  adminToken: string;
  /** `edge.maxImportBodyBytes`. */
  maxBytes: number;
  log: (err: unknown) => void;
}

/** Body media types and the file format each is. */
const MEDIA_TYPES: Record<string, FileFormat> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
};

const SHA256 = /^[0-9a-fA-F]{64}$/;

/** The import a request asks for; throws the 4xx it gets otherwise. */
function importOf(d: RevenueApiDeps, h: { authorization: string; contentType: string; contentLength: string }, query: URLSearchParams): Omit<RevenueImportOptions, 'maxBytes'> {
  requireBearer(h.authorization, d.adminToken);
  const brandId = query.get('brand') ?? '';
  if (brandId === '') throw badParam('brand', 'the id of the brand the figures belong to');
  const brand = d.catalog.get('brands', brandId);
  if (!brand) throw new AffstreamError('unknown_brand', `no brand ${brandId}`);
  const sha256 = query.get('sha256') ?? '';
  if (!SHA256.test(sha256)) throw badParam('sha256', 'the SHA-256 of the body, 64 hex digits (it names the import)');
  const fileName = query.get('file') ?? 'upload';
  if (fileName.length > 255) throw badParam('file', 'a file name of at most 255 characters');
  const media = h.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const format = MEDIA_TYPES[media];
  if (!format) throw new AffstreamError('unsupported_media_type', `Content-Type must be one of ${Object.keys(MEDIA_TYPES).join(', ')}`);
  if (Number(h.contentLength || '0') > d.maxBytes) throw new AffstreamError('body_too_large', `the file exceeds ${d.maxBytes} bytes`);
  return { brandId, timezone: brand.timezone, fileName, format, sha256 };
}

/**
 * The answer to a done import: 200, or 503 with the error body's `ok` and `error` besides the
 * summary when the merge failed, so that a client retrying on 5xx sends the file again, which
 * merges it (a duplicate import still merges).
 */
export function revenueImportReply(s: MergedImportSummary): Reply {
  return mergeFailed(s.merge) ? json(503, { ok: false, error: s.merge.error, ...s }) : json(200, s);
}

/** The uWS handler of `POST /api/v1/revenue-imports`. */
export function revenueImportHandler(d: RevenueApiDeps): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    // The request dies when this function returns: everything is read from it first.
    const headers = { authorization: req.getHeader('authorization'), contentType: req.getHeader('content-type'), contentLength: req.getHeader('content-length') };
    const query = new URLSearchParams(req.getQuery() ?? '');
    // Once answered or aborted, `res` must not be touched again.
    let finished = false;
    let paused = false;
    const body = new Readable({
      read: () => {
        if (!paused || finished) return;
        paused = false;
        res.resume();
      },
    });
    // The importer sees the body's failures through its own listener; a failure after it stopped
    // listening (a duplicate is answered without reading the body) must not go unhandled.
    body.on('error', () => undefined);
    res.onAborted(() => {
      finished = true;
      body.destroy(new Error('the client closed the connection'));
    });
    const answer = (reply: Reply): void => {
      if (finished) return;
      finished = true;
      // A paused socket would never read the rest of the body, nor close.
      if (paused) res.resume();
      send(res, reply);
      // What is left of the body is read and dropped.
      body.destroy();
    };
    let opts: Omit<RevenueImportOptions, 'maxBytes'>;
    try {
      opts = importOf(d, headers, query);
    } catch (err) {
      answer(errorReply(err, d.log));
      return;
    }
    let received = 0;
    res.onData((chunk, isLast) => {
      if (finished || body.destroyed) return;
      received += chunk.byteLength;
      if (received > d.maxBytes) {
        body.destroy(new AffstreamError('body_too_large', `the file exceeds ${d.maxBytes} bytes`));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      const more = body.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) body.push(null);
      else if (!more && !paused) {
        paused = true;
        res.pause();
      }
    });
    importRevenue(d.ch, body, { ...opts, maxBytes: d.maxBytes }).then(
      async (summary) => answer(revenueImportReply(await mergeImport(d, summary, d.log))),
      (err: unknown) => {
        if (finished) return;
        if (err instanceof AffstreamError) return answer(errorReply(err, d.log));
        d.log(err);
        answer(errorReply(new AffstreamError('unavailable', 'revenue imports are unavailable (ClickHouse); the import is not done: send it again'), d.log));
      },
    );
  };
}
