/**
 * `affstream import events` end to end: CSV and JSONL files through the real CLI into a test
 * cluster — summary numbers, rejected lines with their numbers and codes, exit codes, an
 * idempotent rerun, and the imported events in ClickHouse marked source=import, exact to the
 * last decimal.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('import');
const SECRET = 'pb-secret-import-0123';
const dir = mkdtempSync(join(tmpdir(), 'affstream-import-'));
let port = 0;

const affstream = (...args: string[]) => cluster.cli(args);

const importFile = (file: string, ...flags: string[]) => affstream('import', 'events', join(dir, file), '--brand', 'casino', '--edge', `http://127.0.0.1:${port}`, ...flags);

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET }],
    ['brands/nosecret', { name: 'No secret', currency: 'EUR' }],
    ['affiliates/aff1', { name: 'Aff One' }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', landingUrl: 'https://casino.example/?cid={click_id}' }],
  ]);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cluster.teardown();
});

describe('affstream import events', () => {
  it('imports CSV and JSONL, reports rejected lines, and a rerun gives duplicates', async () => {
    const c = await click(port, 'L1', 'sub1=imp', { 'user-agent': BROWSER_UA });
    const clickId = new URL(c.location as string).searchParams.get('cid') as string;
    writeFileSync(
      join(dir, 'events.csv'),
      [
        'type,event_id,player_id,click_id,amount,currency,status,stake,win,game,category,first,brand',
        `registration,im-r1,ip1,${clickId},,,,,,,,,casino`,
        'deposit,im-d1,ip1,,100.50,EUR,,,,,,true,',
        'bet,im-b1,ip1,,,EUR,,2.5,1,"Book, of ""Dead""",slots,,',
        'kyc,im-k1,ip1,,,,approved,,,,,,',
        'deposit,im-d2,ip1,,ten,EUR,,,,,,,',
        'bad,row',
        'deposit,im-d3,ip1,,0.0001,EUR,,,,,,,',
        '',
        'registration,im-r2,ip2,,,,,,,,,,',
      ].join('\r\n'),
    );
    writeFileSync(
      join(dir, 'events.jsonl'),
      [
        '{"type":"registration","event_id":"im-r3","player_id":"ip3"}',
        '{"type":"deposit","event_id":"im-d4","player_id":"ip3","amount":"19.99","currency":"EUR"}',
        '',
        '{"type":"deposit","event_id": broken',
        '{"type":"lottery","event_id":"im-x1","player_id":"ip3"}',
        '{"type":"deposit","event_id":"im-d1","player_id":"ip1","amount":"100.50","currency":"EUR"}',
        '{"type":"bet","event_id":"im-b2","player_id":"ip3","stake":1.25,"win":0,"currency":"EUR"}',
        '',
      ].join('\n'),
    );

    // Two events per batch: rejections of later batches still name their lines.
    const csv = await importFile('events.csv', '--batch', '2');
    expect(csv.stdout).toBe(
      [
        `${join(dir, 'events.csv')}: 6 accepted, 0 duplicates, 2 rejected`,
        '  line 6: invalid_field: amount must be a decimal with at most 4 places',
        '  line 7: invalid_csv: Invalid Record Length: columns length is 13, got 2 on line 7',
        '',
      ].join('\n'),
    );
    expect(csv.code).toBe(1);

    const jsonl = await importFile('events.jsonl');
    expect(jsonl.stdout).toMatch(/: 3 accepted, 1 duplicates, 2 rejected\n {2}line 4: invalid_json: .*\n {2}line 5: unknown_type: .*\n$/);
    expect(jsonl.code).toBe(1);

    const again = await importFile('events.csv');
    expect(again.stdout).toMatch(/: 0 accepted, 6 duplicates, 2 rejected\n {2}line 6: invalid_field: .*\n {2}line 7: invalid_csv: .*\n$/);
    expect(again.code).toBe(1);

    writeFileSync(join(dir, 'clean.ndjson'), '{"type":"withdrawal","event_id":"im-w1","player_id":"ip1","amount":"7.25","currency":"EUR"}\n');
    const clean = await importFile('clean.ndjson');
    expect([clean.code, clean.stdout]).toEqual([0, `${join(dir, 'clean.ndjson')}: 1 accepted, 0 duplicates, 0 rejected\n`]);

    const bySource = await waitFor('imported events in ClickHouse', async () => {
      const r = await cluster.query<{ source: string; n: number; ids: number; deposits: string; ggr: string }>(
        "SELECT source, count() AS n, uniqExact(event_id) AS ids, toString(sumIf(amount, type = 'deposit')) AS deposits, toString(sum(ggr)) AS ggr FROM events GROUP BY source",
      );
      return r[0]?.n === 10 ? r : undefined;
    });
    expect(bySource).toEqual([{ source: 'import', n: 10, ids: 10, deposits: '120.4901', ggr: '2.7500' }]);
    const [reg] = await cluster.query<{ attribution: string; affiliate_id: string; sub1: string }>("SELECT attribution, affiliate_id, sub1 FROM events WHERE event_id = 'im-r1'");
    expect(reg).toEqual({ attribution: 'click', affiliate_id: 'aff1', sub1: 'imp' });
    const [bet] = await cluster.query<{ game: string; is_ftd: number }>("SELECT game, (SELECT is_ftd FROM events WHERE event_id = 'im-d1') AS is_ftd FROM events WHERE event_id = 'im-b1'");
    expect(bet).toEqual({ game: 'Book, of "Dead"', is_ftd: 1 });
  });

  it('refuses bad usage (exit 2) and a brand it cannot sign for (exit 1)', async () => {
    const revenue = await affstream('import', 'revenue', join(dir, 'revenue.csv'));
    expect([revenue.code, revenue.stderr]).toEqual([2, 'affstream import: --brand is required\nRun `affstream import --help` for usage.\n']);
    expect((await affstream('import', 'events', join(dir, 'events.txt'), '--brand', 'casino')).code).toBe(2);
    expect((await affstream('import', 'events', join(dir, 'events.csv'))).code).toBe(2);
    expect((await importFile('events.csv', '--batch', '0')).code).toBe(2);
    expect((await importFile('events.csv', '--batch', '10001')).code).toBe(2);
    const missing = await importFile('absent.csv');
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('cannot read')]);
    const other = await affstream('import', 'events', join(dir, 'events.csv'), '--brand', 'nobrand', '--edge', `http://127.0.0.1:${port}`);
    expect([other.code, other.stderr]).toEqual([1, expect.stringContaining('no brand nobrand')]);
    const unsigned = await affstream('import', 'events', join(dir, 'events.csv'), '--brand', 'nosecret', '--edge', `http://127.0.0.1:${port}`);
    expect([unsigned.code, unsigned.stderr]).toEqual([1, expect.stringContaining('has no postbackSecret')]);
  });

  it('takes X-Affstream-Source only as "import", and only on a signed batch', async () => {
    const body = encode({ brand: 'casino', events: [] });
    const post = async (signature: string, source: string) => {
      const r = await fetch(`http://127.0.0.1:${port}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/msgpack', 'x-signature': signature, 'x-affstream-source': source },
        body: Buffer.from(body),
      });
      return [r.status, ((await r.json()) as { error?: { code: string } }).error?.code];
    };
    const good = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(await post(good, 'import')).toEqual([200, undefined]);
    expect(await post(good, 'pixel')).toEqual([400, 'invalid_parameter']);
    expect(await post(`sha256=${'0'.repeat(64)}`, 'import')).toEqual([401, 'invalid_signature']);
  });
});
