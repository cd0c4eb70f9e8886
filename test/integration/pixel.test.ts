/**
 * The pixel (docs/protocol.md, “Pixel”) end to end: a click's cookie turns the pixel's registration into an
 * attributed one marked source=pixel; every answer is the GIF, rejections included, with the
 * outcome in X-Affstream-Result, the status and the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIXEL_GIF } from '../../node/ingest/pixel.ts';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('pixel');
let port = 0;

async function pixel(query: string, cookie?: string, brand = 'casino'): Promise<{ status: number; type: string | null; cache: string | null; result: string | null; body: Buffer }> {
  const r = await fetch(`http://127.0.0.1:${port}/px/${brand}?${query}`, { headers: { 'user-agent': BROWSER_UA, ...(cookie ? { cookie } : {}) } });
  return { status: r.status, type: r.headers.get('content-type'), cache: r.headers.get('cache-control'), result: r.headers.get('x-affstream-result'), body: Buffer.from(await r.arrayBuffer()) };
}

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: 'pb-secret-pixel-0123' }],
    ['affiliates/aff1', { name: 'Aff One' }],
    ['links/L1', { brandId: 'casino', affiliateId: 'aff1', campaign: 'spring', landingUrl: 'https://casino.example/' }],
  ]);
});

afterAll(() => cluster.teardown());

describe('pixel', () => {
  it('attributes the registration to the click of the cookie; a repeat is a duplicate', async () => {
    const c = await click(port, 'L1', 'sub1=px', { 'user-agent': BROWSER_UA });
    const cookie = /affstream_cid=[^;]+/.exec(c.setCookie ?? '')?.[0] as string;
    const clickId = cookie.split('=')[1];
    // Other cookies of the tracking domain come along; the query's ip and click id are not taken.
    const first = await pixel('type=registration&event_id=px-r1&player_id=pp1&ip=192.0.2.99&cid=018f0000-0000-7000-8000-000000000000', `theme=dark; ${cookie}; lang=en`);
    expect(first).toEqual({ status: 200, type: 'image/gif', cache: 'no-store', result: 'accepted', body: PIXEL_GIF });
    expect((await pixel('type=registration&event_id=px-r1&player_id=pp1', cookie)).result).toBe('duplicate');
    // The postback's aliases work here too.
    expect((await pixel('et=signup&txid=px-r2&player_id=pp2', cookie)).result).toBe('accepted');
    // Without the cookie the player is organic, even with a click id in the query.
    expect((await pixel(`type=registration&event_id=px-r3&player_id=pp3&click_id=${clickId}`)).result).toBe('accepted');

    const rows = await waitFor('pixel registrations in ClickHouse', async () => {
      const r = await cluster.query<{ player_id: string; source: string; attribution: string; affiliate_id: string; click_id: string; sub1: string; ip: string }>(
        "SELECT player_id, source, attribution, affiliate_id, click_id, sub1, ip FROM events WHERE type = 'registration' ORDER BY player_id",
      );
      return r.length === 3 ? r : undefined;
    });
    expect(rows).toEqual([
      { player_id: 'pp1', source: 'pixel', attribution: 'click', affiliate_id: 'aff1', click_id: clickId, sub1: 'px', ip: '127.0.0.1' },
      { player_id: 'pp2', source: 'pixel', attribution: 'click', affiliate_id: 'aff1', click_id: clickId, sub1: 'px', ip: '127.0.0.1' },
      { player_id: 'pp3', source: 'pixel', attribution: 'no_click', affiliate_id: '', click_id: '', sub1: '', ip: '127.0.0.1' },
    ]);
  });

  it('answers the GIF to everything it rejects, with the code in X-Affstream-Result and the metrics', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['casino', 'type=deposit&event_id=px-d1&player_id=pp1&amount=1000&currency=EUR', 403, 'rejected:forbidden'],
      ['casino', 'type=ftd&event_id=px-d2&player_id=pp1&amount=1000&currency=EUR', 403, 'rejected:forbidden'],
      ['casino', 'type=kyc&event_id=px-k1&player_id=pp1&status=approved', 403, 'rejected:forbidden'],
      ['casino', 'type=lottery&event_id=px-x1&player_id=pp1', 403, 'rejected:forbidden'],
      ['casino', 'event_id=px-x2&player_id=pp1', 422, 'rejected:missing_field'],
      ['casino', 'type=registration&player_id=pp9', 422, 'rejected:missing_field'],
      ['casino', 'type=registration&event_id=px-x3&player_id=has%20space', 422, 'rejected:invalid_field'],
      ['nobrand', 'type=registration&event_id=px-x4&player_id=pp9', 404, 'rejected:unknown_brand'],
    ];
    for (const [brand, query, status, result] of cases) {
      expect(await pixel(query, undefined, brand), query).toEqual({ status, type: 'image/gif', cache: 'no-store', result, body: PIXEL_GIF });
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const count = (labels: string) => Number(new RegExp(`^pixel_events_total\\{${labels},edge="[^"]+"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect([count('result="accepted",code=""'), count('result="duplicate",code=""'), count('result="rejected",code="forbidden"'), count('result="rejected",code="missing_field"')]).toEqual([3, 1, 4, 2]);
    // Nothing rejected reached the event log: only the three registrations of the first test.
    const [n] = await cluster.query<{ n: number }>('SELECT count() AS n FROM events');
    expect(n).toEqual({ n: 3 });
  });
});
