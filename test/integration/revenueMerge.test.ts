/**
 * The merge of a revenue import into RevShare (docs/commissions.md, “Revenue imports”) on a real
 * edge and worker: a month already over in the brand's time zone (events dated last month) closes
 * with its line; the platform's books for two of its days, stored as an import stores them
 * (migrations/008_revenue.sql), adjust it by one new line per affiliate in `commission_ledger` —
 * up for one, down for the other, whose player the platform does not have — which reaches the
 * affiliate's tracker as an outbound postback and the parent as its sub-affiliate share; merging
 * the same import again changes nothing, and a corrected import of one day overwrites that day.
 *
 * Each player's events go in one batch: the player's activity then reaches its commission actor in
 * one message (the events wait for the registration's click), before the worker's clock closes the
 * month that is already over.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClickHouseClient } from '@clickhouse/client';
import { Catalog } from '../../schema/catalogStore.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import { connectNats } from '../../schema/natsSetup.ts';
import { natsNames } from '../../schema/subjects.ts';
import type { Plan } from '../../schema/plans.ts';
import { periodOf } from '../../workers/commissions/periods.ts';
import { lineId } from '../../workers/actors/commission.ts';
import { publishRevenueAdjustments, type RevenueMergeDeps } from '../../node/revenue/merge.ts';
import { BROWSER_UA, click, freePort, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('revmerge');
const SECRET = 'revmerge-secret-0123456789';
const TZ = 'Europe/Malta';
let port = 0;
let nc: NatsConnection;
let ch: ClickHouseClient;
let catalog: Catalog;
let deps: RevenueMergeDeps;
let receiver: Server;
const received: URL[] = [];

// The month before the current one in the brand's time zone: over, so its period closes at once.
const PERIOD = (() => {
  const current = periodOf(Date.now(), TZ);
  const y = Number(current.slice(0, 4));
  const m = Number(current.slice(5, 7));
  return m === 1 ? `${y - 1}-12` : `${current.slice(0, 4)}-${String(m - 1).padStart(2, '0')}`;
})();
const DAY10 = `${PERIOD}-10`;
const DAY11 = `${PERIOD}-11`;
const noon = (day: string) => Date.parse(`${day}T12:00:00Z`);

interface LedgerRow { id: string; affiliate_id: string; kind: string; period: string; amount: string; status: string; reason: string; source_event_id: string; ngr: string; version: number }

const ledger = (): Promise<LedgerRow[]> =>
  cluster.query<LedgerRow>(`SELECT id, affiliate_id, kind, period, toString(amount) AS amount, status, reason, source_event_id, toString(ngr) AS ngr, version
    FROM commission_ledger ORDER BY affiliate_id, created_at, created_at_ms, id`);

/** A player of `link`: its registration on the 10th and its bets (`[day, stake, win]`), in one signed batch. */
async function player(id: string, link: string, bets: Array<[day: string, stake: string, win: string]>): Promise<void> {
  const r0 = await click(port, link, '', { 'user-agent': BROWSER_UA });
  const clickId = new URL(r0.location as string).searchParams.get('cid') as string;
  const events = [
    { type: 'registration', event_id: `reg-${id}`, player_id: id, click_id: clickId, ts: noon(DAY10) - 3_600_000 },
    ...bets.map(([day, stake, win], i) => ({ type: 'bet', event_id: `bet-${id}-${i}`, player_id: id, stake, win, currency: 'EUR', ts: noon(day) })),
  ];
  const body = JSON.stringify({ brand: 'casino', events });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signature }, body });
  expect(await r.json()).toMatchObject({ accepted: events.length });
}

/** Rows of an import as the importer writes them: its lines, then its `done` entry with the days it covers. */
async function storeImport(id: string, finishedKey: string, rows: Array<[day: string, player: string, ngr: string]>): Promise<void> {
  await ch.insert({
    table: 'revenue_rows', format: 'JSONEachRow',
    values: rows.map(([day, player, ngr], line) => ({ brand_id: 'casino', day, player_id: player, import_id: id, line, ggr: Number(ngr), bonuses: 0, ngr: Number(ngr), stakes: 0, wins: 0, deposits: 0 })),
  });
  const days = [...new Set(rows.map(([day]) => day))].sort();
  await ch.insert({
    table: 'revenue_imports', format: 'JSONEachRow',
    values: [{
      id, brand_id: 'casino', file_name: `${id}.csv`, sha256: id, status: 'done', started_at: 0, finished_at: 0, finished_key: finishedKey, lines: rows.length, rows: rows.length,
      players: new Set(rows.map(([, p]) => p)).size, days: days.length, first_day: days[0], last_day: days.at(-1), covered_days: days, rejected: 0, rejections: '[]',
    }],
  });
}

beforeAll(async () => {
  const receiverPort = await freePort();
  receiver = createServer((req, res) => {
    received.push(new URL(req.url ?? '/', 'http://tracker'));
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => receiver.listen(receiverPort, '127.0.0.1', r));
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET, timezone: TZ }],
    ['plans/rs', { brandId: 'casino', currency: 'EUR', cpa: null, revshare: { tiers: [{ from: '0', pct: '25' }], tierBy: 'ngr', carryOver: 'carry' }, subAffiliatePct: '0', holdDays: 0 }],
    ['plans/parent', { brandId: 'casino', currency: 'EUR', cpa: null, revshare: null, subAffiliatePct: '10', holdDays: 0 }],
    ['affiliates/boss', { name: 'Boss Media', planId: 'parent' }],
    ['affiliates/aff1', { name: 'Aff One', planId: 'rs', parentId: 'boss', postbackUrl: `http://127.0.0.1:${receiverPort}/pb?ev={event}&st={status}&p={payout}&tx={txid}&id={commission_id}&v={version}` }],
    ['affiliates/aff2', { name: 'Aff Two', planId: 'rs', postbackUrl: `http://127.0.0.1:${receiverPort}/pb?ev={event}&st={status}&p={payout}&tx={txid}&id={commission_id}&v={version}` }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
    ['links/L2', { brandId: 'casino', affiliateId: 'aff2', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
  ]);
  nc = await connectNats(cluster.cfg, 'revmerge-test');
  ch = clickhouse(cluster.cfg);
  catalog = await Catalog.open(nc, cluster.cfg, () => undefined);
  // The API never backdates a plan (a change is never retroactive): this one is written as if it had
  // been in force for years, so that last month's activity earns by it.
  for (const id of ['rs', 'parent']) {
    const p = catalog.get('plans', id) as Plan;
    await catalog.put('plans', id, { ...p, versions: p.versions.map((v) => ({ ...v, effectiveFrom: '2000-01-01T00:00:00.000Z' })) });
  }
  await waitFor('the backdated plan at the edge', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/plans/rs`, { headers: { Authorization: `Bearer ${cluster.token}` } });
    return ((await r.json()) as Plan).versions[0]?.effectiveFrom.startsWith('2000') ? true : undefined;
  });
  deps = { ch, nc, js: jetstream(nc), names: natsNames(cluster.cfg), partitions: cluster.cfg.partitions, catalog, answerTimeoutMs: 60_000 };
});

afterAll(async () => {
  catalog?.close();
  await ch?.close();
  await nc?.drain();
  await cluster.teardown();
  await new Promise((r) => receiver.close(r));
});

describe('revenue merge', () => {
  const periodLine = (aff: string) => lineId('revshare', 'casino', aff, PERIOD, 'rs@1');
  const adjustment = (aff: string, importId: string, n: number) => lineId('revshare', 'casino', aff, PERIOD, 'import', importId, String(n));
  const byId = <T extends { commissionId: string }>(results: T[]) => [...results].sort((a, b) => (a.commissionId < b.commissionId ? -1 : 1));

  it('a closed month is adjusted by new lines, posted back to the affiliates and shared with the parent', async () => {
    await player('p1', 'L1', [[DAY10, '1000', '200'], [DAY11, '500', '0']]);
    await player('p2', 'L2', [[DAY11, '60', '0']]);
    // The month is over: the worker's clock closes it as soon as the activity is in.
    const closed = await waitFor('the period lines', async () => {
      const rows = await ledger();
      return rows.some((l) => l.id === periodLine('aff1')) && rows.some((l) => l.id === periodLine('aff2')) ? rows : undefined;
    });
    expect(closed.find((l) => l.id === periodLine('aff1'))).toMatchObject({ kind: 'revshare', period: PERIOD, ngr: '1300.0000', amount: '325.0000', status: 'pending', reason: '' });
    expect(closed.find((l) => l.id === periodLine('aff2'))).toMatchObject({ ngr: '60.0000', amount: '15.0000' });

    // The platform's books: p1 had 900 on the 10th (live: 800); p2 is missing; p9 is nobody's player.
    await storeImport('imp-a', '1', [[DAY10, 'p1', '900'], [DAY11, 'p1', '500'], [DAY10, 'p9', '50']]);
    const merged = await publishRevenueAdjustments(deps, 'casino', 'imp-a');
    expect({ ...merged, lines: byId(merged.lines) }).toEqual({
      importId: 'imp-a', brandId: 'casino', days: [DAY10, DAY11], notOver: [], affiliates: 2, applied: true,
      lines: byId([{ commissionId: adjustment('aff1', 'imp-a', 0), ok: true, status: 'pending' }, { commissionId: adjustment('aff2', 'imp-a', 0), ok: true, status: 'pending' }]),
    });
    const rows = await ledger();
    // aff1: 1,400 at 25 % is 350.0000, of which its line paid 325.0000. aff2: nothing by the books, 15.0000 paid.
    expect(rows.find((l) => l.id === adjustment('aff1', 'imp-a', 0))).toMatchObject({
      affiliate_id: 'aff1', kind: 'revshare', period: PERIOD, amount: '25.0000', ngr: '100.0000', status: 'pending', reason: 'revenue import imp-a', source_event_id: 'imp-a', version: 1,
    });
    expect(rows.find((l) => l.id === adjustment('aff2', 'imp-a', 0))).toMatchObject({ affiliate_id: 'aff2', amount: '-15.0000', ngr: '-60.0000', reason: 'revenue import imp-a' });
    // The periods' own lines are untouched: never an edit.
    expect(rows.filter((l) => l.id === periodLine('aff1') || l.id === periodLine('aff2'))).toHaveLength(2);
    const share = await waitFor('the parent\u2019s share', async () => (await ledger()).find((l) => l.affiliate_id === 'boss' && l.source_event_id === 'imp-a'));
    expect(share).toMatchObject({ kind: 'subaffiliate', period: PERIOD, amount: '2.5000', status: 'pending' });
    const postbacks = await waitFor('the postbacks of the adjustments', async () => {
      const got = received.filter((u) => u.searchParams.get('tx') === 'imp-a');
      return got.length === 2 ? got : undefined;
    });
    expect(postbacks.map((u) => Object.fromEntries(u.searchParams)).sort((a, b) => (a.id as string).localeCompare(b.id as string))).toEqual(
      [
        { ev: 'revshare', st: 'pending', p: '25.0000', tx: 'imp-a', id: adjustment('aff1', 'imp-a', 0), v: '1' },
        { ev: 'revshare', st: 'pending', p: '-15.0000', tx: 'imp-a', id: adjustment('aff2', 'imp-a', 0), v: '1' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
  });

  it('the same import again changes nothing; a corrected import of one day overwrites that day', async () => {
    const before = await ledger();
    const again = await publishRevenueAdjustments(deps, 'casino', 'imp-a');
    expect(again).toMatchObject({ applied: true, affiliates: 2, lines: [] });
    expect(await ledger()).toEqual(before);

    // A re-sent file for the 11th: p1 450, p2 60; the 10th keeps imp-a's figures.
    await storeImport('imp-b', '2', [[DAY11, 'p1', '450'], [DAY11, 'p2', '60']]);
    const corrected = await publishRevenueAdjustments(deps, 'casino', 'imp-b');
    expect(corrected).toMatchObject({ days: [DAY11], applied: true });
    expect(byId(corrected.lines)).toEqual(byId([{ commissionId: adjustment('aff1', 'imp-b', 1), ok: true, status: 'pending' }, { commissionId: adjustment('aff2', 'imp-b', 1), ok: true, status: 'pending' }]));
    const rows = await ledger();
    // aff1: 800 + 100 on the 10th, 450 on the 11th: 1,350 → 337.5000, so 12.5000 less. aff2: 60 after all → 15.0000 back.
    expect(rows.find((l) => l.id === adjustment('aff1', 'imp-b', 1))).toMatchObject({ amount: '-12.5000', ngr: '-50.0000', reason: 'revenue import imp-b' });
    expect(rows.find((l) => l.id === adjustment('aff2', 'imp-b', 1))).toMatchObject({ amount: '15.0000', ngr: '60.0000' });
    const total = (aff: string) => rows.filter((l) => l.affiliate_id === aff && l.period === PERIOD).reduce((n, l) => n + Number(l.amount), 0);
    expect([total('aff1'), total('aff2')]).toEqual([337.5, 15]);
  });
});
