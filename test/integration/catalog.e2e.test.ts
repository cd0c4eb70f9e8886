/**
 * Catalog changes reach every edge without restart (SPEC §3), several edges share a port, and an
 * unknown code records nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, freePort, TestCluster, waitFor } from './cluster.ts';

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
