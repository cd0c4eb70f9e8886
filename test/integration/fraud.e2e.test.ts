/**
 * The fraud engine end to end (docs/fraud.md): a registration farm on one sub-ID is paused while the
 * attack runs (and a near miss is not), the pause reaches the redirect and the API, an operator
 * lifts it (audited), a click flood is flagged, and a worker killed with `kill -9` in the middle
 * of an attack raises each alert and action exactly once.
 */
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('fraud');
const SECRET = 'fraud-secret-0123456789';
let port = 0;
const base = () => `http://127.0.0.1:${port}`;
const auth = () => ({ Authorization: `Bearer ${cluster.token}` });
const T0 = Date.now() - 30 * 60_000;

interface Pause { id: string; affiliate_id: string; sub_id: string; rule: string; action: string; since: string; evidence: Record<string, unknown> }

async function clickId(code: string, sub1: string, ip: string): Promise<string> {
  const r = await click(port, code, `sub1=${sub1}`, { 'user-agent': BROWSER_UA, 'x-forwarded-for': ip });
  return new URL(r.location as string).searchParams.get('cid') as string;
}

async function register(playerId: string, cid: string, ip: string, ts: number): Promise<void> {
  const body = JSON.stringify({ brand: 'casino', events: [{ event_id: `reg-${playerId}`, type: 'registration', player_id: playerId, click_id: cid, ip, ts }] });
  const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const r = await fetch(`${base()}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sig }, body });
  expect(((await r.json()) as { accepted: number }).accepted).toBe(1);
}

async function pauses(): Promise<Pause[]> {
  return (await (await fetch(`${base()}/api/v1/fraud/pauses`, { headers: auth() })).json()) as Pause[];
}

const pauseOf = async (sub: string) => (await pauses()).find((p) => p.sub_id === sub);

/** The click ids first, so every registration's click is already known to the worker. */
async function clicksFor(code: string, sub1: string, ips: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ip of ips) ids.push(await clickId(code, sub1, ip));
  return ids;
}

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET }],
    ['affiliates/aff1', { name: 'Aff One', apiKey: 'aff1-key-0123456789' }],
    ['affiliates/aff2', { name: 'Aff Two' }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
    ['links/L2', { brandId: 'casino', affiliateId: 'aff2', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
  ]);
});

afterAll(() => cluster.teardown());

describe('fraud engine', () => {
  it('pauses a registration farm as soon as one IP passes the threshold; a near miss is not paused', async () => {
    // Near miss: exactly 5 registrations from one IP within 10 minutes.
    const near = await clicksFor('L1', 'near', Array(5).fill('198.51.100.7'));
    for (const [i, cid] of near.entries()) await register(`near-${i}`, cid, '198.51.100.7', T0 + i * 60_000);

    // The farm: 47 registrations from one /24 within 6 minutes; the first twelve from one IP.
    const ips = Array.from({ length: 47 }, (_, i) => `203.0.113.${i < 12 ? 7 : 20 + i}`);
    const ids = await clicksFor('L1', 'farm', ips);
    let pausedAt = -1;
    for (let i = 0; i < ids.length; i++) {
      await register(`farm-${i}`, ids[i] as string, ips[i] as string, T0 + i * 7_500);
      if (i === 4) {
        // The fifth registration from the IP is still within the rule: give the engine time to (not) act.
        await new Promise((r) => setTimeout(r, 1500));
        expect(await pauseOf('farm')).toBeUndefined();
      }
      if (i === 5) {
        await waitFor('farm paused', async () => pauseOf('farm'), 10_000, 20);
        pausedAt = i;
      }
    }
    expect(pausedAt).toBe(5);
    const p = (await pauseOf('farm')) as Pause;
    expect(p).toMatchObject({ affiliate_id: 'aff1', sub_id: 'farm', rule: 'ip_registrations', action: 'pause_sub' });
    expect(p.evidence).toMatchObject({ ip: '203.0.113.7', registrations: 6, max: 5 });
    expect(p.since).toBe(new Date(T0 + 5 * 7_500).toISOString());
    expect(await pauseOf('near')).toBeUndefined();
    // `from` lists only the pauses triggered at or after it; a bad one is a 400 naming it.
    const listed = async (from: string) => ((await (await fetch(`${base()}/api/v1/fraud/pauses?from=${from}`, { headers: auth() })).json()) as Pause[]).map((x) => x.id);
    expect(await listed(String(T0 + 5 * 7_500))).toContain(p.id);
    expect(await listed(new Date(T0 + 5 * 7_500 + 1).toISOString())).not.toContain(p.id);
    const badFrom = await fetch(`${base()}/api/v1/fraud/pauses?from=soon`, { headers: auth() });
    expect(badFrom.status).toBe(400);
    expect(((await badFrom.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'invalid_parameter', message: expect.stringContaining('from') });

    // The alert is stored once, with its score, and listed by the API.
    const alerts = await waitFor('alert stored', async () => {
      const r = (await (await fetch(`${base()}/api/v1/fraud/alerts?rule=ip_registrations&from=${T0 - 60_000}`, { headers: auth() })).json()) as Array<Record<string, unknown>>;
      return r.length > 0 ? r : undefined;
    }, 15_000);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: p.id, affiliate_id: 'aff1', sub_id: 'farm', action: 'pause_sub' });
    // Days mean whole UTC days, as in the reports.
    const day = new Date(T0 + 5 * 7_500).toISOString().slice(0, 10);
    const byDay = (await (await fetch(`${base()}/api/v1/fraud/alerts?rule=ip_registrations&from=${day}&to=${day}`, { headers: auth() })).json()) as Array<{ id: string }>;
    expect(byDay.map((x) => x.id)).toEqual([p.id]);

    // The paused sub-ID's next click is still redirected, recorded as paused; an affiliate key sees only its own pauses.
    const after = await clickId('L1', 'farm', '192.0.2.50');
    const row = await waitFor('paused click stored', async () => (await cluster.query<{ sub_status: string; fraud_score: number }>(`SELECT sub_status, fraud_score FROM clicks WHERE click_id = '${after}'`))[0], 15_000);
    expect(row.sub_status).toBe('paused');
    expect(row.fraud_score).toBeGreaterThanOrEqual(20);
    const reg = await waitFor('registration scores stored', async () => {
      const r = await cluster.query<{ n: number; fast: number }>(`SELECT count() AS n, countIf(fraud_score >= 30) AS fast FROM events WHERE type = 'registration' AND player_id LIKE 'farm-%'`);
      return Number(r[0]?.n) === 47 ? r[0] : undefined;
    }, 15_000);
    // Registered within seconds of the click: every farm registration scores as scripted.
    expect(Number(reg.fast)).toBe(47);
  });

  it('an operator lifts the pause, audited; the sub-ID is active again everywhere', async () => {
    const p = (await pauseOf('farm')) as Pause;
    const denied = await fetch(`${base()}/api/v1/fraud/pauses/${p.id}`, { method: 'DELETE' });
    expect(denied.status).toBe(401);
    const r = await fetch(`${base()}/api/v1/fraud/pauses/${p.id}/lift`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'verified with the affiliate' }) });
    expect(r.status).toBe(200);
    expect(await pauseOf('farm')).toBeUndefined();
    expect((await fetch(`${base()}/api/v1/fraud/pauses/${p.id}`, { method: 'DELETE', headers: auth() })).status).toBe(404);
    const audit = await cluster.query<{ pause_id: string; reason: string; rule: string }>(`SELECT pause_id, reason, rule FROM fraud_audit`);
    expect(audit).toEqual([{ pause_id: p.id, reason: 'verified with the affiliate', rule: 'ip_registrations' }]);
    const next = await clickId('L1', 'farm', '192.0.2.51');
    const row = await waitFor('click after lift stored', async () => (await cluster.query<{ sub_status: string }>(`SELECT sub_status FROM clicks WHERE click_id = '${next}'`))[0], 15_000);
    expect(row.sub_status).toBe('active');
  });

  it('flags a click flood: the clicks past the per-minute limit are flagged and not unique', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 35; i++) ids.push(await clickId('L2', 'flood', '198.18.0.1'));
    const rows = await waitFor('flood stored', async () => {
      const r = await cluster.query<{ flagged: number; n: number }>(`SELECT flagged, count() AS n FROM clicks WHERE sub1 = 'flood' GROUP BY flagged ORDER BY flagged`);
      return r.reduce((n, x) => n + Number(x.n), 0) === 35 ? r : undefined;
    }, 15_000);
    expect(rows.map((x) => [Number(x.flagged), Number(x.n)])).toEqual([[0, 30], [1, 5]]);
    const alerts = await waitFor('flood alert', async () => {
      const r = await cluster.query<{ n: number }>(`SELECT count() AS n FROM fraud_alerts WHERE rule = 'click_flood' AND sub_id = 'flood'`);
      return Number(r[0]?.n) > 0 ? r : undefined;
    }, 15_000);
    expect(Number(alerts[0]?.n)).toBe(1);
  });

  it('streams alerts and counters on /v1/live; an affiliate key watches only itself', async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/live?affiliate=aff2&token=aff1-key-0123456789`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(403);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/live?affiliate=aff1`, { headers: { Authorization: 'Bearer aff1-key-0123456789' } });
    const frames: Array<{ type: string; alert?: { rule: string; sub_id: string }; counters?: { affiliate_id: string } }> = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const ids = await clicksFor('L1', 'farm3', Array(6).fill('203.0.113.77'));
    for (const [i, cid] of ids.entries()) await register(`farm3-${i}`, cid, '203.0.113.77', T0 + i * 1000);
    await waitFor('alert on the live socket', async () => (frames.some((f) => f.type === 'alert' && f.alert?.sub_id === 'farm3') ? true : undefined), 15_000);
    await waitFor('counters on the live socket', async () => (frames.some((f) => f.type === 'counters' && f.counters?.affiliate_id === 'aff1') ? true : undefined), 5_000);
    expect(frames.find((f) => f.type === 'alert')?.alert).toMatchObject({ rule: 'ip_registrations', sub_id: 'farm3' });
    ws.close();
  });

  it('a worker killed with kill -9 during an attack: each alert and action exactly once', async () => {
    const ips = Array.from({ length: 20 }, () => '203.0.113.99');
    const ids = await clicksFor('L2', 'farm2', ips);
    for (let i = 0; i < ids.length; i++) {
      if (i === 6) {
        await cluster.processes.find((p) => p.kind === 'worker')?.stop('SIGKILL');
        cluster.worker();
      }
      await register(`farm2-${i}`, ids[i] as string, '203.0.113.99', T0 + i * 10_000);
    }
    await waitFor('farm2 paused', async () => pauseOf('farm2'), 30_000);
    await waitFor('every farm2 registration stored', async () => {
      const r = await cluster.query<{ n: number }>(`SELECT count() AS n FROM events WHERE player_id LIKE 'farm2-%'`);
      return Number(r[0]?.n) === 20 ? true : undefined;
    }, 30_000);
    const countAlerts = async () => (await cluster.query<{ rows: number; ids: number }>(`SELECT count() AS rows, uniqExact(id) AS ids FROM fraud_alerts WHERE sub_id = 'farm2'`)).map((a) => [Number(a.rows), Number(a.ids)]);
    await waitFor('farm2 alert stored', async () => ((await countAlerts())[0]?.[0] ? true : undefined), 30_000);
    // Time for a replay to write a second one, were it going to.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await countAlerts()).toEqual([[1, 1]]);
    expect((await pauses()).filter((p) => p.sub_id === 'farm2')).toHaveLength(1);
  });
});
