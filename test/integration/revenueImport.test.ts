/**
 * The revenue import against the real servers: `affstream import revenue` and
 * `POST /api/v1/revenue-imports` into a test cluster's ClickHouse, read back through the
 * `revenue_current` view the reports use. The summary's figures and rejected lines; the same file
 * again (a duplicate, nothing changes); a corrected file (it replaces its own days only, both in
 * the log); an upload cut off by SIGKILL of the edge half-way (never current) and sent again with
 * ClickHouse's merges stopped (one row per line all the same); a body over the limit (413, nothing
 * visible); a body whose SHA-256 is not the declared one (400, its rows removed).
 */
import { request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import type { RevenueImportSummary } from '../../node/revenue/import.ts';
import { freePort, TestCluster, waitFor } from './cluster.ts';

/** The edge's body limit in this test: room for the big uploads, not for the too-large one. */
const MAX_BYTES = 12 * 1024 * 1024;
process.env.AFFSTREAM_MAX_IMPORT_BODY_BYTES = String(MAX_BYTES);

const cluster = new TestCluster('revenue');
const dir = mkdtempSync(join(tmpdir(), 'affstream-revenue-'));
let port = 0;

const HEADER = 'player_id,day,ggr,bonuses,ngr,stakes,wins,deposits';
const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs `affstream import revenue <file> --brand <brand> --json` against the test cluster. */
async function importFile(file: string, text: string, brand = 'casino'): Promise<{ code: number; summary: RevenueImportSummary | undefined; stderr: string }> {
  writeFileSync(join(dir, file), text);
  const { code, stdout, stderr } = await cluster.cli(['import', 'revenue', join(dir, file), '--brand', brand, '--json']);
  return { code, summary: stdout ? (JSON.parse(stdout) as RevenueImportSummary) : undefined, stderr };
}

/** POST a body to the endpoint; `body` may be a stream (sent chunked, no Content-Length). */
async function upload(body: Buffer | Readable, q: { sha: string; brand?: string; type?: string; file?: string }): Promise<{ status: number; json: any }> {
  const query = new URLSearchParams({ brand: q.brand ?? 'casino', sha256: q.sha, file: q.file ?? 'upload.csv' });
  const r = await request(`http://127.0.0.1:${port}/api/v1/revenue-imports?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cluster.token}`, 'content-type': q.type ?? 'text/csv' },
    body,
  });
  return { status: r.statusCode, json: await r.body.json() };
}

/**
 * POST `body` with node:http, in chunks, and resolve on the answer even when the edge closes the
 * connection before the body is all sent (as it does after an early 413): an HTTP client that
 * insists on sending its whole body first would see only the reset.
 */
function uploadUntilAnswered(body: Buffer, q: { sha: string; contentLength: boolean }): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${cluster.token}`, 'content-type': 'text/csv' };
    if (q.contentLength) headers['content-length'] = String(body.length);
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: `/api/v1/revenue-imports?brand=casino&sha256=${q.sha}`, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    let answered = false;
    req.on('response', () => (answered = true));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const send = (offset: number): void => {
      if (offset >= body.length) return void req.end();
      const more = req.write(body.subarray(offset, offset + 65_536));
      if (more) setImmediate(() => send(offset + 65_536));
      else req.once('drain', () => send(offset + 65_536));
    };
    send(0);
  });
}

/** `revenue_current` of a brand, money as exact text. */
function current(brand = 'casino'): Promise<{ day: string; player_id: string; ggr: string; bonuses: string; ngr: string; stakes: string; wins: string; deposits: string; import_id: string }[]> {
  return cluster.query(
    `SELECT toString(day) AS day, player_id, toString(ggr) AS ggr, toString(bonuses) AS bonuses, toString(ngr) AS ngr, toString(stakes) AS stakes,
            toString(wins) AS wins, toString(deposits) AS deposits, import_id
     FROM revenue_current WHERE brand_id = '${brand}' ORDER BY day, player_id`,
  );
}

/** A file of `n` lines for brand `bulk`: 20 days of 2026-10, short lines, distinct (player, day). */
function bulkLines(n: number, from = 0): string {
  let text = '';
  for (let i = from; i < from + n; i++) text += `p${Math.floor(i / 20)},2026-10-${String(1 + (i % 20)).padStart(2, '0')},${i % 997}.5,1,${i % 997}.5,,,\n`;
  return text;
}

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', timezone: 'Europe/Malta' }],
    ['brands/bulk', { name: 'Bulk', currency: 'EUR' }],
  ]);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cluster.teardown();
});

const FIRST = [
  `\uFEFF${HEADER}`,
  'p1,2026-10-01,100.5,10,90.5,1000,899.5,200',
  '"p,2",2026-10-01,-20,0,-20,,,',
  'p3,2026-10-01,1.23456,0,1,,,',
  'p1,2026-10-02,5,0,5,,,',
  'p4,2026-10-02,7,1',
  'p1,2026-10-01,999,0,999,,,',
  'p5,2026-10-02,3,,3,,,',
  'p6,2026-10-03,0.0001,0,0.0001,,,50.25',
  '',
].join('\r\n');

describe('affstream import revenue', () => {
  let first: RevenueImportSummary;

  it('imports a file: the summary counts lines, rows, players and days, and lists each rejected line with its reason', async () => {
    const r = await importFile('first.csv', FIRST);
    expect(r.code, r.stderr).toBe(1);
    first = r.summary as RevenueImportSummary;
    expect(first).toMatchObject({
      brandId: 'casino', sha256: sha256(FIRST), duplicate: false, timezone: 'Europe/Malta',
      lines: 8, rows: 4, players: 3, days: 3, firstDay: '2026-10-01', lastDay: '2026-10-03', rejected: 4, superseded: [],
    });
    expect(first.rejections).toEqual([
      { line: 4, code: 'invalid_field', message: 'ggr must be a decimal with at most 4 places, got "1.23456"' },
      { line: 6, code: 'invalid_csv', message: 'Invalid Record Length: columns length is 8, got 4 on line 6' },
      { line: 7, code: 'duplicate_line', message: 'player p1 on 2026-10-01 is on line 2 already' },
      { line: 8, code: 'missing_field', message: 'bonuses is required' },
    ]);
    expect(await current()).toEqual([
      { day: '2026-10-01', player_id: 'p,2', ggr: '-20.0000', bonuses: '0.0000', ngr: '-20.0000', stakes: '0.0000', wins: '0.0000', deposits: '0.0000', import_id: first.importId },
      { day: '2026-10-01', player_id: 'p1', ggr: '100.5000', bonuses: '10.0000', ngr: '90.5000', stakes: '1000.0000', wins: '899.5000', deposits: '200.0000', import_id: first.importId },
      { day: '2026-10-02', player_id: 'p1', ggr: '5.0000', bonuses: '0.0000', ngr: '5.0000', stakes: '0.0000', wins: '0.0000', deposits: '0.0000', import_id: first.importId },
      { day: '2026-10-03', player_id: 'p6', ggr: '0.0001', bonuses: '0.0000', ngr: '0.0001', stakes: '0.0000', wins: '0.0000', deposits: '50.2500', import_id: first.importId },
    ]);
  });

  it('the same file again is a duplicate: the first import’s summary, and nothing written', async () => {
    const rowsBefore = await cluster.query<{ n: number }>('SELECT count() AS n FROM revenue_rows');
    const logBefore = await cluster.query<{ n: number }>('SELECT count() AS n FROM revenue_imports');
    const r = await importFile('again.csv', FIRST);
    expect(r.code).toBe(1);
    expect(r.summary).toEqual({ ...first, duplicate: true, superseded: [] });
    expect(await cluster.query('SELECT count() AS n FROM revenue_rows')).toEqual(rowsBefore);
    expect(await cluster.query('SELECT count() AS n FROM revenue_imports')).toEqual(logBefore);
  });

  it('a corrected file replaces the days it has, and only those; both imports stay in the log', async () => {
    const corrected = [HEADER, 'p1,2026-10-02,6,1,5,,,', 'p7,2026-10-02,2,0,2,,,', 'p6,2026-10-03,0.0002,0,0.0002,,,50.25', ''].join('\n');
    const r = await importFile('corrected.csv', corrected);
    expect(r.code, r.stderr).toBe(0);
    const second = r.summary as RevenueImportSummary;
    expect(second).toMatchObject({ lines: 3, rows: 3, players: 3, days: 2, rejected: 0, rejections: [], superseded: [{ importId: first.importId, days: 2 }] });
    expect(second.importId).not.toBe(first.importId);
    expect((await current()).map((c) => [c.day, c.player_id, c.ngr, c.import_id])).toEqual([
      ['2026-10-01', 'p,2', '-20.0000', first.importId],
      ['2026-10-01', 'p1', '90.5000', first.importId],
      ['2026-10-02', 'p1', '5.0000', second.importId],
      ['2026-10-02', 'p7', '2.0000', second.importId],
      ['2026-10-03', 'p6', '0.0002', second.importId],
    ]);
    const log = await cluster.query<{ id: string; status: string; rows: number }>("SELECT id, status, rows FROM revenue_imports FINAL WHERE brand_id = 'casino' AND status = 'done' ORDER BY finished_key");
    expect(log).toEqual([
      { id: first.importId, status: 'done', rows: 4 },
      { id: second.importId, status: 'done', rows: 3 },
    ]);
    // Importing the first file again changes nothing: the corrected figures stay current.
    expect((await importFile('first-again.csv', FIRST)).summary?.duplicate).toBe(true);
    expect((await current()).filter((c) => c.day === '2026-10-02').map((c) => c.import_id)).toEqual([second.importId, second.importId]);
  });

  it('refuses bad usage with exit code 2, and an unknown brand with 1', async () => {
    expect((await importFile('x.txt', FIRST)).code).toBe(2);
    const r = await importFile('unknown.csv', FIRST, 'nobrand');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no brand nobrand');
  });
});

describe('POST /api/v1/revenue-imports', () => {
  const LINES = 300_000;
  const text = `${HEADER}\n${bulkLines(LINES)}`;
  const sha = sha256(text);

  it('a JSONL body: the same importer and summary; 401, 404, 415 and 400 before any byte is read', async () => {
    const jsonl = '{"player_id":"j1","day":"2026-10-05","ggr":"3.5","bonuses":"0","ngr":"3.5"}\n{"player_id":"j1","day":"2026-10-05","ggr":1,"bonuses":0,"ngr":1}\n';
    const r = await upload(Buffer.from(jsonl), { sha: sha256(jsonl), type: 'application/x-ndjson', file: 'j.jsonl' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ fileName: 'j.jsonl', lines: 2, rows: 1, rejected: 1, rejections: [{ line: 2, code: 'duplicate_line' }] });
    const bad = async (init: Parameters<typeof request>[1], query: string) => {
      const a = await request(`http://127.0.0.1:${port}/api/v1/revenue-imports?${query}`, { method: 'POST', body: 'x', ...init });
      return [a.statusCode, ((await a.body.json()) as { error: { code: string } }).error.code];
    };
    const auth = { authorization: `Bearer ${cluster.token}`, 'content-type': 'text/csv' };
    expect(await bad({ headers: { 'content-type': 'text/csv' } }, `brand=casino&sha256=${sha}`)).toEqual([401, 'unauthorized']);
    expect(await bad({ headers: auth }, `brand=nobrand&sha256=${sha}`)).toEqual([404, 'unknown_brand']);
    expect(await bad({ headers: { ...auth, 'content-type': 'application/json' } }, `brand=casino&sha256=${sha}`)).toEqual([415, 'unsupported_media_type']);
    expect(await bad({ headers: auth }, 'brand=casino&sha256=abc')).toEqual([400, 'invalid_parameter']);
  });

  it('an upload cut off by SIGKILL of the edge is never current; sent again whole (merges stopped) it leaves one row per line', async () => {
    // Half the file, then the edge dies while the request is still open.
    const body = new PassThrough();
    const answer = upload(body, { sha, brand: 'bulk' }).catch((err: Error) => err);
    // Past the importer's first batch of rows (node/revenue/import.ts, BATCH_ROWS), short of the end.
    const cut = text.split('\n', 250_001).join('\n').length + 1;
    expect(text.length).toBeLessThan(MAX_BYTES);
    body.write(text.slice(0, cut));
    const rowsOf = async () => Number((await cluster.query<{ n: number }>("SELECT count() AS n FROM revenue_rows WHERE brand_id = 'bulk'"))[0]?.n);
    // The first batch of rows is in ClickHouse: the import is half-written.
    await waitFor('a batch of the upload in ClickHouse', async () => ((await rowsOf()) > 0 ? true : undefined), 60_000, 50);
    const edge = cluster.processes.find((p) => p.kind === 'edge' && p.running);
    await edge?.stop('SIGKILL');
    expect(await answer).toBeInstanceOf(Error);
    const written = await rowsOf();
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(LINES);
    expect(await cluster.query("SELECT status FROM revenue_imports WHERE brand_id = 'bulk'")).toEqual([{ status: 'running' }]);
    expect(await current('bulk')).toEqual([]);

    const ch = clickhouse(cluster.cfg);
    await ch.command({ query: 'SYSTEM STOP MERGES revenue_rows' });
    try {
      port = await freePort();
      await cluster.edge(port);
      // The whole file, streamed in chunks of 64 KiB: far more than the edge holds at once.
      const chunks = function* () {
        for (let i = 0; i < text.length; i += 65_536) yield Buffer.from(text.slice(i, i + 65_536));
      };
      const r = await upload(Readable.from(chunks()), { sha, brand: 'bulk' });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json).toMatchObject({ duplicate: false, lines: LINES, rows: LINES, players: LINES / 20, days: 20, rejected: 0 });
      const [counts] = await cluster.query<{ raw: number; lines: number }>("SELECT count() AS raw, uniqExact(line) AS lines FROM revenue_rows WHERE brand_id = 'bulk'");
      // Both copies of the first half are there, unmerged…
      expect(Number(counts?.raw)).toBe(LINES + written);
      expect(Number(counts?.lines)).toBe(LINES);
      // …and the view has each line once, exactly.
      const [view] = await cluster.query<{ n: number; keys: number; ngr: string; imports: number }>(
        "SELECT count() AS n, uniqExact(day, player_id) AS keys, toString(sum(ngr)) AS ngr, uniqExact(import_id) AS imports FROM revenue_current WHERE brand_id = 'bulk'",
      );
      let ngr = LINES / 2;
      for (let i = 0; i < LINES; i++) ngr += i % 997;
      expect(view).toEqual({ n: LINES, keys: LINES, ngr: `${ngr}.0000`, imports: 1 });
      expect(await cluster.query("SELECT status FROM revenue_imports FINAL WHERE brand_id = 'bulk' ORDER BY status")).toEqual([{ status: 'done' }, { status: 'running' }]);
    } finally {
      await ch.command({ query: 'SYSTEM START MERGES revenue_rows' });
      await ch.close();
    }
  });

  it('a body over edge.maxImportBodyBytes is 413, at once by its Content-Length or once the importer has stopped; nothing of it is visible', async () => {
    const big = `${HEADER}\n${bulkLines(Math.ceil(MAX_BYTES / 20), 10_000_000)}`;
    expect(big.length).toBeGreaterThan(MAX_BYTES);
    const before = await current();
    const declared = await uploadUntilAnswered(Buffer.from(big), { sha: sha256(big), contentLength: true });
    expect(declared).toEqual({ status: 413, json: { ok: false, error: { code: 'body_too_large', message: `the file exceeds ${MAX_BYTES} bytes` } } });
    const streamed = await uploadUntilAnswered(Buffer.from(big), { sha: sha256(big), contentLength: false });
    expect(streamed.status).toBe(413);
    expect(streamed.json.error.code).toBe('body_too_large');
    expect(await current()).toEqual(before);
    const log = await cluster.query<{ status: string }>(`SELECT status FROM revenue_imports WHERE sha256 = '${sha256(big)}'`);
    expect(log).toEqual([{ status: 'running' }]);
  });

  it('a body that is not the file its sha256 names is 400, and the rows it wrote are removed', async () => {
    const claimed = `${HEADER}\np1,2026-10-09,1,0,1,,,\n`;
    const sent = `${HEADER}\np1,2026-10-09,1,0,1,,,\np2,2026-10-09,66,0,66,,,\n`;
    const r = await upload(Buffer.from(sent), { sha: sha256(claimed) });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe(`sha256: the file read has SHA-256 ${sha256(sent)}, not the declared ${sha256(claimed)}`);
    const ok = await upload(Buffer.from(claimed), { sha: sha256(claimed) });
    expect(ok.json).toMatchObject({ duplicate: false, lines: 1, rows: 1 });
    expect((await current()).filter((c) => c.day === '2026-10-09').map((c) => c.player_id)).toEqual(['p1']);
  });
});
