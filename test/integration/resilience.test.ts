/**
 * Crashes and outages while clicks flow (issue "The running cluster, end to end", done-when 2–4):
 * totals must come out exact every time. These tests stop and start the suite's own servers, so
 * they run only when the suite started them (not against servers given by URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickStream, freePort, quantile, serversConfig, TestCluster, waitFor, externalServers, type ClusterProcess } from './cluster.ts';
import { startServer, stopServer } from '../../cli/servers.ts';
import { createHmac } from 'node:crypto';

const SECRET = 'resilience-secret-0123';

/** POST a signed JSON batch of events for brand b1; retried while the edge answers 503. */
async function sendEvents(events: unknown[]): Promise<{ accepted: number; duplicates: number }> {
  const body = JSON.stringify({ brand: 'b1', events });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  return waitFor('events accepted', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signature }, body });
    return r.status === 200 ? ((await r.json()) as { accepted: number; duplicates: number }) : undefined;
  });
}

const cluster = new TestCluster('resilience');
let port = 0;
let worker: ClusterProcess;

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  worker = cluster.worker();
  await cluster.edge(port);
  await cluster.put(port, 'brands/b1', { name: 'B1', currency: 'EUR', postbackSecret: SECRET });
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

  it('kill -9 of the worker while player events flow: registrations, FTDs and money exact after restart', async () => {
    const players = 300;
    const clicks: string[] = [];
    for (let i = 0; i < players; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/c/k1?sub1=ev`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' } });
      clicks.push(/click_id=([0-9a-f-]{36})/.exec(r.headers.get('location') ?? '')?.[1] as string);
    }
    sentSoFar += players;
    let sent = 0;
    const flow = (async () => {
      for (let i = 0; i < players; i += 20) {
        const batch = [];
        for (let k = i; k < i + 20; k++) {
          batch.push({ type: 'registration', event_id: `kr${k}`, player_id: `kp${k}`, click_id: clicks[k] });
          for (let d = 0; d < 3; d++) batch.push({ type: 'deposit', event_id: `kd${k}-${d}`, player_id: `kp${k}`, amount: `${d + 1}.01`, currency: 'EUR' });
        }
        await sendEvents(batch);
        sent += batch.length;
      }
    })();
    await waitFor('events flowing', async () => (sent >= 400 ? true : undefined));
    await worker.stop('SIGKILL');
    worker = cluster.worker();
    await flow;
    // Everything again: duplicates must not count.
    for (let i = 0; i < players; i += 50) await sendEvents(Array.from({ length: 50 }, (_, k) => ({ type: 'deposit', event_id: `kd${i + k}-0`, player_id: `kp${i + k}`, amount: '1.01', currency: 'EUR' })));
    const rows = await waitFor('all events in ClickHouse', async () => {
      const [r] = await cluster.query<{ regs: number; attributed: number; ftds: number; deposits: number; amount: string; ids: number; n: number }>(
        `SELECT countIf(type = 'registration') AS regs, countIf(type = 'registration' AND affiliate_id = 'a1') AS attributed, sum(is_ftd) AS ftds,
                countIf(type = 'deposit') AS deposits, toString(sumIf(amount, type = 'deposit')) AS amount, uniqExact(event_id) AS ids, count() AS n FROM events`,
      );
      return r && r.n >= players * 4 ? r : undefined;
    }, 90_000, 250);
    await new Promise((r) => setTimeout(r, 1500));
    expect(rows).toEqual({ regs: players, attributed: players, ftds: players, deposits: players * 3, amount: (players * 6.03).toFixed(4), ids: players * 4, n: players * 4 });
    const [again] = await cluster.query<{ n: number }>('SELECT count() AS n FROM events');
    expect(again?.n).toBe(players * 4);
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
