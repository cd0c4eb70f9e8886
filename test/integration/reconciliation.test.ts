/**
 * The `reconciliation` and `cohort-ltv` reports against a real cluster: generated players click
 * and play through the edge on three past days of their brands (Malta and Los Angeles: the days
 * are cut in each brand's zone), the platform's revenue files with known differences
 * (loadtest/generator/revenueFile.ts) are imported by the revenue importer, and the reports — over
 * HTTP for the admin and an affiliate's key, and from the CLI — flag exactly the planted rows,
 * with the players that explain them, and give each cohort's NGR and deposits month by month.
 */
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importRevenue } from '../../node/revenue/import.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import { parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import { dayOf } from '../../workers/commissions/periods.ts';
import type { BrandPlan } from '../../loadtest/generator/programme.ts';
import { liveLayer, revenueActivity, revenueCsv, revenueFiles, type ActivityPlayer, type PlayerDay, type RevenueGroundTruth } from '../../loadtest/generator/revenueFile.ts';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('reconciliation');
const SECRET = 'pb-secret-reconciliation';
let port = 0;
const DAY_MS = 86_400_000;

const brands: Array<BrandPlan & { thresholdPct?: number }> = [
  { id: 'rc-mt', currency: 'EUR', restrictedCountries: [], paymentFeePct: '2.5', gamingTaxPct: '15', attributionWindowDays: 30, timezone: 'Europe/Malta' },
  { id: 'rc-la', currency: 'USD', restrictedCountries: [], paymentFeePct: '0', gamingTaxPct: '10', attributionWindowDays: 30, timezone: 'America/Los_Angeles', thresholdPct: 1.25 },
];
const AFFILIATES = ['ra1', 'ra2', 'ra3', 'ra4', 'ra5'];
const keyOf = (a: string) => `${a}-key-0123456789`;
/** Per brand: its three days (ending two days before today there), players, live layer and files. */
const runs: Array<{ brand: BrandPlan; days: string[]; players: ActivityPlayer[]; live: PlayerDay[]; truth: RevenueGroundTruth }> = [];

type Row = Record<string, string | number | null>;
const admin = { Authorization: `Bearer ${cluster.token}` };

async function report(name: string, query: string, headers: Record<string, string> = admin): Promise<Row[]> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/reports/${name}?${query}`, { headers });
  expect(r.status).toBe(200);
  return (await r.json()) as Row[];
}

async function sendEvents(brandId: string, events: unknown[]): Promise<void> {
  const body = JSON.stringify({ brand: brandId, events });
  const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sig }, body });
  const answer = (await r.json()) as { accepted: number; rejected: unknown[] };
  expect(answer).toMatchObject({ accepted: events.length, rejected: [] });
}

const range = () => {
  const all = runs.flatMap((r) => r.days).sort();
  return { from: all[0] as string, to: all.at(-1) as string };
};

beforeAll(async () => {
  port = await cluster.start();
  const now = Date.now();
  await cluster.putAll(port, [
    ...brands.map((b): [string, unknown] => [`brands/${b.id}`, {
      name: b.id, currency: b.currency, postbackSecret: SECRET, timezone: b.timezone,
      ngr: { paymentFeePct: Number(b.paymentFeePct), gamingTaxPct: Number(b.gamingTaxPct) },
      ...(b.thresholdPct === undefined ? {} : { reconciliationThresholdPct: b.thresholdPct }),
    }]),
    ...AFFILIATES.map((a): [string, unknown] => [`affiliates/${a}`, { name: a, apiKey: keyOf(a) }]),
    ...brands.flatMap((b) => AFFILIATES.map((a): [string, unknown] => [`links/${b.id}-${a}`, { brandId: b.id, affiliateId: a, landingUrl: 'https://casino.example/?cid={click_id}' }])),
  ]);
  let total = 0;
  for (const [i, b] of brands.entries()) {
    const today = dayOf(now, b.timezone);
    const days = [4, 3, 2].map((back) => dayOf(Date.parse(`${today}T12:00:00Z`) - back * DAY_MS, 'UTC'));
    const players = revenueActivity({ tag: `rc${i}`, seed: 11 + i, brand: b, affiliates: AFFILIATES.map((a) => ({ id: a, code: `${b.id}-${a}` })), days, playersPerAffiliate: 4 });
    const registrations: unknown[] = [];
    for (const p of players) {
      const c = await click(port, p.code, `sub1=${p.sub1}`, { 'user-agent': BROWSER_UA, 'x-forwarded-for': p.ip });
      const clickId = new URL(c.location as string).searchParams.get('cid');
      registrations.push({ ...p.events[0], click_id: clickId });
    }
    await sendEvents(b.id, registrations);
    await sendEvents(b.id, players.flatMap((p) => p.events.slice(1)));
    total += players.reduce((n, p) => n + p.events.length, 0);
    const live = liveLayer(b, players, now);
    runs.push({ brand: b, days, players, live, truth: revenueFiles(live, { brandId: b.id, thresholdPct: String(b.thresholdPct ?? 0.5) }) });
  }
  await waitFor('every event in ClickHouse', async () => {
    const [r] = await cluster.query<{ n: number }>('SELECT count() AS n FROM events');
    return r?.n === total ? true : undefined;
  });
  const ch = clickhouse(cluster.cfg);
  try {
    for (const { brand, truth } of runs) {
      for (const f of truth.files) {
        const csv = revenueCsv(f);
        const sha256 = createHash('sha256').update(csv).digest('hex');
        const summary = await importRevenue(ch, Readable.from([Buffer.from(csv)]), { brandId: brand.id, timezone: brand.timezone, fileName: f.name, format: 'csv', sha256 });
        expect(summary).toMatchObject({ rows: f.lines.length, rejected: 0, duplicate: false });
      }
    }
  } finally {
    await ch.close();
  }
}, 180_000);

afterAll(() => cluster.teardown());

/** A report's day rows and player rows, keyed `brand/day/affiliate`. */
function byRow(rows: Row[]) {
  const days = new Map<string, Row>();
  const players = new Map<string, Array<{ playerId: string; presence: string }>>();
  for (const r of rows) {
    const k = `${r.brand_id}/${r.day}/${r.affiliate_id}`;
    if (r.player_id === '') days.set(k, r);
    else players.set(k, [...(players.get(k) ?? []), { playerId: String(r.player_id), presence: String(r.presence) }]);
  }
  return { days, players };
}

describe('reconciliation', () => {
  it('flags exactly the planted rows, with the players that explain them, per brand in its own days', async () => {
    const { from, to } = range();
    const rows = await report('reconciliation', `from=${from}&to=${to}`);
    const { days, players } = byRow(rows);
    const expected = runs.flatMap((r) => [...r.truth.flagged, ...r.truth.unflagged]);
    expect([...days.keys()].sort()).toEqual(expected.map((e) => `${e.brandId}/${e.day}/${e.affiliateId}`).sort());
    for (const e of expected) {
      const k = `${e.brandId}/${e.day}/${e.affiliateId}`;
      expect({ k, ...days.get(k) }).toMatchObject({ k, flagged: e.flagged ? 1 : 0, live_ngr: toDecimalText(e.liveNgr), imported_ngr: toDecimalText(e.importedNgr), players: e.players.length });
      expect({ k, players: players.get(k) ?? [] }).toEqual({ k, players: e.players });
    }
    const flagged = [...days.values()].filter((r) => r.flagged === 1).map((r) => `${r.brand_id}/${r.day}/${r.affiliate_id}`).sort();
    expect(flagged).toEqual(runs.flatMap((r) => r.truth.flagged.map((e) => `${e.brandId}/${e.day}/${e.affiliateId}`)).sort());
    expect(flagged).toHaveLength(6);
    // Each brand's threshold, from the catalog: the default 0.5 and a brand's own.
    expect(new Set(rows.filter((r) => r.brand_id === 'rc-mt').map((r) => r.threshold_pct))).toEqual(new Set(['0.50']));
    expect(new Set(rows.filter((r) => r.brand_id === 'rc-la').map((r) => r.threshold_pct))).toEqual(new Set(['1.25']));
    // The missing player's row: live only, no imported figures, every difference its own.
    const missing = runs[0]?.truth.plants.find((p) => p.kind === 'missing_player');
    const row = rows.find((r) => r.brand_id === 'rc-mt' && r.day === missing?.day && r.player_id === missing?.playerId);
    expect(row).toMatchObject({ presence: 'live_only', imported_ngr: '0.0000', imported_ggr: '0.0000', ngr_diff_pct: null, flagged: 1 });
  });

  it('shows an affiliate key its own rows only, and answers the same from the CLI and in CSV', async () => {
    const { from, to } = range();
    const all = await report('reconciliation', `from=${from}&to=${to}`);
    const plantAffiliate = runs[0]?.truth.plants.find((p) => p.kind === 'late_bets')?.affiliateId as string;
    // Whatever affiliate the request names, the key's own is the one reported.
    const other = AFFILIATES.find((a) => a !== plantAffiliate) as string;
    const own = await report('reconciliation', `from=${from}&to=${to}&affiliate=${other}`, { Authorization: `Bearer ${keyOf(plantAffiliate)}` });
    expect(own.length).toBeGreaterThan(0);
    expect(own).toEqual(all.filter((r) => r.affiliate_id === plantAffiliate));

    const cli = await cluster.cli(['report', 'reconciliation', '--from', from, '--to', to, '--brand', 'rc-la', '--format', 'json']);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(cli.stdout)).toEqual(all.filter((r) => r.brand_id === 'rc-la'));

    const r = await fetch(`http://127.0.0.1:${port}/api/v1/reports/reconciliation?from=${from}&to=${to}&brand=rc-mt&format=csv`, { headers: admin });
    const lines = (await r.text()).trimEnd().split('\n');
    expect(lines[0]).toBe('brand_id,day,affiliate_id,player_id,presence,live_ggr,imported_ggr,ggr_diff,live_bonuses,imported_bonuses,bonuses_diff,live_ngr,imported_ngr,ngr_diff,ngr_diff_pct,threshold_pct,flagged,players');
    expect(lines).toHaveLength(1 + all.filter((x) => x.brand_id === 'rc-mt').length);
  });
});

describe('cohort-ltv', () => {
  it('gives each registration month and affiliate its players, NGR (imported where sent) and deposits by month since', async () => {
    const { from, to } = range();
    const rows = await report('cohort-ltv', `from=${from}&to=${to}`);
    const money = (v: unknown) => parseMoney(v) as Money;
    const monthNum = (day: string) => Number(day.slice(0, 4)) * 12 + Number(day.slice(5, 7));
    // The ground truth: per brand, cohort (every player registers on the first day) and affiliate.
    const expected = new Map<string, { players: Set<string>; byMonth: Map<number, { ngr: Money; deposits: Money }> }>();
    for (const { brand, days, players, live, truth } of runs) {
      const cohort = (days[0] as string).slice(0, 7);
      const [whole, corrected] = truth.files;
      const imported = new Map([...(whole?.lines ?? []).filter((l) => l.day !== corrected?.lines[0]?.day), ...(corrected?.lines ?? [])].map((l) => [`${l.day}/${l.playerId}`, l.ngr]));
      const liveNgr = new Map(live.map((d) => [`${d.day}/${d.playerId}`, d.ngr]));
      const affOf = new Map(players.map((p) => [p.playerId, p.affiliateId]));
      const month = (k: string, affiliate: string) => {
        const key = `${brand.id}/${cohort}/${affiliate}`;
        let e = expected.get(key);
        if (!e) expected.set(key, (e = { players: new Set(), byMonth: new Map() }));
        const m = monthNum(k) - monthNum(days[0] as string);
        let f = e.byMonth.get(m);
        if (!f) e.byMonth.set(m, (f = { ngr: 0n, deposits: 0n }));
        return { e, f };
      };
      for (const p of players) month(days[0] as string, p.affiliateId).e.players.add(p.playerId);
      for (const k of new Set([...imported.keys(), ...liveNgr.keys()])) {
        const [day = '', playerId = ''] = k.split('/');
        month(day, affOf.get(playerId) as string).f.ngr += imported.get(k) ?? liveNgr.get(k) ?? 0n;
      }
      for (const p of players) {
        for (const ev of p.events) month(dayOf(Number(ev.ts), brand.timezone), p.affiliateId).f.deposits += ev.type === 'deposit' ? money(ev.amount) : 0n;
      }
    }
    const got = new Map<string, Row[]>();
    for (const r of rows) got.set(`${r.brand_id}/${r.cohort}/${r.affiliate_id}`, [...(got.get(`${r.brand_id}/${r.cohort}/${r.affiliate_id}`) ?? []), r]);
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, e] of expected) {
      const last = Math.max(...e.byMonth.keys());
      let cumNgr = 0n;
      const want = Array.from({ length: last + 1 }, (_, m) => {
        const f = e.byMonth.get(m) ?? { ngr: 0n, deposits: 0n };
        cumNgr += f.ngr;
        return { k, month: m, players: e.players.size, ngr: toDecimalText(f.ngr), deposit_amount: toDecimalText(f.deposits), cumulative_ngr: toDecimalText(cumNgr) };
      });
      expect(got.get(k)?.map((r) => ({ k, month: r.month, players: r.players, ngr: r.ngr, deposit_amount: r.deposit_amount, cumulative_ngr: r.cumulative_ngr }))).toEqual(want);
    }
    // An affiliate's key: its own cohorts only.
    const own = await report('cohort-ltv', `from=${from}&to=${to}`, { Authorization: `Bearer ${keyOf('ra2')}` });
    expect(own).toEqual(rows.filter((r) => r.affiliate_id === 'ra2'));
  });
});
