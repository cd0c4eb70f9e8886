/**
 * Player events over every HTTP transport, end to end: clicks → registrations (stitched to their
 * clicks) → KYC → deposits (first = FTD) → bets → bonus → chargeback, organic players, duplicates
 * across transports, and the reports exact to the cent.
 */
import { createHmac } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('events');
const SECRET = 'pb-secret-0123456789';
let port = 0;
const base = () => `http://127.0.0.1:${port}`;
const sign = (body: string | Uint8Array) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

async function postback(query: string): Promise<{ status: number; body: { ok: boolean; duplicate?: boolean; error?: { code: string } } }> {
  const r = await fetch(`${base()}/pb/casino?${query}&token=${SECRET}`);
  return { status: r.status, body: (await r.json()) as never };
}

async function json(events: unknown[], brand = 'casino'): Promise<{ status: number; body: { accepted: number; duplicates: number; rejected: Array<{ index: number; code: string }>; error?: { code: string } } }> {
  const body = JSON.stringify({ brand, events });
  const r = await fetch(`${base()}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sign(body) }, body });
  return { status: r.status, body: (await r.json()) as never };
}

async function msgpack(events: unknown[]): Promise<{ accepted: number; duplicates: number; rejected: unknown[] }> {
  const body = encode({ brand: 'casino', events });
  const r = await fetch(`${base()}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack', 'x-signature': sign(body) }, body: Buffer.from(body) });
  expect(r.headers.get('content-type')).toBe('application/msgpack');
  return decode(new Uint8Array(await r.arrayBuffer())) as never;
}

async function clickId(sub1: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await click(port, 'L1', `sub1=${sub1}`, { 'user-agent': BROWSER_UA, 'x-forwarded-for': `203.0.113.${sub1.length}`, ...headers });
  if (r.location?.includes('restricted')) {
    const id = /affstream_cid=([0-9a-f-]{36})/.exec(r.setCookie ?? '')?.[1];
    return id as string;
  }
  return new URL(r.location as string).searchParams.get('cid') as string;
}

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', {
      name: 'Casino', currency: 'EUR', postbackSecret: SECRET, restrictedCountries: ['US'], restrictedUrl: 'https://casino.example/restricted',
      ngr: { paymentFeePct: 2, gamingTaxPct: 10 },
    }],
    ['affiliates/aff1', { name: 'Aff One' }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', campaign: 'winter', landingUrl: 'https://casino.example/?cid={click_id}' }],
    ['rates/USD-EUR', { rate: '0.9' }],
    ['rates/XBT-EUR', { rate: '50000' }],
  ]);
});

afterAll(() => cluster.teardown());

describe('player events → attribution → reports', () => {
  it('scenario over postback, JSON and msgpack: exact to the cent, duplicates counted once', async () => {
    const c1 = await clickId('alpha');
    const c2 = await clickId('beta');
    const c3 = await clickId('gamma');
    const cBot = await clickId('bot', { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    const cGeo = await clickId('geo', { 'x-country-code': 'US' });
    const stale = '018f0000-0000-7000-8000-000000000000'; // a well-formed click id from 2024 that we never gave out

    // Registrations, one per transport, plus organic ones.
    expect((await postback(`type=reg&txid=r1&player_id=p1&clickid=${c1}`)).body).toEqual({ ok: true, duplicate: false });
    expect((await json([{ type: 'registration', event_id: 'r2', player_id: 'p2', click_id: c2 }])).body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    // p3 deposits before registering: the deposit waits and is attributed with the registration.
    expect(await msgpack([{ type: 'deposit', event_id: 'd3', player_id: 'p3', amount: 30, currency: 'EUR' }])).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await msgpack([{ type: 'registration', event_id: 'r3', player_id: 'p3', click_id: c3 }])).toMatchObject({ accepted: 1 });
    expect((await json([
      { type: 'registration', event_id: 'r4', player_id: 'p4' },
      { type: 'registration', event_id: 'r5', player_id: 'p5', click_id: stale },
      { type: 'registration', event_id: 'r6', player_id: 'p6', click_id: cBot },
      { type: 'registration', event_id: 'r7', player_id: 'p7', click_id: cGeo },
    ])).body).toMatchObject({ accepted: 4 });

    // The funnel.
    await postback('type=kyc&txid=k1&player_id=p1&status=approved');
    await postback('type=ftd&txid=d1&player_id=p1&payout=100.00&currency=EUR');
    await postback('type=dep&txid=d1b&player_id=p1&amount=25.50&currency=EUR');
    await json([
      { type: 'deposit', event_id: 'd2', player_id: 'p2', amount: '10', currency: 'USD' },
      { type: 'bet', event_id: 'b1', player_id: 'p1', stake: '20.00', win: '5.00', currency: 'EUR', game: 'starburst', category: 'slots' },
      { type: 'bet', event_id: 'b2', player_id: 'p2', stake: 3, win: 13, currency: 'EUR' },
      { type: 'bonus', event_id: 'bo1', player_id: 'p1', action: 'converted', amount: '4.00', currency: 'EUR', bonus_id: 'wb' },
      { type: 'withdrawal', event_id: 'w1', player_id: 'p1', amount: '40', currency: 'EUR' },
      { type: 'chargeback', event_id: 'cb1', player_id: 'p1', amount: '25.50', currency: 'EUR', deposit_id: 'd1b' },
      { type: 'deposit', event_id: 'd4', player_id: 'p4', amount: '7', currency: 'EUR' },
    ]);

    // Every event again: same transport, other transports, a while later.
    expect((await postback(`type=reg&txid=r1&player_id=p1&clickid=${c1}`)).body).toEqual({ ok: true, duplicate: true });
    expect((await postback('type=ftd&txid=d1&player_id=p1&payout=100.00&currency=EUR')).body.duplicate).toBe(true);
    expect((await json([{ type: 'deposit', event_id: 'd1', player_id: 'p1', amount: '100', currency: 'EUR' }, { type: 'registration', event_id: 'r2', player_id: 'p2', click_id: c2 }])).body).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await msgpack([{ type: 'bet', event_id: 'b1', player_id: 'p1', stake: '20.00', win: '5.00', currency: 'EUR' }, { type: 'deposit', event_id: 'd3', player_id: 'p3', amount: 30, currency: 'EUR' }])).toMatchObject({ accepted: 0, duplicates: 2 });

    const day = new Date().toISOString().slice(0, 10);
    const report = async () => {
      const r = await fetch(`${base()}/api/v1/reports/affiliate-daily?from=${day}&to=${day}&brand=casino`, { headers: { Authorization: `Bearer ${cluster.token}` } });
      return (await r.json()) as Array<Record<string, unknown>>;
    };
    const rows = await waitFor('all events in the report', async () => {
      const r = await report();
      const aff = r.find((x) => x.affiliate_id === 'aff1');
      const org = r.find((x) => x.affiliate_id === '');
      return aff?.registrations === 3 && aff?.deposits === 4 && aff?.chargeback_amount !== '0.0000' && org?.registrations === 4 && org?.deposits === 1 ? r : undefined;
    });
    // aff1: p1 (100 FTD + 25.50, bet 20/5, bonus 4, chargeback 25.50), p2 (10 USD = 9 EUR FTD, bet 3/13), p3 (30 FTD before registering).
    // fees 2% of deposits: 2.00 + 0.51 + 0.18 + 0.60 = 3.29; GGR 15 + (-10) = 5, tax 10% = 0.50;
    // NGR = 5 − 4 − 25.50 − 3.29 − 0.50 = −28.29.
    const aff = rows.find((x) => x.affiliate_id === 'aff1');
    expect(aff).toMatchObject({
      registrations: 3, ftds: 3, ftd_amount: '139.0000', deposits: 4, deposit_amount: '164.5000', withdrawal_amount: '40.0000',
      ggr: '5.0000', bonus_amount: '4.0000', chargeback_amount: '25.5000', ngr: '-28.2900',
    });
    const organic = rows.find((x) => x.affiliate_id === '');
    expect(organic).toMatchObject({ registrations: 4, ftds: 1, ftd_amount: '7.0000', deposits: 1, ngr: '-0.1400' });

    const reasons = await cluster.query<{ player_id: string; attribution: string; affiliate_id: string; sub1: string }>(
      "SELECT player_id, attribution, affiliate_id, sub1 FROM events WHERE type = 'registration' ORDER BY player_id",
    );
    expect(reasons).toEqual([
      { player_id: 'p1', attribution: 'click', affiliate_id: 'aff1', sub1: 'alpha' },
      { player_id: 'p2', attribution: 'click', affiliate_id: 'aff1', sub1: 'beta' },
      { player_id: 'p3', attribution: 'click', affiliate_id: 'aff1', sub1: 'gamma' },
      { player_id: 'p4', attribution: 'no_click', affiliate_id: '', sub1: '' },
      { player_id: 'p5', attribution: 'unknown_click', affiliate_id: '', sub1: '' },
      { player_id: 'p6', attribution: 'bot_click', affiliate_id: '', sub1: '' },
      { player_id: 'p7', attribution: 'geo_blocked_click', affiliate_id: '', sub1: '' },
    ]);
    const [counts] = await cluster.query<{ n: number; ids: number }>('SELECT count() AS n, uniqExact(event_id) AS ids FROM events');
    expect(counts).toEqual({ n: 18, ids: 18 });

    // Live counters: today's, summed over partitions, for the admin or the affiliate's own key.
    await cluster.put(port, 'affiliates/aff1', { name: 'Aff One', apiKey: 'aff1-key-0123456789' });
    await cluster.put(port, 'affiliates/aff2', { name: 'Aff Two', apiKey: 'aff2-key-0123456789' });
    const live = await waitFor('live counters', async () => {
      const r = await fetch(`${base()}/api/v1/live/affiliates/aff1`, { headers: { Authorization: 'Bearer aff1-key-0123456789' } });
      const body = (await r.json()) as Record<string, unknown>;
      return body.ftds === 3 ? body : undefined;
    });
    expect(live).toEqual({
      affiliate_id: 'aff1', day: new Date().toISOString().slice(0, 10), clicks: 5, unique_clicks: 2, bot_clicks: 1, geo_blocked_clicks: 1,
      registrations: 3, ftds: 3, deposits: 4, ftd_amount: '139.0000', deposit_amount: '164.5000', ngr: '-28.2900',
    });
    const other = await fetch(`${base()}/api/v1/live/affiliates/aff1`, { headers: { Authorization: 'Bearer aff2-key-0123456789' } });
    expect([other.status, ((await other.json()) as { error: { code: string } }).error.code]).toEqual([403, 'forbidden']);

    const [usd] = await cluster.query<{ amount: string; original_amount: string; original_currency: string }>(
      "SELECT toString(amount) AS amount, toString(original_amount) AS original_amount, original_currency FROM events WHERE event_id = 'd2'",
    );
    expect(usd).toEqual({ amount: '9.0000', original_amount: '10.0000', original_currency: 'USD' });
  });

  it('answers bad input with 4xx and a code; valid events of a mixed batch are accepted', async () => {
    const mixed = await json([
      { type: 'kyc', event_id: 'mx1', player_id: 'p9', status: 'pending' },
      { type: 'deposit', event_id: 'mx2', player_id: 'p9', amount: 'ten', currency: 'EUR' },
      { type: 'deposit', event_id: 'mx3', player_id: 'p9', currency: 'EUR' },
      { type: 'lottery', event_id: 'mx4', player_id: 'p9' },
      'not an object',
      { type: 'kyc', event_id: 'mx5', player_id: 'p9', status: 'approved', brand: 'other' },
      // More integer digits than money is stored with, before or after conversion (docs/protocol.md, “Money”).
      { type: 'deposit', event_id: 'mx6', player_id: 'p9', amount: '1000000000000', currency: 'EUR' },
      { type: 'deposit', event_id: 'mx7', player_id: 'p9', amount: '100000000', currency: 'XBT' },
      { type: 'registration', event_id: 'mx8', player_id: 'pmax' },
      { type: 'deposit', event_id: 'mx9', player_id: 'pmax', amount: '999999999999.9999', currency: 'EUR' },
    ]);
    expect(mixed.status).toBe(200);
    expect(mixed.body.accepted).toBe(3);
    expect(mixed.body.rejected.map((r) => [r.index, r.code])).toEqual([[1, 'invalid_field'], [2, 'missing_field'], [3, 'unknown_type'], [4, 'invalid_field'], [5, 'brand_mismatch'], [6, 'invalid_field'], [7, 'invalid_field']]);
    // The largest amount taken is stored, and the writes after it go on.
    await waitFor('the largest deposit stored', async () => {
      const [r] = await cluster.query<{ amount: string }>("SELECT toString(amount) AS amount FROM events WHERE event_id = 'mx9'");
      return r;
    }).then((r) => expect(r).toEqual({ amount: '999999999999.9999' }));

    const raw = async (body: string | Uint8Array, headers: Record<string, string>) => {
      const r = await fetch(`${base()}/v1/events`, { method: 'POST', headers, body: typeof body === 'string' ? body : Buffer.from(body) });
      return [r.status, ((await r.json()) as { error: { code: string } }).error.code];
    };
    const ok = JSON.stringify({ brand: 'casino', events: [] });
    expect(await raw(ok, { 'content-type': 'application/json' })).toEqual([401, 'unauthorized']);
    expect(await raw(ok, { 'content-type': 'application/json', 'x-signature': `sha256=${'0'.repeat(64)}` })).toEqual([401, 'invalid_signature']);
    expect(await raw('{"brand":', { 'content-type': 'application/json', 'x-signature': sign('{"brand":') })).toEqual([400, 'invalid_json']);
    const junk = new Uint8Array([0xc1, 0xff, 0x00]);
    expect(await raw(junk, { 'content-type': 'application/msgpack', 'x-signature': sign(junk) })).toEqual([400, 'invalid_msgpack']);
    expect(await raw(ok, { 'content-type': 'text/plain' })).toEqual([415, 'unsupported_media_type']);
    const nobrand = JSON.stringify({ brand: 'nope', events: [] });
    expect(await raw(nobrand, { 'content-type': 'application/json', 'x-signature': sign(nobrand) })).toEqual([404, 'unknown_brand']);
    const big = JSON.stringify({ brand: 'casino', events: [], pad: 'x'.repeat(1024 * 1024) });
    expect(await raw(big.slice(0, 1024 * 1024 + 1), { 'content-type': 'application/json', 'x-signature': sign('x') })).toEqual([413, 'body_too_large']);
    const many = JSON.stringify({ brand: 'casino', events: Array.from({ length: 10_001 }, () => 0) });
    expect(await raw(many, { 'content-type': 'application/json', 'x-signature': sign(many) })).toEqual([413, 'too_many_events']);
    const wrongTypes = JSON.stringify({ brand: 'casino', events: 'x' });
    expect(await raw(wrongTypes, { 'content-type': 'application/json', 'x-signature': sign(wrongTypes) })).toEqual([422, 'invalid_field']);

    const pb = async (q: string) => {
      const r = await fetch(`${base()}/pb/casino?${q}`);
      return [r.status, ((await r.json()) as { error: { code: string } }).error.code];
    };
    expect(await pb('type=kyc&txid=z1&player_id=p9&status=approved')).toEqual([401, 'unauthorized']);
    expect(await pb('type=kyc&txid=z1&player_id=p9&status=approved&token=wrong')).toEqual([401, 'invalid_signature']);
    const q = 'type=kyc&txid=z2&player_id=p9&status=approved';
    expect(await pb(`${q}&sig=${createHmac('sha256', 'not-the-secret').update(q).digest('hex')}`)).toEqual([401, 'invalid_signature']);
    expect(await pb(`type=kyc&txid=z3&player_id=p9&status=maybe&token=${SECRET}`)).toEqual([422, 'invalid_field']);
    const good = await fetch(`${base()}/pb/casino?${q}&sig=${createHmac('sha256', SECRET).update(q).digest('hex')}`);
    expect(await good.json()).toEqual({ ok: true, duplicate: false });
    const post = await fetch(`${base()}/pb/casino`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `type=kyc&txid=z4&player_id=p9&status=approved&token=${SECRET}` });
    expect(await post.json()).toEqual({ ok: true, duplicate: false });
  });
});

describe('binary event stream (WebSocket)', () => {
  const open = (headers: Record<string, string>, query = 'brand=casino') =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?${query}`, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  const frames = (ws: WebSocket, n: number) =>
    new Promise<Array<Record<string, unknown>>>((resolve) => {
      const got: Array<Record<string, unknown>> = [];
      const on = (data: Buffer) => {
        got.push(decode(data) as Record<string, unknown>);
        if (got.length === n) {
          ws.off('message', on);
          resolve(got);
        }
      };
      ws.on('message', on);
    });

  it('acks pipelined frames in order once durable; duplicates and bad frames answered, connection kept', async () => {
    // Events of players who never registered wait for their registration; these players have one.
    expect((await json(Array.from({ length: 7 }, (_, i) => ({ type: 'registration', event_id: `wreg-${i}`, player_id: `wp${i}` })))).body.accepted).toBe(7);
    const ws = await open({ Authorization: `Bearer ${SECRET}` });
    const first = frames(ws, 20);
    for (let f = 0; f < 20; f++) {
      const events = Array.from({ length: 100 }, (_, i) => ({ type: 'bet', event_id: `ws-${f}-${i}`, player_id: `wp${i % 7}`, stake: '1.25', win: '0.5', currency: 'EUR' }));
      ws.send(encode({ seq: f, events }));
    }
    const acked = await first;
    // Once acknowledged, a resent event is a duplicate.
    const replies = frames(ws, 5);
    ws.send(encode({ seq: 20, events: [{ type: 'bet', event_id: 'ws-0-0', player_id: 'wp0', stake: '1.25', win: '0.5', currency: 'EUR' }, { type: 'nope', event_id: 'x', player_id: 'y' }] }));
    ws.send(Buffer.from([0xc1, 0x00]));
    ws.send('text is not allowed');
    ws.send(encode({ seq: 'x', events: [] }));
    ws.send(encode({ seq: 21, events: [{ type: 'kyc', event_id: 'ws-k', player_id: 'wp0', status: 'approved' }] }));
    const got = await replies;
    expect(acked).toEqual(Array.from({ length: 20 }, (_, f) => ({ ack: f, accepted: 100, duplicates: 0, rejected: [] })));
    expect(got[0]).toEqual({ ack: 20, accepted: 0, duplicates: 1, rejected: [{ index: 1, code: 'unknown_type', message: expect.any(String) }] });
    expect(got.slice(1, 4).map((g) => (g.error as { code: string }).code)).toEqual(['invalid_msgpack', 'invalid_frame', 'invalid_field']);
    expect(got[4]).toEqual({ ack: 21, accepted: 1, duplicates: 0, rejected: [] });
    ws.close();
    await waitFor('stream events in ClickHouse', async () => {
      const [r] = await cluster.query<{ n: number; ggr: string }>("SELECT count() AS n, toString(sum(ggr)) AS ggr FROM events WHERE event_id LIKE 'ws-%'");
      return r?.n === 2001 ? r : undefined;
    }).then((r) => expect(r).toEqual({ n: 2001, ggr: '1500.0000' }));
  });

  it('answers copies sent at once — pipelined frames, parallel batches — with one accepted and the rest duplicates once durable; counted once', async () => {
    const events = Array.from({ length: 60 }, (_, i) => ({ type: 'bet', event_id: `race-${i}`, player_id: `wp${i % 7}`, stake: '2.00', win: '0.50', currency: 'EUR' }));
    const ws = await open({ Authorization: `Bearer ${SECRET}` });
    const replies = frames(ws, 4);
    for (let f = 0; f < 4; f++) ws.send(encode({ seq: 100 + f, events }));
    const [batches, binary] = await Promise.all([Promise.all([json(events), json(events), json(events.slice(0, 30))]), msgpack(events)]);
    const acks = await replies;
    ws.close();
    const answers = [...acks, ...batches.map((b) => b.body), binary] as Array<{ accepted: number; duplicates: number }>;
    // 4 frames of 60, JSON batches of 60, 60 and 30, a msgpack batch of 60: 450 copies of 60 events.
    expect(answers.reduce((n, a) => n + a.accepted, 0)).toBe(60);
    expect(answers.reduce((n, a) => n + a.duplicates, 0)).toBe(450 - 60);
    // In-flight copies were published again, all before their answers. One event per player after
    // them: once those are stored, every copy before them on the players' partitions was applied.
    expect((await json(Array.from({ length: 7 }, (_, i) => ({ type: 'bet', event_id: `after-race-${i}`, player_id: `wp${i}`, stake: '0', win: '0', currency: 'EUR' })))).body.accepted).toBe(7);
    await waitFor('the events after the race in ClickHouse', async () => ((await cluster.query<{ n: number }>("SELECT count() AS n FROM events WHERE event_id LIKE 'after-race-%'"))[0]?.n === 7 ? true : undefined));
    const [stored] = await cluster.query<{ n: number; ids: number; ggr: string }>("SELECT count() AS n, uniqExact(event_id) AS ids, toString(sum(ggr)) AS ggr FROM events WHERE event_id LIKE 'race-%'");
    expect(stored).toEqual({ n: 60, ids: 60, ggr: '90.0000' });
  });

  it('refuses a wrong secret or brand at the upgrade', async () => {
    await expect(open({ Authorization: 'Bearer wrong' })).rejects.toThrow('401');
    await expect(open({}, `brand=casino&token=${SECRET}x`)).rejects.toThrow('401');
    await expect(open({}, `brand=nobrand&token=${SECRET}`)).rejects.toThrow('404');
    (await open({}, `brand=casino&token=${SECRET}`)).close();
  });
});
