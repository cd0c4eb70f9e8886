/**
 * Attribution models end to end (docs/architecture.md, “Attribution”): a brand on position-based
 * 40/20/40 and one on first click, from a rules file the worker watches. Visitors carry the
 * `affstream_vid` cookie across three affiliates' links; the binding, the credit rows and the
 * attribution-credits report are exact to 0.0001; a rules change while the cluster runs applies to
 * later registrations only; a bad file changes nothing; a worker killed with SIGKILL and restarted
 * doubles nothing.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../cli/servers.ts';
import { BROWSER_UA, click, freePort, TestCluster, waitFor, type ClusterProcess } from './cluster.ts';

const cluster = new TestCluster('attr');
const SECRET = 'attr-secret-0123456789';
const RULES = resolve(PROJECT_ROOT, cluster.cfg.dataDir, 'attribution.rules.json');
const V1 = '2026-11-21.1';
const V2 = '2026-11-21.2';
let port = 0;
let worker: ClusterProcess;
const day = () => new Date().toISOString().slice(0, 10);

/** Replace the rules file the way an editor does: a new file renamed over the old one. */
function writeRules(text: string): void {
  writeFileSync(`${RULES}.tmp`, text);
  renameSync(`${RULES}.tmp`, RULES);
}

const rules = (version: string, pos: object) => JSON.stringify({ version, default: { model: 'last_click' }, brands: { pos, first: { model: 'first_click' } } });

/** A visitor: a browser that keeps the visitor cookie the redirect sets. */
class Visitor {
  cookie = '';
  constructor(private readonly ip: string) {}

  async click(code: string, headers: Record<string, string> = {}): Promise<string> {
    const r = await click(port, code, 'sub1=s', { 'user-agent': BROWSER_UA, 'x-forwarded-for': this.ip, ...(this.cookie ? { cookie: this.cookie } : {}), ...headers });
    expect(r.status).toBe(302);
    const vid = /affstream_vid=([0-9a-f-]{36})/.exec(r.setCookie ?? '')?.[1] as string;
    if (this.cookie) expect(this.cookie).toBe(`affstream_vid=${vid}`);
    this.cookie = `affstream_vid=${vid}`;
    // Distinct click times, so the touches' order is the order of the clicks.
    await new Promise((r) => setTimeout(r, 5));
    return /affstream_cid=([0-9a-f-]{36})/.exec(r.setCookie ?? '')?.[1] as string;
  }
}

async function send(brand: string, events: unknown[]): Promise<void> {
  const body = JSON.stringify({ brand, events });
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
    body,
  });
  expect(await r.json()).toMatchObject({ accepted: events.length, rejected: [] });
}

async function report(brand: string): Promise<Array<Record<string, unknown>>> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/reports/attribution-credits?from=${day()}&to=${day()}&brand=${brand}`, { headers: { Authorization: `Bearer ${cluster.token}` } });
  const body = await r.text();
  expect(r.status, body).toBe(200);
  return JSON.parse(body) as Array<Record<string, unknown>>;
}

interface Credit {
  player_id: string;
  affiliate_id: string;
  weight_bp: number;
  binding: number;
  rules_version: string;
}

const credits = (player: string) =>
  cluster.query<Credit>(`SELECT player_id, affiliate_id, weight_bp, binding, rules_version FROM attribution_credits WHERE player_id = '${player}' ORDER BY click_ts, click_id`);

/** Event rows of a player: (event id, affiliate, rules version). */
const events = (player: string) =>
  cluster.query<{ event_id: string; affiliate_id: string; rules_version: string }>(`SELECT event_id, affiliate_id, rules_version FROM events WHERE player_id = '${player}' ORDER BY seq, idx`);

/** Wait until ClickHouse holds `n` clicks: registrations come after their clicks are recorded, as they do in life. */
function clicksStored(n: number): Promise<true> {
  return waitFor(`${n} clicks stored`, async () => ((await cluster.query<{ n: number }>('SELECT count() AS n FROM clicks'))[0]?.n === n ? true : undefined));
}

/** Wait until every partition has applied the rules of `version` (their rows are flushed with the partition's messages). */
function rulesInForce(version: string): Promise<true> {
  return waitFor(`rules ${version} in every partition`, async () => {
    const [r] = await cluster.query<{ n: number }>(`SELECT uniqExact(partition) AS n FROM partition_rules WHERE rules LIKE '%"version":"${version}"%'`);
    return r?.n === cluster.cfg.partitions ? true : undefined;
  }, 30_000);
}

beforeAll(async () => {
  mkdirSync(resolve(PROJECT_ROOT, cluster.cfg.dataDir), { recursive: true });
  writeRules(rules(V1, { model: 'position', weights: [40, 20, 40] }));
  await cluster.setup();
  port = await freePort();
  worker = cluster.worker({ AFFSTREAM_ATTRIBUTION_RULES: RULES });
  await cluster.edge(port);
  const brand = (name: string) => ({ name, currency: 'EUR', postbackSecret: SECRET, restrictedCountries: ['US'], restrictedUrl: 'https://x.example/restricted' });
  await cluster.putAll(port, [
    ['brands/pos', brand('Position')],
    ['brands/first', brand('First')],
    ...['a1', 'a2', 'a3'].map((a): [string, unknown] => [`affiliates/${a}`, { name: a }]),
    ...[1, 2, 3].flatMap((i): Array<[string, unknown]> => [
      [`links/P${i}`, { brandId: 'pos', affiliateId: `a${i}`, campaign: 'c', landingUrl: 'https://pos.example/' }],
      [`links/F${i}`, { brandId: 'first', affiliateId: `a${i}`, campaign: 'c', landingUrl: 'https://first.example/' }],
    ]),
  ]);
  await rulesInForce(V1);
});

afterAll(() => cluster.teardown());

describe('attribution models from the rules file', () => {
  it('position 40/20/40 and first click: binding, credits and report exact to 0.0001', async () => {
    const v1 = new Visitor('198.51.100.1');
    await v1.click('P1');
    await v1.click('P1', { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' }); // a bot: no touch
    await v1.click('P2');
    await v1.click('F1'); // another brand: no touch of pos
    await v1.click('P1', { 'x-country-code': 'US' }); // geo-blocked: no touch
    const last = await v1.click('P3');

    const v2 = new Visitor('198.51.100.2');
    await v2.click('F2');
    await v2.click('F1');
    const f3 = await v2.click('F3');
    await clicksStored(9);

    await send('pos', [
      { type: 'registration', event_id: 'r1', player_id: 'pp1', click_id: last },
      // 100.0001 split 40/20/40: 40.00004 / 20.00002 / 40.00004 → the one unit left goes to the later of the equal remainders.
      { type: 'deposit', event_id: 'd1', player_id: 'pp1', amount: '100.0001', currency: 'EUR' },
      // NGR 0.0007: 0.00028 / 0.00014 / 0.00028 → 2, 1, 2 units, the two left to the largest remainders (a3, then a1).
      { type: 'bet', event_id: 'b1', player_id: 'pp1', stake: '0.0007', win: '0', currency: 'EUR' },
    ]);
    await send('first', [
      { type: 'registration', event_id: 'r1', player_id: 'pf1', click_id: f3 },
      { type: 'deposit', event_id: 'd1', player_id: 'pf1', amount: '50', currency: 'EUR' },
    ]);

    const pos = await waitFor('position credits in the report', async () => {
      const r = await report('pos');
      return r.length === 3 && r.every((x) => x.ngr !== '0.0000') ? r : undefined;
    });
    expect(pos.map((r) => [r.affiliate_id, r.registrations, r.ftds, r.ftd_amount, r.deposit_amount, r.ngr])).toEqual([
      ['a1', '0.4000', '0.4000', '40.0000', '40.0000', '0.0003'],
      ['a2', '0.2000', '0.2000', '20.0000', '20.0000', '0.0001'],
      ['a3', '0.4000', '0.4000', '40.0001', '40.0001', '0.0003'],
    ]);
    expect(await credits('pp1')).toEqual([
      { player_id: 'pp1', affiliate_id: 'a1', weight_bp: 4000, binding: 0, rules_version: `position@${V1}` },
      { player_id: 'pp1', affiliate_id: 'a2', weight_bp: 2000, binding: 0, rules_version: `position@${V1}` },
      { player_id: 'pp1', affiliate_id: 'a3', weight_bp: 4000, binding: 1, rules_version: `position@${V1}` },
    ]);
    // The binding (ties → the latest touch) is what every event row and the other reports carry.
    expect(await events('pp1')).toEqual(['r1', 'd1', 'b1'].map((id) => ({ event_id: id, affiliate_id: 'a3', rules_version: `position@${V1}` })));

    const first = await waitFor('first click credits', async () => {
      const r = await report('first');
      return r.length === 1 && r[0]?.deposit_amount !== '0.0000' ? r : undefined;
    });
    expect(first.map((r) => [r.affiliate_id, r.registrations, r.ftds, r.ftd_amount, r.ngr])).toEqual([['a2', '1.0000', '1.0000', '50.0000', '0.0000']]);
    expect(await credits('pf1')).toEqual([{ player_id: 'pf1', affiliate_id: 'a2', weight_bp: 10000, binding: 1, rules_version: `first-click@${V1}` }]);
  });

  it('a changed rules file applies to later registrations; earlier ones keep theirs; a bad file changes nothing', async () => {
    writeRules(rules(V2, { model: 'linear' }));
    await rulesInForce(V2);
    writeRules('{"version": "2026-11-21.3", "brands": {"pos": {"model": "position", "weights": [50, 50]}}}');
    await waitFor('the bad file logged', async () => (worker.output.includes('attribution rules file rejected') ? true : undefined), 10_000);
    expect(worker.output).toContain('brands.pos.weights');

    const v3 = new Visitor('198.51.100.3');
    await v3.click('P1');
    await v3.click('P2');
    const last = await v3.click('P3');
    await clicksStored(12);
    await send('pos', [
      { type: 'registration', event_id: 'r3', player_id: 'pp3', click_id: last },
      // pp1 registered under position@V1: its later events keep that binding and version.
      { type: 'deposit', event_id: 'd2', player_id: 'pp1', amount: '1', currency: 'EUR' },
    ]);
    const pp3 = await waitFor('pp3 credited', async () => {
      const c = await credits('pp3');
      return c.length === 3 ? c : undefined;
    });
    expect(pp3.map((c) => [c.affiliate_id, c.weight_bp, c.binding, c.rules_version])).toEqual([
      ['a1', 3333, 0, `linear@${V2}`],
      ['a2', 3333, 0, `linear@${V2}`],
      ['a3', 3334, 1, `linear@${V2}`],
    ]);
    const pp1 = await waitFor('pp1 deposit applied', async () => {
      const e = await events('pp1');
      return e.length === 4 ? e : undefined;
    });
    expect(pp1.map((e) => e.rules_version)).toEqual(Array(4).fill(`position@${V1}`));
    expect((await credits('pp1')).map((c) => c.rules_version)).toEqual(Array(3).fill(`position@${V1}`));
  });

  it('a worker killed with SIGKILL refuses to restart on a bad rules file; restarted on a good one, it doubles no credit', async () => {
    const v4 = new Visitor('198.51.100.4');
    await v4.click('P2');
    const last = await v4.click('P1');
    await clicksStored(14);
    await send('pos', [
      { type: 'registration', event_id: 'r4', player_id: 'pp4', click_id: last },
      { type: 'deposit', event_id: 'd4', player_id: 'pp4', amount: '10', currency: 'EUR' },
    ]);
    await worker.stop('SIGKILL');
    // The bad file of the previous test is still there: a worker does not start on it.
    const refused = cluster.worker({ AFFSTREAM_ATTRIBUTION_RULES: RULES });
    await waitFor('the worker to refuse the bad rules file', async () => (refused.exitCode !== undefined ? true : undefined));
    expect(refused.exitCode).toBe(1);
    expect(refused.output).toContain('brands.pos.weights = [50,50] is not allowed');
    // The good file again (the rules every partition has in force): the worker starts and replays.
    writeRules(rules(V2, { model: 'linear' }));
    worker = cluster.worker({ AFFSTREAM_ATTRIBUTION_RULES: RULES });

    // Everything of brand pos: pp1 (position 40/20/40: 100.0001 FTD, 1.00 deposit, 0.0007 NGR), pp3 (linear over three
    // touches, 3333/3333/3334) and pp4 (linear over two, 5000 each: its 10.00 FTD is 5.00 each). Once each, to the 0.0001.
    const after = await waitFor('pp4 credited after the restart', async () => {
      const r = await report('pos');
      return r.find((x) => x.affiliate_id === 'a2')?.deposit_amount === '25.2000' ? r : undefined;
    });
    expect(after.map((r) => [r.affiliate_id, r.registrations, r.ftds, r.ftd_amount, r.deposit_amount, r.ngr])).toEqual([
      ['a1', '1.2333', '0.9000', '45.0000', '45.4000', '0.0003'],
      ['a2', '1.0333', '0.7000', '25.0000', '25.2000', '0.0001'],
      ['a3', '0.7334', '0.4000', '40.0001', '40.4001', '0.0003'],
    ]);
    const [counts] = await cluster.query<{ n: number; players: number; bp: number }>('SELECT count() AS n, uniqExact(player_id) AS players, sum(weight_bp) AS bp FROM attribution_credits');
    expect(counts).toEqual({ n: 3 + 1 + 3 + 2, players: 4, bp: 4 * 10_000 });
    expect((await credits('pp4')).map((c) => c.rules_version)).toEqual([`linear@${V2}`, `linear@${V2}`]);
    // The restarted worker recovered the rules in force: it had no reason to publish them again.
    const [rows] = await cluster.query<{ n: number }>('SELECT count() AS n FROM (SELECT DISTINCT partition, seq FROM partition_rules)');
    expect(rows?.n).toBe(2 * cluster.cfg.partitions);
  });
});
