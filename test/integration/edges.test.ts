/**
 * Several edge processes on one port (issue 16, item 2; docs/architecture.md, “Clicks”): uWS
 * listens with SO_REUSEPORT, so the kernel spreads connections over every edge of the port. Both
 * take traffic, each with its own spool, and stopping one while clicks flow loses nothing: every
 * 302 the clients received is in ClickHouse exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, freePort, TestCluster, waitFor, type ClusterProcess } from './cluster.ts';

const cluster = new TestCluster('edges');
let port: number;
let edges: ClusterProcess[];

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  cluster.worker();
  edges = [await cluster.edge(port), await cluster.edge(port)];
  await cluster.putAll(port, [
    ['brands/b1', { name: 'B1', currency: 'EUR' }],
    ['affiliates/a1', { name: 'A1' }],
    ['links/e1', { brandId: 'b1', affiliateId: 'a1', landingUrl: 'https://b1.example/?cid={click_id}' }],
  ]);
});

afterAll(() => cluster.teardown());

/** The edge instance answering a fresh connection. */
async function instanceOnNewConnection(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`, { headers: { Connection: 'close' } });
  return ((await r.json()) as { edge: string }).edge;
}

describe('two edges on one port', () => {
  it('both take connections; one stopped while clicks flow loses no click', async () => {
    const seen = new Set<string>();
    await waitFor('both edges answering on the port', async () => {
      for (let i = 0; i < 20; i++) seen.add(await instanceOnNewConnection());
      return seen.size === 2 ? true : undefined;
    });
    // Each click on a connection of its own, so the kernel keeps spreading them; bounded in count.
    let redirected = 0;
    let failed = 0;
    let sent = 0;
    const MAX = 1500;
    const loops = Array.from({ length: 6 }, async (_, w) => {
      while (sent < MAX) {
        const i = sent++;
        const r = await click(port, 'e1', `sub1=w${w}`, { 'user-agent': BROWSER_UA, 'x-forwarded-for': `198.51.100.${i % 250}`, Connection: 'close' }).catch(() => undefined);
        if (r?.status === 302) redirected++;
        else failed++;
      }
    });
    await waitFor('clicks flowing', async () => (redirected > 400 ? true : undefined));
    await (edges[0] as ClusterProcess).stop('SIGTERM');
    expect((edges[0] as ClusterProcess).exitCode).toBe(0);
    await Promise.all(loops);
    // A connection the stopping edge had accepted but not answered fails: the client retries it
    // (and a refused one never reached an edge). Neither is a 302, neither may be stored.
    expect(redirected + failed).toBe(MAX);
    expect(redirected).toBeGreaterThan(MAX - 50);
    const clicks = async () => (await cluster.query<{ n: number; ids: number }>("SELECT count() AS n, uniqExact(click_id) AS ids FROM clicks WHERE affiliate_id = 'a1'"))[0];
    let held: { n: number; ids: number } | undefined;
    await waitFor(`${redirected} clicks in ClickHouse`, async () => ((held = await clicks())?.n === redirected ? true : undefined), 60_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}; ClickHouse held ${JSON.stringify(held)}`);
    });
    // A later click through the remaining edge lands after every earlier one: nothing more arrives.
    expect((await click(port, 'e1', 'sub1=last', { 'user-agent': BROWSER_UA, Connection: 'close' })).status).toBe(302);
    await waitFor('the last click', async () => ((await clicks())?.n === redirected + 1 ? true : undefined), 60_000, 250);
    expect(await clicks()).toEqual({ n: redirected + 1, ids: redirected + 1 });
  });
});
