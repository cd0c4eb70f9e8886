/**
 * An import merges into RevShare (docs/protocol.md, “Revenue import”) from both entry points, on a
 * real edge and worker: a month already over in the brand's time zone closes with its line; a file
 * uploaded through `POST /api/v1/revenue-imports` adjusts it by a new ledger line, answered in the
 * summary's `merge`; the same upload again (a duplicate) merges again and makes no line. Then a
 * corrected file through `affstream import revenue` adjusts it once more, and its rerun makes no
 * line either.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { Catalog } from '../../schema/catalogStore.ts';
import { connectNats } from '../../schema/natsSetup.ts';
import type { Plan } from '../../schema/plans.ts';
import { periodOf } from '../../workers/commissions/periods.ts';
import { lineId } from '../../workers/actors/commission.ts';
import { revenueImportId } from '../../node/revenue/import.ts';
import type { MergedImportSummary } from '../../node/revenue/merge.ts';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('revimpmerge');
const SECRET = 'revimpmerge-secret-0123456789';
const TZ = 'Europe/Malta';
const dir = mkdtempSync(join(tmpdir(), 'affstream-revimpmerge-'));
let port = 0;
let nc: NatsConnection;
let catalog: Catalog;

// The month before the current one in the brand's time zone: over, so its period closes at once.
const PERIOD = (() => {
  const current = periodOf(Date.now(), TZ);
  const y = Number(current.slice(0, 4));
  const m = Number(current.slice(5, 7));
  return m === 1 ? `${y - 1}-12` : `${current.slice(0, 4)}-${String(m - 1).padStart(2, '0')}`;
})();
const DAY10 = `${PERIOD}-10`;
const noon = (day: string) => Date.parse(`${day}T12:00:00Z`);
const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');
const file = (ngr: string) => `player_id,day,ggr,bonuses,ngr\np1,${DAY10},${ngr},0,${ngr}\n`;

interface LedgerRow { id: string; affiliate_id: string; kind: string; period: string; amount: string; ngr: string; reason: string }

const ledger = (): Promise<LedgerRow[]> =>
  cluster.query<LedgerRow>(`SELECT id, affiliate_id, kind, period, toString(amount) AS amount, toString(ngr) AS ngr, reason
    FROM commission_ledger ORDER BY affiliate_id, created_at, created_at_ms, id`);

const periodLine = lineId('revshare', 'casino', 'aff1', PERIOD, 'rs@1');
const adjustment = (importId: string, n: number) => lineId('revshare', 'casino', 'aff1', PERIOD, 'import', importId, String(n));

/** POST a CSV text to the endpoint. */
async function upload(text: string): Promise<{ status: number; json: MergedImportSummary }> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/revenue-imports?brand=casino&sha256=${sha256(text)}&file=books.csv`, {
    method: 'POST', headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'text/csv' }, body: text,
  });
  return { status: r.status, json: (await r.json()) as MergedImportSummary };
}

/** Runs `affstream import revenue <file> --brand casino --json` against the test cluster. */
async function importFile(name: string, text: string): Promise<{ code: number; summary: MergedImportSummary; stderr: string }> {
  writeFileSync(join(dir, name), text);
  const { code, stdout, stderr } = await cluster.cli(['import', 'revenue', join(dir, name), '--brand', 'casino', '--json']);
  return { code, summary: JSON.parse(stdout || 'null') as MergedImportSummary, stderr };
}

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET, timezone: TZ }],
    ['plans/rs', { brandId: 'casino', currency: 'EUR', cpa: null, revshare: { tiers: [{ from: '0', pct: '25' }], tierBy: 'ngr', carryOver: 'carry' }, subAffiliatePct: '0', holdDays: 0 }],
    ['affiliates/aff1', { name: 'Aff One', planId: 'rs' }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
  ]);
  nc = await connectNats(cluster.cfg, 'revimpmerge-test');
  catalog = await Catalog.open(nc, cluster.cfg, () => undefined);
  // The API never backdates a plan: this one is written as if in force for years, so that last month earns by it.
  const p = catalog.get('plans', 'rs') as Plan;
  await catalog.put('plans', 'rs', { ...p, versions: p.versions.map((v) => ({ ...v, effectiveFrom: '2000-01-01T00:00:00.000Z' })) });
  await waitFor('the backdated plan at the edge', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/plans/rs`, { headers: { Authorization: `Bearer ${cluster.token}` } });
    return ((await r.json()) as Plan).versions[0]?.effectiveFrom.startsWith('2000') ? true : undefined;
  });
  // Player p1 of L1: registered and betting on the 10th (NGR 800), in one signed batch.
  const r0 = await click(port, 'L1', '', { 'user-agent': BROWSER_UA });
  const clickId = new URL(r0.location as string).searchParams.get('cid') as string;
  const events = [
    { type: 'registration', event_id: 'reg-p1', player_id: 'p1', click_id: clickId, ts: noon(DAY10) - 3_600_000 },
    { type: 'bet', event_id: 'bet-p1', player_id: 'p1', stake: '1000', win: '200', currency: 'EUR', ts: noon(DAY10) },
  ];
  const body = JSON.stringify({ brand: 'casino', events });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signature }, body });
  expect(await r.json()).toMatchObject({ accepted: 2 });
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  catalog?.close();
  await nc?.drain();
  await cluster.teardown();
});

describe('an import merges into RevShare', () => {
  it('over HTTP: the upload adjusts the closed month by a new line; the same upload again makes none', async () => {
    const closed = await waitFor('the period line', async () => (await ledger()).find((l) => l.id === periodLine));
    expect(closed).toMatchObject({ ngr: '800.0000', amount: '200.0000' });

    const text = file('900');
    const id = revenueImportId('casino', sha256(text));
    const first = await upload(text);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ importId: id, duplicate: false, rows: 1 });
    expect(first.json.merge).toEqual({ days: [DAY10], notOver: [], affiliates: 1, applied: true, lines: [{ commissionId: adjustment(id, 0), ok: true, status: 'pending' }] });
    const rows = await ledger();
    // 900 at 25 % is 225.0000, of which the period's line paid 200.0000.
    expect(rows.find((l) => l.id === adjustment(id, 0))).toMatchObject({ affiliate_id: 'aff1', kind: 'revshare', period: PERIOD, amount: '25.0000', ngr: '100.0000', reason: `revenue import ${id}` });
    expect(rows).toHaveLength(2);

    const again = await upload(text);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ importId: id, duplicate: true, merge: { days: [DAY10], affiliates: 1, applied: true, lines: [] } });
    expect(await ledger()).toEqual(rows);
  });

  it('from the CLI: a corrected file adjusts the month again; its rerun makes no line', async () => {
    const before = await ledger();
    const text = file('1000');
    const id = revenueImportId('casino', sha256(text));
    const first = await importFile('corrected.csv', text);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.summary).toMatchObject({ importId: id, duplicate: false, superseded: [{ days: 1 }] });
    expect(first.summary.merge).toEqual({ days: [DAY10], notOver: [], affiliates: 1, applied: true, lines: [{ commissionId: adjustment(id, 1), ok: true, status: 'pending' }] });
    const rows = await ledger();
    // 1,000 at 25 % is 250.0000: 25.0000 more than the 225.0000 already counted.
    expect(rows.find((l) => l.id === adjustment(id, 1))).toMatchObject({ amount: '25.0000', ngr: '100.0000', reason: `revenue import ${id}` });
    expect(rows).toHaveLength(before.length + 1);

    const rerun = await importFile('corrected.csv', text);
    expect(rerun.code).toBe(0);
    expect(rerun.summary).toMatchObject({ importId: id, duplicate: true, merge: { days: [DAY10], applied: true, lines: [] } });
    expect(await ledger()).toEqual(rows);
  });
});
