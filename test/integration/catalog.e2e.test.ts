/**
 * Catalog changes reach every edge without restart (docs/api.md), several edges share a port, an
 * unknown code records nothing, and commission plans are versioned and referenced both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, freePort, TestCluster, waitFor } from './cluster.ts';
import { connectNats, openCatalogBucket } from '../../schema/natsSetup.ts';
import type { Plan } from '../../schema/plans.ts';
import type { Affiliate, Brand } from '../../schema/catalog.ts';

const cluster = new TestCluster('catalog');
const ports: number[] = [];
let shared = 0;

beforeAll(async () => {
  await cluster.setup();
  cluster.worker();
  for (let i = 0; i < 2; i++) {
    ports.push(await freePort());
    await cluster.edge(ports[i] as number);
  }
  shared = await freePort();
  await Promise.all([cluster.edge(shared), cluster.edge(shared)]);
  await cluster.put(ports[0] as number, 'brands/b1', { name: 'B1', currency: 'EUR' });
  await cluster.put(ports[0] as number, 'affiliates/a1', { name: 'A1' });
});

afterAll(() => cluster.teardown());

describe('catalog propagation', () => {
  it('a link created on one edge redirects on every edge, without restart', async () => {
    const before = await click(ports[1] as number, 'fresh', '', { 'user-agent': BROWSER_UA });
    expect(before.status).toBe(404);
    const created = Date.now();
    expect((await cluster.put(ports[0] as number, 'links/fresh', { brandId: 'b1', affiliateId: 'a1', landingUrl: 'https://b1.example/x' })).status).toBe(201);
    for (const p of [...ports, shared]) {
      await waitFor(`link on edge ${p}`, async () => ((await click(p, 'fresh', '', { 'user-agent': BROWSER_UA })).status === 302 ? true : undefined), 30_000, 10);
      console.log(`link live on edge :${p} ${Date.now() - created} ms after the PUT`);
    }
    // A change (paused affiliate) propagates the same way and marks the next clicks.
    expect((await cluster.put(ports[0] as number, 'affiliates/a1', { name: 'A1', status: 'paused' })).status).toBe(200);
    await waitFor('pause seen by edge 2', async () => {
      const r = await fetch(`http://127.0.0.1:${ports[1]}/api/v1/affiliates/a1`, { headers: { Authorization: `Bearer ${cluster.token}` } });
      return ((await r.json()) as { status: string }).status === 'paused' ? true : undefined;
    });
    expect((await click(ports[1] as number, 'fresh', '', { 'user-agent': BROWSER_UA, 'x-forwarded-for': '192.0.2.1' })).status).toBe(302);
    const rows = await waitFor('paused click stored', async () => {
      const r = await cluster.query<{ affiliate_status: string; ip: string }>("SELECT affiliate_status, ip FROM clicks WHERE ip = '192.0.2.1'");
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toEqual([{ affiliate_status: 'paused', ip: '192.0.2.1' }]);
  });

  it('two edge processes share one port', async () => {
    const seen = new Set<string>();
    // The kernel spreads new connections over the listeners by a hash of the client's port: on a
    // loaded machine 60 in a row can land on one, so keep asking (bounded) until both have answered.
    const until = Date.now() + 15_000;
    for (let i = 0; i < 2_000 && seen.size < 2 && Date.now() < until; i++) {
      const r = await fetch(`http://127.0.0.1:${shared}/readyz`, { headers: { Connection: 'close' } });
      seen.add(((await r.json()) as { edge: string }).edge);
    }
    expect(seen.size).toBe(2);
  });

  it('an unknown code answers 404 and records nothing', async () => {
    for (const code of ['nope', 'x'.repeat(64), '%00', 'a-b_c']) {
      expect((await click(ports[0] as number, encodeURIComponent(code), 'sub1=x', { 'user-agent': BROWSER_UA })).status).toBe(404);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const rows = await cluster.query<{ code: string }>("SELECT DISTINCT code FROM clicks WHERE code != 'fresh'");
    expect(rows).toEqual([]);
  });
});

describe('commission plans', () => {
  type Refusal = { error: { code: string; message: string } };
  const api = async <T = Refusal>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const r = await fetch(`http://127.0.0.1:${ports[0]}/api/v1/${path}`, {
      method,
      headers: { Authorization: `Bearer ${cluster.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (r.status === 204 ? null : await r.json()) as T };
  };
  const terms = { brandId: 'b1', currency: 'EUR', cpa: { amount: '50', minDeposit: 20, countries: ['mt'] }, revshare: { tiers: [{ from: 0, pct: '25' }, { from: '10000', pct: 35 }], carryOver: 'carry' }, holdDays: 7 };

  it('a plan is stored, read back, versioned, and an identical PUT changes nothing', async () => {
    const created = await api<Plan>('PUT', 'plans/p1', terms);
    expect(created.status).toBe(201);
    const plan = created.body;
    expect(plan).toMatchObject({ id: 'p1', brandId: 'b1', currency: 'EUR' });
    expect(plan.versions).toHaveLength(1);
    expect(plan.versions[0]).toMatchObject({ version: 1, cpa: { amount: '50.0000', minDeposit: '20.0000', countries: ['MT'] }, revshare: { tiers: [{ from: '0.0000', pct: '25.00' }, { from: '10000.0000', pct: '35.00' }] }, holdDays: 7 });
    expect((await api<Plan>('GET', 'plans/p1')).body).toEqual(plan);

    expect(await api<Plan>('PUT', 'plans/p1', terms)).toEqual({ status: 200, body: plan });
    const next = await api<Plan>('PUT', 'plans/p1', { ...terms, holdDays: 14, effectiveFrom: '2099-01-01T00:00:00Z' });
    expect(next.status).toBe(200);
    expect(next.body.versions.map((v) => [v.version, v.holdDays])).toEqual([
      [1, 7],
      [2, 14],
    ]);
    expect(next.body.versions[1]?.effectiveFrom).toBe('2099-01-01T00:00:00.000Z');
    // Another edge sees the new version through its watch.
    await waitFor('version 2 on edge 2', async () => {
      const r = await fetch(`http://127.0.0.1:${ports[1]}/api/v1/plans/p1`, { headers: { Authorization: `Bearer ${cluster.token}` } });
      return r.ok && ((await r.json()) as Plan).versions.length === 2 ? true : undefined;
    });
    expect((await api<Plan[]>('GET', 'plans')).body.map((p) => p.id)).toEqual(['p1']);
  });

  it('refuses bad plans naming the field', async () => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['plans/bad', { ...terms, bonus: 1 }, 422, /^bonus: is not a field; allowed: brandId, currency, cpa, revshare/],
      ['plans/bad', { ...terms, revshare: { ...terms.revshare, tiers: [{ from: 0, pct: 25 }, { from: 0, pct: 30 }] } }, 422, /^revshare\.tiers\[1\]\.from: /],
      ['plans/bad', { ...terms, brandId: 'nope' }, 422, /^brandId: no brand nope/],
      ['plans/bad', { ...terms, currency: 'USD' }, 422, /^currency: must be brand b1's currency EUR: .*never converted/],
      ['plans/p1', { ...terms, effectiveFrom: '2020-01-01T00:00:00Z' }, 422, /^effectiveFrom: .*never applies retroactively/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await api('PUT', path, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.error.code).toBe('invalid_field');
      expect(r.body.error.message).toMatch(message);
    }
    expect((await api('GET', 'plans/bad')).status).toBe(404);
  });

  it('affiliates name existing plans of the right brand, and a plan in use cannot be deleted', async () => {
    const unknown = await api('PUT', 'affiliates/a9', { name: 'A9', planId: 'nope' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toEqual({ code: 'invalid_field', message: 'planId: no plan nope' });
    const wrongBrand = await api('PUT', 'affiliates/a9', { name: 'A9', plans: { b2: 'p1' } });
    expect(wrongBrand.status).toBe(422);
    expect(wrongBrand.body.error.message).toBe('plans.b2: plan p1 is for brand b1');

    expect((await api('PUT', 'affiliates/a9', { name: 'A9', plans: { b1: 'p1' } })).status).toBe(201);
    const inUse = await api('DELETE', 'plans/p1');
    expect(inUse.status).toBe(409);
    expect(inUse.body.error).toEqual({ code: 'conflict', message: 'plan p1 is used by affiliate a9' });
    const brandInUse = await api('PUT', 'brands/b1', { name: 'B1', currency: 'USD' });
    expect(brandInUse.status).toBe(409);
    expect(brandInUse.body.error.message).toMatch(/^currency: plan p1 of brand b1 is in EUR/);

    expect((await api('PUT', 'affiliates/a9', { name: 'A9' })).status).toBe(200);
    expect((await api('DELETE', 'plans/p1')).status).toBe(204);
    expect((await api('GET', 'plans/p1')).status).toBe(404);
  });

  it('brands get a time zone and KYC gating, and brands stored before them read with the defaults', async () => {
    const b = await api<Brand>('PUT', 'brands/b3', { name: 'B3', currency: 'EUR', timezone: 'Europe/Malta', kycGating: true });
    expect(b.status).toBe(201);
    expect(b.body).toMatchObject({ timezone: 'Europe/Malta', kycGating: true });
    const bad = await api('PUT', 'brands/b3', { name: 'B3', currency: 'EUR', timezone: 'Europe/Atlantis' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toMatch(/^timezone: /);

    // As an older version wrote it: no timezone, no kycGating, no plans.
    const nc = await connectNats(cluster.cfg, 'catalog-test');
    try {
      const kv = await openCatalogBucket(nc, cluster.cfg);
      await kv.put('brands.old', JSON.stringify({ id: 'old', name: 'Old', currency: 'EUR', jurisdiction: '', attributionWindowDays: 30, restrictedCountries: [], restrictedUrl: null, postbackSecret: null, ngr: { paymentFeePct: 0, gamingTaxPct: 0 }, createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z' }));
      await kv.put('affiliates.old', JSON.stringify({ id: 'old', name: 'Old', status: 'active', parentId: null, apiKey: null, postbackUrl: null, planId: null, createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z' }));
    } finally {
      await nc.close();
    }
    const old = await waitFor('old brand on the edge', async () => {
      const r = await api<Brand>('GET', 'brands/old');
      return r.status === 200 ? r.body : undefined;
    });
    expect(old).toMatchObject({ id: 'old', timezone: 'UTC', kycGating: false });
    const oldAffiliate = await waitFor('old affiliate on the edge', async () => {
      const r = await api<Affiliate>('GET', 'affiliates/old');
      return r.status === 200 ? r.body : undefined;
    });
    expect(oldAffiliate).toMatchObject({ id: 'old', plans: {} });
  });
});
