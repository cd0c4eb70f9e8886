/**
 * Crashes and outages while clicks flow (issue "The running cluster, end to end", done-when 2–4):
 * totals must come out exact every time. These tests stop and start the suite's own servers, so
 * they run only when the suite started them (not against servers given by URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickStream, freePort, quantile, serversConfig, TestCluster, waitFor, externalServers, type ClusterProcess } from './cluster.ts';
import { startServer, stopServer } from '../../cli/servers.ts';

const cluster = new TestCluster('resilience');
let port = 0;
let worker: ClusterProcess;

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  worker = cluster.worker();
  await cluster.edge(port);
  await cluster.put(port, 'brands/b1', { name: 'B1', currency: 'EUR' });
  await cluster.put(port, 'affiliates/a1', { name: 'A1' });
  await cluster.put(port, 'affiliates/a2', { name: 'A2' });
  await cluster.put(port, 'links/k1', { brandId: 'b1', affiliateId: 'a1', landingUrl: 'https://b1.example/' });
  await cluster.put(port, 'links/k2', { brandId: 'b1', affiliateId: 'a2', landingUrl: 'https://b1.example/' });
});

afterAll(() => cluster.teardown());

/** Wait until ClickHouse holds exactly `n` clicks and the report agrees; fail on more. */
async function expectExactly(n: number): Promise<void> {
  let seen = 0;
  const totals = await waitFor(`${n} clicks in ClickHouse`, async () => {
    const t = await cluster.totals();
    seen = t.clicks;
    return t.clicks >= n ? t : undefined;
  }, 90_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}; ClickHouse held ${seen}`);
  });
  // Let any straggler (a double insert would come late) arrive before judging.
  await new Promise((r) => setTimeout(r, 1500));
  const [raw] = await cluster.query<{ n: number; ids: number }>('SELECT count() AS n, uniqExact(click_id) AS ids FROM clicks');
  expect(totals.clicks).toBe(n);
  expect((await cluster.totals()).clicks).toBe(n);
  expect(raw).toEqual({ n, ids: n });
}

let sentSoFar = 0;

describe.skipIf(externalServers)('crashes and outages while clicks flow', () => {
  it('kill -9 of the worker mid-stream, then restart: totals exact', async () => {
    const load = clickStream(port, 'k1', { concurrency: 8, max: 6000 });
    await waitFor('clicks flowing', async () => (load.stats.redirected > 1500 ? true : undefined));
    await worker.stop('SIGKILL');
    await waitFor('more clicks while the worker is down', async () => (load.stats.redirected > 3000 ? true : undefined));
    worker = cluster.worker();
    const stats = await load.done;
    expect(stats.other).toBe(0);
    sentSoFar += stats.redirected;
    await expectExactly(sentSoFar);
  });

  it('ClickHouse stopped for 10 s mid-stream, then restarted: totals exact', async () => {
    const servers = serversConfig();
    const load = clickStream(port, 'k2', { concurrency: 4, max: 20_000 });
    await waitFor('clicks flowing', async () => (load.stats.redirected > 500 ? true : undefined));
    expect(await stopServer(servers, 'clickhouse')).toBe(true);
    await new Promise((r) => setTimeout(r, 10_000));
    await startServer(servers, 'clickhouse');
    const stats = await load.stop();
    expect(stats.other).toBe(0);
    sentSoFar += stats.redirected;
    await expectExactly(sentSoFar);
  });

  it('nats-server stopped while clicks flow: redirects keep answering; totals exact after it returns', async () => {
    const servers = serversConfig();
    const before = clickStream(port, 'k1', { concurrency: 4, max: 2000 });
    const normal = await before.done;
    const load = clickStream(port, 'k1', { concurrency: 4, max: 40_000 });
    await waitFor('clicks flowing', async () => (load.stats.redirected > 500 ? true : undefined));
    expect(await stopServer(servers, 'nats')).toBe(true);
    const atStop = load.stats.latencies.length;
    await new Promise((r) => setTimeout(r, 5_000));
    const during = load.stats.latencies.slice(atStop);
    const spool = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const depth = Number(/^spool_depth\{[^}]*\} (\d+)/m.exec(spool)?.[1] ?? 0);
    await startServer(servers, 'nats');
    const stats = await load.stop();
    console.log(
      `redirects with NATS down: ${during.length} in 5 s, p50 ${quantile(during, 0.5).toFixed(2)} ms, p99 ${quantile(during, 0.99).toFixed(2)} ms ` +
        `(with NATS up: p50 ${quantile(normal.latencies, 0.5).toFixed(2)} ms, p99 ${quantile(normal.latencies, 0.99).toFixed(2)} ms); spool depth ${depth}`,
    );
    expect(during.length).toBeGreaterThan(100);
    expect(depth).toBeGreaterThan(0);
    expect(stats.other + normal.other).toBe(0);
    sentSoFar += normal.redirected + stats.redirected;
    await expectExactly(sentSoFar);
  });
});
