/**
 * Worker health on real servers (workers/healthServer.ts, workers/supervisor.ts, docs/api.md
 * “Worker health”): a worker process answers /healthz and /readyz per partition; and what the
 * supervisor does after a dead loop — abandon the instance without writing anything more of it,
 * start a new one in the same process — ends with exact totals, the new instance recovering
 * everything the abandoned one had applied and not flushed.
 */
import { createHmac } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from '../../workers/worker.ts';
import { freePort, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('health');
const SECRET = 'health-secret-0123456789';
let port: number;

/** POST a signed JSON batch; the answer's body. */
async function send(events: unknown[]): Promise<{ accepted: number }> {
  const body = JSON.stringify({ brand: 'casino', events });
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
    body,
  });
  return (await r.json()) as { accepted: number };
}

const deposits = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => [
    { type: 'registration', event_id: `hr-${from + i}`, player_id: `hp-${from + i}` },
    { type: 'deposit', event_id: `hd-${from + i}`, player_id: `hp-${from + i}`, amount: '10.50', currency: 'EUR' },
  ]).flat();

const stored = async () =>
  (await cluster.query<{ n: number; deposits: string }>("SELECT count() AS n, toString(sumIf(amount, type = 'deposit')) AS deposits FROM events WHERE event_id LIKE 'h_-%'"))[0];

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  await cluster.edge(port);
  await cluster.putAll(port, [['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET }]]);
});

afterAll(() => cluster.teardown());

describe('worker health', () => {
  it('answers /healthz and /readyz with every owned partition once consuming', async () => {
    const metricsPort = await freePort();
    const worker = cluster.worker({ AFFSTREAM_WORKER_METRICS_PORT: String(metricsPort) });
    const ready = await waitFor('the worker ready', async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
      return r?.status === 200 ? ((await r.json()) as { ready: boolean; state: string; partitions: Array<Record<string, unknown>> }) : undefined;
    });
    expect(ready).toMatchObject({ ready: true, state: 'consuming', restarts: 0, quarantined: [] });
    expect(ready.partitions.map((p) => p.partition)).toEqual(Array.from({ length: cluster.cfg.partitions }, (_, p) => p));
    expect(ready.partitions.every((p) => p.owned === true && p.live === true && typeof p.position === 'number')).toBe(true);
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, state: 'consuming' });
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/nope`)).status).toBe(404);
    await worker.stop();
    expect(worker.exitCode).toBe(0);
  });

  it('an abandoned instance is replaced in the same process by one that recovers its partitions exactly', async () => {
    const log = pino({ level: 'silent' });
    const first = await startWorker(cluster.cfg, { log });
    expect((await send(deposits(0, 20))).accepted).toBe(40);
    await waitFor('the first events stored', async () => ((await stored())?.n === 40 ? true : undefined));
    // Applied (most likely) and not flushed yet when the instance is abandoned: the next one must replay them.
    expect((await send(deposits(20, 15))).accepted).toBe(30);
    await first.abandon();
    expect((await send(deposits(35, 5))).accepted).toBe(10);
    const second = await startWorker(cluster.cfg, { log });
    try {
      await waitFor('every event stored', async () => ((await stored())?.n === 80 ? true : undefined));
      const [players] = await cluster.query<{ n: number; ids: number }>("SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE event_id LIKE 'h_-%'");
      expect(players).toEqual({ n: 80, ids: 80 });
      expect(await stored()).toEqual({ n: 80, deposits: '420.0000' });
      expect(second.partitions().every((p) => p.live)).toBe(true);
    } finally {
      await second.stop();
    }
  });
});
