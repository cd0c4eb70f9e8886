/**
 * docs/protocol.md is enough to write a client in another language: test/clients/affstream_client.py
 * (Python, stdlib + python3-msgpack, written from the document alone) sends registrations as
 * msgpack over HTTP and a few thousand deposits and bets over the WebSocket stream, pipelined;
 * its events land exactly — counts and money to the last decimal in ClickHouse — and resending
 * them over the other transport gives duplicates only.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../cli/servers.ts';
import { parseMoney, toDecimalText } from '../../schema/money.ts';
import { freePort, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('python');
const SECRET = 'pb-secret-python-0123';
const PLAYERS = 20;
const dir = mkdtempSync(join(tmpdir(), 'affstream-python-'));
let port = 0;

/** Debian's interpreter first: python3-msgpack installs there, whatever else is first on PATH. */
function python(): string {
  for (const exe of ['/usr/bin/python3', 'python3']) if (spawnSync(exe, ['-c', 'import msgpack']).status === 0) return exe;
  throw new Error('no python3 with msgpack: install python3-msgpack (scripts/bootstrap.sh does)');
}

interface ClientSummary {
  accepted: number;
  duplicates: number;
  rejected: { line: number; code: string }[];
  requests: number;
}

function runClient(transport: 'http' | 'ws', file: string, batch: number, secret = SECRET): Promise<{ code: number; summary?: ClientSummary; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      python(),
      ['test/clients/affstream_client.py', '--url', `http://127.0.0.1:${port}`, '--brand', 'casino', '--batch', String(batch), transport, join(dir, file)],
      { cwd: PROJECT_ROOT, env: { ...process.env, AFFSTREAM_POSTBACK_SECRET: secret, PYTHONDONTWRITEBYTECODE: '1' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, summary: stdout ? (JSON.parse(stdout) as ClientSummary) : undefined, stderr }),
    );
  });
}

const jsonl = (events: unknown[]) => `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  cluster.worker();
  await cluster.edge(port);
  expect((await cluster.put(port, 'brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET })).status).toBe(201);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cluster.teardown();
});

describe('a Python client written from docs/protocol.md', () => {
  it('sends msgpack over HTTP and over the WebSocket; every event lands once, money exact', async () => {
    writeFileSync(join(dir, 'registrations.jsonl'), jsonl(Array.from({ length: PLAYERS }, (_, i) => ({ type: 'registration', event_id: `py-r${i}`, player_id: `py${i}` }))));
    // Money as strings with up to 4 places, and as JSON numbers (doubles all the way through Python and msgpack).
    const play: Record<string, unknown>[] = [];
    for (let k = 0; k < 1200; k++) {
      const amount = k % 5 === 0 ? k / 4 : k % 7 === 0 ? 0.1 : `${k}.${String((k * 37) % 10_000).padStart(4, '0')}`;
      play.push({ type: 'deposit', event_id: `py-d${k}`, player_id: `py${k % PLAYERS}`, amount, currency: 'EUR' });
      play.push({ type: 'bet', event_id: `py-b${k}`, player_id: `py${k % PLAYERS}`, stake: `${k % 50}.5`, win: k % 2 ? '0.25' : 1.75, currency: 'EUR', category: 'slots' });
    }
    const deposits = play.filter((e) => e.type === 'deposit').reduce((s, e) => s + (parseMoney(e.amount) as bigint), 0n);
    const ggr = play.filter((e) => e.type === 'bet').reduce((s, e) => s + (parseMoney(e.stake) as bigint) - (parseMoney(e.win) as bigint), 0n);
    // A resend within the file, and an event the edge rejects (line 1001).
    play.splice(1000, 0, { type: 'deposit', event_id: 'py-bad', player_id: 'py0', amount: '1.00001', currency: 'EUR' });
    play.push({ ...play[0] });
    writeFileSync(join(dir, 'play.jsonl'), jsonl(play));

    const regs = await runClient('http', 'registrations.jsonl', 7);
    expect(regs).toEqual({ code: 0, summary: { accepted: PLAYERS, duplicates: 0, rejected: [], requests: 3 }, stderr: '' });
    const stream = await runClient('ws', 'play.jsonl', 20);
    expect(stream.stderr).toBe('');
    expect(stream.summary).toMatchObject({ accepted: 2400, duplicates: 1, rejected: [{ line: 1001, code: 'invalid_field' }], requests: 121 });
    expect(stream.code).toBe(1);

    const rows = await waitFor('the Python client’s events in ClickHouse', async () => {
      const r = await cluster.query<{ source: string; n: number; ids: number; deposits: string; ggr: string }>(
        "SELECT source, count() AS n, uniqExact(event_id) AS ids, toString(sumIf(amount, type = 'deposit')) AS deposits, toString(sum(ggr)) AS ggr FROM events GROUP BY source ORDER BY source",
      );
      return r.reduce((s, x) => s + x.n, 0) === PLAYERS + 2400 ? r : undefined;
    });
    expect(rows).toEqual([
      { source: 'msgpack', n: PLAYERS, ids: PLAYERS, deposits: '0.0000', ggr: '0.0000' },
      { source: 'stream', n: 2400, ids: 2400, deposits: toDecimalText(deposits), ggr: toDecimalText(ggr) },
    ]);

    // The same events over the other transport, one big batch each: duplicates, nothing counted twice.
    const again = await runClient('http', 'play.jsonl', 10_000);
    expect(again.summary).toMatchObject({ accepted: 0, duplicates: 2401, rejected: [{ line: 1001, code: 'invalid_field' }], requests: 1 });
    const [count] = await cluster.query<{ n: number }>('SELECT count() AS n FROM events');
    expect(count).toEqual({ n: PLAYERS + 2400 });
  });

  it('reports a refused upgrade with its status and code', async () => {
    writeFileSync(join(dir, 'one.jsonl'), jsonl([{ type: 'kyc', event_id: 'py-k1', player_id: 'py1', status: 'approved' }]));
    const refused = await runClient('ws', 'one.jsonl', 1, 'not-the-secret');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('AffstreamError: 401 unauthorized');
  });
});
