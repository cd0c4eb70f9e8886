/**
 * Every endpoint of a real edge under random and hostile input (loadtest/scenarios/fuzz.ts), with
 * a fixed seed and a bounded count: no rule broken, the edge and the worker still running, and
 * ClickHouse holding exactly the events the edge accepted — each once, no refused one — and every
 * click it answered. The long run is `affstream bench fuzz` (loadtest/README.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBatch } from '../../loadtest/lib/eventClient.ts';
import { runFuzz } from '../../loadtest/scenarios/fuzz.ts';
import { partitionOf } from '../../schema/shard.ts';
import { TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('fuzz');
const SECRET = 'fuzz-secret-0123456789';
const BRAND = 'casino';
const AFFILIATE = 'aff1';
/** fast-check's seed: the same inputs on every run. */
const SEED = 20_261_204;
/** Inputs per target: a few seconds of requests on an idle machine. */
const RUNS = 200;
let port = 0;

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    // No restrictedUrl: a geo-blocked click answers 451.
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET, restrictedCountries: ['US'] }],
    [`affiliates/${AFFILIATE}`, { name: 'Aff One' }],
    ['links/L1', { brandId: BRAND, affiliateId: AFFILIATE, campaign: 'fuzz', landingUrl: 'https://casino.example/?cid={click_id}&s1={sub1}' }],
  ]);
});

afterAll(() => cluster.teardown());

describe('fuzzing every endpoint', () => {
  it('breaks no rule, crashes nothing, and ClickHouse holds exactly what the edge accepted', async () => {
    const f = await runFuzz({
      edgeUrl: `http://127.0.0.1:${port}`, brand: BRAND, postbackSecret: SECRET, linkCode: 'L1', adminToken: cluster.token,
      seed: SEED, runs: RUNS, maxEventBodyBytes: cluster.cfg.edge.maxEventBodyBytes, maxAdminBodyBytes: cluster.cfg.edge.maxAdminBodyBytes, log: () => undefined,
    });
    const broken = [...f.targets.flatMap((t) => [...t.samples, ...(t.counterexample ? [{ target: t.target, detail: t.counterexample, input: '' }] : [])]), ...f.closingViolations];
    expect(broken).toEqual([]);
    expect(f.violations).toBe(0);
    expect(f.healthy).toBe(true);
    for (const t of f.targets) expect({ target: t.target, inputs: t.inputs, interrupted: t.interrupted }).toEqual({ target: t.target, inputs: RUNS, interrupted: false });
    expect(f.accepted.length).toBeGreaterThan(0);
    expect(f.uncertain).toEqual([]);
    expect(cluster.processes.map((p) => [p.kind, p.running])).toEqual([['worker', true], ['edge', true]]);

    const stored = async () => {
      const rows = await cluster.query<{ event_id: string; n: string | number }>(`SELECT event_id, count() AS n FROM events WHERE startsWith(event_id, '${f.tag}-') GROUP BY event_id`);
      return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
    };
    await waitFor('the accepted events in ClickHouse', async () => ((await stored()).size >= f.accepted.length ? true : undefined), 90_000, 250);

    // A partition is applied and written in order: once a marker registered after the fuzz is in
    // ClickHouse, everything its partition got before it is too, and nothing of the fuzz is left to come.
    const partitions = new Set([...f.accepted.map((a) => partitionOf(`${BRAND}:${a.playerId}`, cluster.cfg.partitions)), partitionOf(AFFILIATE, cluster.cfg.partitions)]);
    const markers = [...partitions].map((p) => {
      // One player in 64 lands on a given partition: 100,000 tries never all miss.
      const k = Array.from({ length: 100_000 }, (_, i) => i).find((i) => partitionOf(`${BRAND}:mk-${f.tag}-${p}-${i}`, cluster.cfg.partitions) === p);
      return { type: 'registration', event_id: `mk-${f.tag}-${p}`, player_id: `mk-${f.tag}-${p}-${k}` };
    });
    expect(await sendBatch({ baseUrl: `http://127.0.0.1:${port}`, brand: BRAND, secret: SECRET }, markers)).toMatchObject({ accepted: markers.length });
    await waitFor('the markers in ClickHouse', async () => {
      const [row] = await cluster.query<{ n: string | number }>(`SELECT count() AS n FROM events WHERE startsWith(event_id, 'mk-${f.tag}-')`);
      return Number(row?.n) === markers.length ? true : undefined;
    }, 60_000, 250);

    const ids = await stored();
    const accepted = new Set(f.accepted.map((a) => a.eventId));
    expect([...accepted].filter((id) => !ids.has(id))).toEqual([]);
    expect([...ids].filter(([id, n]) => n !== 1 || !accepted.has(id))).toEqual([]);
    expect(f.rejected.filter((id) => ids.has(id))).toEqual([]);
    const [clicks] = await cluster.query<{ n: string | number }>('SELECT count() AS n FROM clicks');
    expect(Number(clicks?.n)).toBe(f.clicks);
  });
});
