/**
 * Commissions end to end (docs/commissions.md) on a real edge and worker: a CPA that qualifies late
 * (KYC after the FTD) makes one pending line; an operator approves and pays it; every status
 * change reaches the affiliate's own tracker as an outbound postback; a forbidden transition is
 * refused; a chargeback appends a reversal and the parent's sub-affiliate line follows; a tracker
 * that never answers holds nothing up; and a worker killed with `kill -9` after a change is committed but before its postback went out still
 * sends it after the restart, with exactly one line per qualifying event.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsUrl } from '../../schema/config.ts';
import { natsNames } from '../../schema/subjects.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import { BROWSER_UA, click, freePort, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('commissions');
const SECRET = 'comm-secret-0123456789';
const AFF_KEY = 'aff1-key-0123456789';
let port = 0;
const base = () => `http://127.0.0.1:${port}`;
const auth = (token = cluster.token) => ({ Authorization: `Bearer ${token}`, 'content-type': 'application/json' });

/** The affiliate's own tracker: records every postback it is sent. */
let receiver: Server;
let receiverPort = 0;
const received: URL[] = [];
/** A dead tracker: takes the connection, never answers. */
let blackHole: TcpServer;
let blackHolePort = 0;
const swallowed: Socket[] = [];

interface Line { id: string; affiliateId: string; playerId: string; kind: string; amount: string; status: string; reason: string; planVersion: string; sourceEventId: string }

async function clickId(code: string, query: string): Promise<string> {
  const r = await click(port, code, query, { 'user-agent': BROWSER_UA });
  return new URL(r.location as string).searchParams.get('cid') as string;
}

async function event(fields: Record<string, string>): Promise<void> {
  const q = new URLSearchParams({ ...fields, token: SECRET });
  const r = await fetch(`${base()}/pb/casino?${q}`);
  expect(await r.json()).toMatchObject({ ok: true });
}

async function lines(query: string): Promise<Line[]> {
  const r = await fetch(`${base()}/api/v1/commissions?${query}`, { headers: auth() });
  expect(r.status).toBe(200);
  return (await r.json()) as Line[];
}

const post = (path: string, body: unknown = {}) => fetch(`${base()}/api/v1/commissions/${path}`, { method: 'POST', headers: auth(), body: JSON.stringify(body) });

/** The postbacks the tracker got for a commission, in arrival order. */
const postbacksOf = (txid: string) => received.filter((u) => u.searchParams.get('tx') === txid);

beforeAll(async () => {
  receiverPort = await freePort();
  receiver = createServer((req: IncomingMessage, res) => {
    received.push(new URL(req.url ?? '/', 'http://tracker'));
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => receiver.listen(receiverPort, '127.0.0.1', r));
  blackHolePort = await freePort();
  blackHole = createTcpServer((socket) => {
    swallowed.push(socket);
  });
  await new Promise<void>((r) => blackHole.listen(blackHolePort, '127.0.0.1', r));
  port = await cluster.start();
  const tracker = `http://127.0.0.1:${receiverPort}/pb?cid={click_id}&s1={sub1}&s2={sub2}&ev={event}&st={status}&p={payout}&cur={currency}&tx={txid}`;
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET, timezone: 'Europe/Malta' }],
    ['plans/cpa-kyc', { brandId: 'casino', currency: 'EUR', cpa: { amount: '33.33', minDeposit: '20', kycRequired: true }, revshare: null, subAffiliatePct: '0', holdDays: 0 }],
    ['plans/parent', { brandId: 'casino', currency: 'EUR', cpa: null, revshare: null, subAffiliatePct: '10', holdDays: 0 }],
    ['affiliates/boss', { name: 'Boss Media', planId: 'parent' }],
    ['affiliates/aff1', { name: 'Aff One', apiKey: AFF_KEY, planId: 'cpa-kyc', parentId: 'boss', postbackUrl: tracker }],
    ['affiliates/aff2', { name: 'Aff Two' }],
    ['plans/cpa-any', { brandId: 'casino', currency: 'EUR', cpa: { amount: '10', minDeposit: '1' }, revshare: null }],
    ['affiliates/aff3', { name: 'Aff Three', planId: 'cpa-any', postbackUrl: `http://127.0.0.1:${blackHolePort}/pb?tx={txid}` }],
    ['links/L3', { brandId: 'casino', affiliateId: 'aff3', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', campaign: 'c', landingUrl: 'https://casino.example/?cid={click_id}' }],
  ]);
});

afterAll(async () => {
  await cluster.teardown();
  await new Promise((r) => receiver.close(r));
  for (const socket of swallowed) socket.destroy();
  await new Promise((r) => blackHole.close(r));
});

describe('commissions', () => {
  let cpa: Line;

  it('a CPA that qualifies late (KYC after the FTD) makes one pending line, posted back to the affiliate', async () => {
    const cid = await clickId('L1', 'sub1=banner&sub2=top');
    // Event times after the plan's start: a plan applies from its effectiveFrom on, never before.
    const t = Date.now();
    await event({ type: 'reg', txid: 'reg-p1', player_id: 'p1', clickid: cid, ts: String(t) });
    await event({ type: 'dep', txid: 'dep-p1', player_id: 'p1', amount: '50.00', currency: 'EUR', ts: String(t + 1000) });
    // Not qualified yet: KYC is required.
    await waitFor('the FTD in the raw log', async () => ((await cluster.query<{ n: number }>(`SELECT toUInt32(count()) AS n FROM events WHERE event_id = 'dep-p1'`))[0]?.n === 1 ? true : undefined));
    expect(await lines('affiliate=aff1')).toEqual([]);
    await event({ type: 'kyc', txid: 'kyc-p1', player_id: 'p1', status: 'approved', ts: String(t + 2000) });
    cpa = await waitFor('the CPA line', async () => (await lines('affiliate=aff1&status=pending'))[0]);
    expect(cpa).toMatchObject({ kind: 'cpa', playerId: 'p1', amount: '33.3300', status: 'pending', sourceEventId: 'kyc-p1', planVersion: 'cpa-kyc@1' });
    expect(await lines('affiliate=aff1')).toHaveLength(1);
    const [pb] = await waitFor('the pending postback', async () => (postbacksOf('kyc-p1').length > 0 ? postbacksOf('kyc-p1') : undefined));
    expect(Object.fromEntries(pb!.searchParams)).toEqual({ cid, s1: 'banner', s2: 'top', ev: 'cpa', st: 'pending', p: '33.3300', cur: 'EUR', tx: 'kyc-p1' });
    // The parent's share of the line: 10 % of 33.33, rounded half away from zero to 4 places.
    const [sub] = await waitFor('the sub-affiliate line', async () => {
      const got = await lines('affiliate=boss&kind=subaffiliate');
      return got.length > 0 ? got : undefined;
    });
    expect(sub).toMatchObject({ amount: '3.3330', status: 'pending', playerId: 'p1' });
  });

  it('approve, then pay: each change recorded with who made it and posted back; a forbidden transition answers 409', async () => {
    expect((await post(`${cpa.id}/pay`, { reference: 'too-early' })).status).toBe(409);
    const approved = await post(`${cpa.id}/approve`, { by: 'ops-anna' });
    expect([approved.status, ((await approved.json()) as Line).status]).toEqual([200, 'approved']);
    expect((await post(`${cpa.id}/hold`, {})).status).toBe(422);
    const paid = await post(`${cpa.id}/pay`, { reference: 'wire-2026-12-001' });
    expect([paid.status, ((await paid.json()) as Line).status]).toEqual([200, 'paid']);
    const again = await post(`${cpa.id}/approve`);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('invalid_transition');
    const one = (await (await fetch(`${base()}/api/v1/commissions/${cpa.id}`, { headers: auth() })).json()) as { history: Array<{ status: string; by: string; reference: string }> };
    expect(one.history.map((h) => [h.status, h.by, h.reference])).toEqual([['pending', 'system', ''], ['approved', 'ops-anna', ''], ['paid', 'admin', 'wire-2026-12-001']]);
    await waitFor('three postbacks', async () => (postbacksOf('kyc-p1').length >= 3 ? true : undefined));
    // Every change told once the tracker accepted it (their order is not guaranteed: one may be retried while the next goes out).
    expect(postbacksOf('kyc-p1').map((u) => u.searchParams.get('st')).sort()).toEqual(['approved', 'paid', 'pending']);
    const attempts = await waitFor('the attempt log', async () => {
      const got = (await (await fetch(`${base()}/api/v1/postbacks?commission=${cpa.id}`, { headers: auth() })).json()) as unknown[];
      return got.length >= 3 ? got : undefined;
    });
    expect(attempts).toHaveLength(3);
  });

  it('an affiliate key sees only its own lines and cannot change them', async () => {
    const own = await fetch(`${base()}/api/v1/commissions`, { headers: auth(AFF_KEY) });
    const got = (await own.json()) as Line[];
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((l) => l.affiliateId === 'aff1')).toBe(true);
    expect((await fetch(`${base()}/api/v1/commissions?affiliate=boss`, { headers: auth(AFF_KEY) })).status).toBe(403);
    expect((await fetch(`${base()}/api/v1/commissions/${cpa.id}/approve`, { method: 'POST', headers: auth(AFF_KEY) })).status).toBe(403);
  });

  it('a chargeback of the FTD appends a reversal of the same amount, and the parent line is reversed too', async () => {
    await event({ type: 'chargeback', txid: 'cb-p1', player_id: 'p1', amount: '50.00', currency: 'EUR', deposit_id: 'dep-p1', ts: String(Date.now()) });
    const [rev] = await waitFor('the reversal', async () => {
      const got = await lines('affiliate=aff1&status=reversed');
      return got.length > 0 ? got : undefined;
    });
    expect(rev).toMatchObject({ kind: 'cpa', amount: '-33.3300', playerId: 'p1' });
    // The original stays as it was: paid.
    expect((await lines('affiliate=aff1&status=paid')).map((l) => l.id)).toEqual([cpa.id]);
    const parent = await waitFor('the parent reversal', async () => {
      const got = await lines('affiliate=boss&kind=subaffiliate');
      return got.length === 2 ? got : undefined;
    });
    expect(parent.map((l) => l.amount).sort()).toEqual(['-3.3330', '3.3330']);
  });

  it('bad input: unknown id 404, malformed id 400, bad filter 400', async () => {
    expect((await post('0190b9a2-0000-7000-8000-000000000000/approve')).status).toBe(404);
    expect((await post('nope/approve')).status).toBe(400);
    expect((await fetch(`${base()}/api/v1/commissions?status=lost`, { headers: auth() })).status).toBe(400);
    expect((await fetch(`${base()}/api/v1/commissions?period=2026-13-01`, { headers: auth() })).status).toBe(400);
    expect((await fetch(`${base()}/api/v1/commissions/${cpa.id}/approve`, { method: 'POST', headers: auth(), body: '{oops' })).status).toBe(400);
  });

  it('approve-due approves the pending lines whose hold period has passed, and skips a held one', async () => {
    const t = Date.now();
    for (const p of ['p3', 'p4']) {
      const cid = await clickId('L1', `sub1=due-${p}`);
      await event({ type: 'reg', txid: `reg-${p}`, player_id: p, clickid: cid, ts: String(t) });
      await event({ type: 'kyc', txid: `kyc-${p}`, player_id: p, status: 'approved', ts: String(t + 1) });
      await event({ type: 'dep', txid: `dep-${p}`, player_id: p, amount: '20.00', currency: 'EUR', ts: String(t + 2) });
    }
    const pending = await waitFor('two pending lines', async () => {
      const got = (await lines('affiliate=aff1&status=pending')).filter((l) => l.playerId === 'p3' || l.playerId === 'p4');
      return got.length === 2 ? got : undefined;
    });
    const held = pending.find((l) => l.playerId === 'p4') as Line;
    const hold = await post(`${held.id}/hold`, { reason: 'documents requested' });
    expect(((await hold.json()) as Line)).toMatchObject({ status: 'held', reason: 'documents requested' });
    const due = await post('approve-due?affiliate=aff1');
    expect(due.status).toBe(200);
    expect(((await due.json()) as { approved: number }).approved).toBe(1);
    const p3 = (await lines('affiliate=aff1&kind=cpa')).find((l) => l.playerId === 'p3');
    expect(p3?.status).toBe('approved');
    expect((await lines('affiliate=aff1&status=held')).map((l) => l.id)).toEqual([held.id]);
  });

  it('a tracker that never answers holds up nothing: other lines are made and posted back, redirects answer', async () => {
    const t = Date.now();
    await event({ type: 'reg', txid: 'reg-h1', player_id: 'h1', clickid: await clickId('L3', 'sub1=x'), ts: String(t) });
    await event({ type: 'dep', txid: 'dep-h1', player_id: 'h1', amount: '5.00', currency: 'EUR', ts: String(t + 1) });
    await waitFor('the dead tracker is called', async () => (swallowed.length > 0 ? true : undefined));
    // While that request hangs, aff1's next line goes through the same worker and dispatcher.
    const cid = await clickId('L1', 'sub1=alive');
    await event({ type: 'reg', txid: 'reg-p5', player_id: 'p5', clickid: cid, ts: String(t + 2) });
    await event({ type: 'kyc', txid: 'kyc-p5', player_id: 'p5', status: 'approved', ts: String(t + 3) });
    await event({ type: 'dep', txid: 'dep-p5', player_id: 'p5', amount: '30.00', currency: 'EUR', ts: String(t + 4) });
    await waitFor('aff1’s postback', async () => (postbacksOf('dep-p5').length > 0 ? true : undefined));
    expect((await lines('affiliate=aff3')).map((l) => [l.playerId, l.amount, l.status])).toEqual([['h1', '10.0000', 'pending']]);
    expect((await click(port, 'L1', '', { 'user-agent': BROWSER_UA })).status).toBe(302);
  });

  it('kill -9 after a change is committed but before its postback went out: the postback still goes out, and one line exists', async () => {
    // The postbacks stream gone, the worker can commit the ledger row but not publish the job: it
    // retries the flush without reaching its checkpoint. Killed then, it must send the job after
    // the restart (when the stream is back), from the replay of the change it had committed.
    const nc = await connect({ servers: natsUrl(cluster.cfg) });
    const jsm = await jetstreamManager(nc);
    const names = natsNames(cluster.cfg);
    await jsm.streams.delete(names.postbackStream);
    const cid = await clickId('L1', 'sub1=kill');
    const t = Date.now();
    await event({ type: 'reg', txid: 'reg-p2', player_id: 'p2', clickid: cid, ts: String(t) });
    await event({ type: 'kyc', txid: 'kyc-p2', player_id: 'p2', status: 'approved', ts: String(t + 500) });
    await event({ type: 'dep', txid: 'dep-p2', player_id: 'p2', amount: '25.00', currency: 'EUR', ts: String(t + 1000) });
    await waitFor('the committed CPA line', async () => {
      const r = await cluster.query<{ n: number }>(`SELECT toUInt32(count()) AS n FROM commission_ledger WHERE player_id = 'p2' AND kind = 'cpa'`);
      return r[0]?.n === 1 ? true : undefined;
    });
    expect(postbacksOf('dep-p2')).toEqual([]);
    const worker = cluster.processes.find((p) => p.kind === 'worker' && p.running);
    await worker!.stop('SIGKILL');
    await nc.close();
    cluster.worker();
    const [pb] = await waitFor('the postback after the restart', async () => (postbacksOf('dep-p2').length > 0 ? postbacksOf('dep-p2') : undefined), 90_000);
    expect(pb!.searchParams.get('st')).toBe('pending');
    const versions = await cluster.query<{ id: string; version: number; n: number }>(
      `SELECT id, toUInt32(version) AS version, toUInt32(count()) AS n FROM commission_ledger WHERE player_id = 'p2' AND kind = 'cpa' GROUP BY id, version`,
    );
    expect(versions.map((v) => [v.version, v.n])).toEqual([[1, 1]]);
  });

  it('a worker that lost its commission books replays them from the stream: the same ledger, no row twice, the books go on', async () => {
    type Row = { id: string; version: number; status: string; amount: string; player: string; kind: string };
    const ledger = () => cluster.query<Row>(
      'SELECT id, toUInt32(version) AS version, status, toString(amount) AS amount, player_id AS player, kind FROM commission_ledger ORDER BY id, version',
    );
    // Settled first: the earlier tests' last lines (a parent's share comes a hop later) are all in.
    let seen = -1;
    const before = await waitFor('a quiet ledger', async () => {
      const rows = await ledger();
      const quiet = rows.length === seen;
      seen = rows.length;
      return quiet ? rows : undefined;
    }, 60_000, 2_000);
    expect(before.length).toBeGreaterThan(10);
    const worker = cluster.processes.find((p) => p.kind === 'worker' && p.running);
    await worker!.stop('SIGTERM');
    // Without the partitions' snapshots the worker replays every partition from the stream's start.
    const ch = clickhouse(cluster.cfg);
    await ch.command({ query: 'ALTER TABLE fraud_state DELETE WHERE 1 = 1' });
    await ch.close();
    await waitFor('the snapshots gone', async () => ((await cluster.query<{ n: number }>('SELECT toUInt32(count()) AS n FROM fraud_state'))[0]?.n === 0 ? true : undefined));
    cluster.worker();
    // A new line for a player whose CPA is already paid and reversed would show a book rebuilt wrong.
    const t = Date.now();
    await event({ type: 'dep', txid: 'dep-p1-again', player_id: 'p1', amount: '100.00', currency: 'EUR', ts: String(t) });
    const cid = await clickId('L1', 'sub1=after');
    await event({ type: 'reg', txid: 'reg-p6', player_id: 'p6', clickid: cid, ts: String(t + 1) });
    await event({ type: 'kyc', txid: 'kyc-p6', player_id: 'p6', status: 'approved', ts: String(t + 2) });
    await event({ type: 'dep', txid: 'dep-p6', player_id: 'p6', amount: '21.00', currency: 'EUR', ts: String(t + 3) });
    await waitFor('the new line after the replay', async () => ((await lines('affiliate=aff1&kind=cpa')).some((l) => l.playerId === 'p6') ? true : undefined), 90_000);
    await waitFor('the parent’s share of it', async () => ((await lines('affiliate=boss&kind=subaffiliate')).some((l) => l.playerId === 'p6') ? true : undefined));
    const after = await ledger();
    const key = (r: Row) => `${r.id}.${r.version}`;
    const old = new Set(before.map(key));
    // Every row written before is still there once; the new ones are p6's CPA (1 row) and the parent's share of it (1 row).
    expect(after.filter((r) => old.has(key(r)))).toEqual(before);
    const added = after.filter((r) => !old.has(key(r))).map((r) => `${r.player} ${r.kind} v${r.version} ${r.status} ${r.amount}`);
    expect(added.sort()).toEqual(['p6 cpa v1 pending 33.3300', 'p6 subaffiliate v1 pending 3.3330']);
    expect(new Set(after.map(key)).size).toBe(after.length);
  });
});
