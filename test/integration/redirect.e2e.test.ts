import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, freePort, TestCluster, waitFor } from './cluster.ts';
import { isClickId, shardOfClickId, timeOfClickId } from '../../schema/clickId.ts';
import { shard } from '../../schema/shard.ts';

const cluster = new TestCluster('e2e');
let port = 0;
const COUNTRIES = ['DE', 'US', 'GB', 'FR', 'MT', ''];
const RESTRICTED = new Set(['US', 'FR']);

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  cluster.worker();
  await cluster.edge(port);
  expect((await cluster.put(port, 'brands/casino1', { name: 'Casino One', currency: 'EUR', restrictedCountries: ['US', 'FR'], restrictedUrl: 'https://casino1.example/restricted' })).status).toBe(201);
  expect((await cluster.put(port, 'affiliates/aff-7', { name: 'Affiliate Seven' })).status).toBe(201);
  expect((await cluster.put(port, 'links/L1', { brandId: 'casino1', affiliateId: 'aff-7', campaign: 'black friday', landingUrl: 'https://casino1.example/land?cid={click_id}&s1={sub1}&s2={sub2}&camp={campaign}&a={affiliate_id}' })).status).toBe(201);
});

afterAll(() => cluster.teardown());

describe('click → JetStream → affiliate actor → ClickHouse → affiliate-daily', () => {
  it('3,000 varied clicks: right redirects, exact report', async () => {
    const expected = { clicks: 0, unique_clicks: 0, bot_clicks: 0, geo_blocked_clicks: 0 };
    const uniques = new Set<string>();
    const N = 3000;
    const sendOne = async (i: number) => {
      const sub1 = `s${i % 50} &x=${i}/ü`;
      const ip = `203.0.${i % 7}.${i % 113}`;
      const bot = i % 10 === 0;
      const emptyUa = i % 37 === 0;
      const country = COUNTRIES[i % COUNTRIES.length] as string;
      const headers: Record<string, string> = {
        'user-agent': bot ? 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' : emptyUa ? '' : BROWSER_UA,
        'x-forwarded-for': ip,
      };
      if (country) headers['x-country-code'] = country;
      const r = await click(port, 'L1', `sub1=${encodeURIComponent(sub1)}&sub2=${i}`, headers);
      expect(r.status).toBe(302);
      const geo = RESTRICTED.has(country);
      expected.clicks++;
      if (bot || emptyUa) expected.bot_clicks++;
      if (geo) expected.geo_blocked_clicks++;
      if (geo) {
        expect(r.location).toBe('https://casino1.example/restricted');
        return;
      }
      const loc = new URL(r.location as string);
      expect(loc.origin + loc.pathname).toBe('https://casino1.example/land');
      expect(loc.searchParams.get('s1')).toBe(sub1);
      expect(loc.searchParams.get('s2')).toBe(String(i));
      expect(loc.searchParams.get('camp')).toBe('black friday');
      expect(loc.searchParams.get('a')).toBe('aff-7');
      const id = loc.searchParams.get('cid') as string;
      expect(isClickId(id)).toBe(true);
      expect(shardOfClickId(id)).toBe(shard('aff-7'));
      if (!bot && !emptyUa) uniques.add(`${ip}|${Math.floor(timeOfClickId(id) / 86_400_000)}`);
    };
    for (let i = 0; i < N; i += 20) await Promise.all(Array.from({ length: Math.min(20, N - i) }, (_, k) => sendOne(i + k)));
    expected.unique_clicks = uniques.size;

    expect((await click(port, 'nope', 'sub1=x', { 'user-agent': BROWSER_UA })).status).toBe(404);

    const t0 = Date.now();
    const totals = await waitFor('report to show every click', async () => {
      const t = await cluster.totals();
      return t.clicks >= N ? t : undefined;
    });
    console.log(`affiliate-daily complete ${Date.now() - t0} ms after the last redirect`);
    expect(totals).toEqual(expected);
    const [raw] = await cluster.query<{ n: number; codes: number }>('SELECT count() AS n, uniqExact(code) AS codes FROM clicks');
    expect(raw).toEqual({ n: N, codes: 1 });
  });

  it('answers with Location, Cache-Control and both cookies, each its own header', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/c/L1?sub1=headers`, { redirect: 'manual', headers: { 'user-agent': BROWSER_UA } });
    await r.arrayBuffer();
    expect(r.status).toBe(302);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const id = new URL(r.headers.get('location') as string).searchParams.get('cid');
    expect(isClickId(id as string)).toBe(true);
    const [clickCookie, visitorCookie, ...more] = r.headers.getSetCookie();
    expect(clickCookie).toBe(`affstream_cid=${id}; Path=/; Max-Age=${30 * 86_400}; HttpOnly; SameSite=Lax`);
    expect(visitorCookie).toMatch(new RegExp(`^affstream_vid=[0-9a-f-]{36}; Path=/; Max-Age=${400 * 86_400}; HttpOnly; SameSite=Lax$`));
    expect(more).toEqual([]);
  });

  it('serves the report over HTTP as JSON and CSV, for the admin token only', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const url = `http://127.0.0.1:${port}/api/v1/reports/affiliate-daily?from=${day}&to=${day}&brand=casino1`;
    const auth = { Authorization: `Bearer ${cluster.token}` };
    const rows = (await (await fetch(url, { headers: auth })).json()) as Array<Record<string, unknown>>;
    expect(rows.length).toBeGreaterThan(0);
    const columns = [
      'day', 'brand_id', 'affiliate_id', 'clicks', 'unique_clicks', 'bot_clicks', 'geo_blocked_clicks', 'registrations', 'ftds', 'ftd_amount',
      'deposits', 'deposit_amount', 'withdrawal_amount', 'ggr', 'bonus_amount', 'chargeback_amount', 'ngr', 'conversion_rate', 'cpa', 'revshare', 'commission',
    ];
    expect(Object.keys(rows[0] as object)).toEqual(columns);
    const csv = await (await fetch(`${url}&format=csv`, { headers: auth })).text();
    expect(csv.split('\n')[0]).toBe(columns.join(','));
    const denied = await fetch(url, { headers: { Authorization: 'Bearer wrong-token-0000000000' } });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const bad = await fetch(url.replace(`from=${day}`, "from=2026-01-01'--"), { headers: auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_parameter');
  });

  it('answers bad admin input with 4xx and a code', async () => {
    const send = (method: string, path: string, body?: string) =>
      fetch(`http://127.0.0.1:${port}/api/v1/${path}`, { method, headers: { Authorization: `Bearer ${cluster.token}`, 'Content-Type': 'application/json' }, body });
    const cases: Array<[Promise<Response>, number, string]> = [
      [send('PUT', 'links/L2', '{not json'), 400, 'invalid_json'],
      [send('PUT', 'links/L2', JSON.stringify({ brandId: 'nobrand', affiliateId: 'aff-7', landingUrl: 'https://x.example/' })), 422, 'invalid_field'],
      [send('PUT', 'links/bad%20code', JSON.stringify({})), 400, 'invalid_id'],
      [send('PUT', 'brands/b2', JSON.stringify({ name: 'x'.repeat(100_000), currency: 'EUR' })), 413, 'body_too_large'],
      [send('DELETE', 'brands/casino1'), 409, 'conflict'],
      [send('GET', 'links/none'), 404, 'not_found'],
      [fetch(`http://127.0.0.1:${port}/api/v1/links`), 401, 'unauthorized'],
    ];
    for (const [res, status, code] of cases) {
      const r = await res;
      expect([r.status, ((await r.json()) as { error: { code: string } }).error.code]).toEqual([status, code]);
    }
  });
});
