/**
 * The `reconciliation` and `cohort-ltv` examples of docs/reports.md, run as written: the players
 * the text describes click and play through a real edge, the platform's file is imported through
 * `POST /api/v1/revenue-imports`, and each documented command (the CLI's and curl's) must print
 * what the docs show. The documentation is read at run time, so an example that drifts from the
 * product fails here.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../cli/servers.ts';
import { BROWSER_UA, click, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('reportsdoc');
const SECRET = 'pb-secret-reports-doc';
const KEYS = { AFF1_KEY: 'aff1-key-0123456789', AFF2_KEY: 'aff2-key-0123456789' };
let port = 0;

const docs = readFileSync(path.join(PROJECT_ROOT, 'docs/reports.md'), 'utf8');

/** The fenced block that follows the block holding exactly `command`. */
function shownAfter(command: string): string {
  const blocks = [...docs.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const i = blocks.findIndex((b) => b.trim() === command);
  if (i < 0 || i + 1 >= blocks.length) throw new Error(`docs/reports.md has no example for: ${command}`);
  return blocks[i + 1] as string;
}

/** The documented commands, found by their first words. */
function commandStarting(prefix: string): string {
  const line = docs.split('\n').find((l) => l.startsWith(prefix));
  if (!line) throw new Error(`docs/reports.md has no command starting: ${prefix}`);
  return line;
}

/** Run a documented `npx affstream …` command in the test's namespace. */
const affstream = (command: string) => cluster.cli(command.replace(/^npx affstream /, '').split(/\s+/));

/** Run a documented `curl -s "localhost:8080/…" -H "Authorization: Bearer $KEY"` against the test's edge. */
async function curl(command: string): Promise<unknown> {
  const m = /^curl -s "localhost:8080([^"]+)" -H "Authorization: Bearer \$(\w+)"$/.exec(command);
  if (!m) throw new Error(`not a documented curl shape: ${command}`);
  const key = KEYS[m[2] as keyof typeof KEYS];
  const r = await fetch(`http://127.0.0.1:${port}${m[1]}`, { headers: { Authorization: `Bearer ${key}` } });
  expect(r.status).toBe(200);
  return r.json();
}

async function sendEvents(events: unknown[]): Promise<void> {
  const body = JSON.stringify({ brand: 'casino', events });
  const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const r = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sig }, body });
  expect(await r.json()).toMatchObject({ accepted: events.length, rejected: [] });
}

const at = (iso: string) => Date.parse(iso);
const bet = (id: string, player: string, ts: number, stake: string) => ({ event_id: id, player_id: player, type: 'bet', ts, stake, win: '0', currency: 'EUR', game: 'starburst', category: 'slots' });

beforeAll(async () => {
  port = await cluster.start();
  await cluster.putAll(port, [
    ['brands/casino', { name: 'Casino', currency: 'EUR', postbackSecret: SECRET, timezone: 'Europe/Malta', ngr: { paymentFeePct: 0, gamingTaxPct: 10 } }],
    ['affiliates/aff1', { name: 'aff1', apiKey: KEYS.AFF1_KEY }],
    ['affiliates/aff2', { name: 'aff2', apiKey: KEYS.AFF2_KEY }],
    ['links/doc-aff1', { brandId: 'casino', affiliateId: 'aff1', landingUrl: 'https://casino.example/?cid={click_id}' }],
    ['links/doc-aff2', { brandId: 'casino', affiliateId: 'aff2', landingUrl: 'https://casino.example/?cid={click_id}' }],
  ]);
  // All four register on 2026-11-20 (Malta, UTC+1 in November).
  const registrations = [];
  for (const [i, [player, code]] of [['p1', 'doc-aff1'], ['p2', 'doc-aff1'], ['p3', 'doc-aff2'], ['p4', 'doc-aff2']].entries()) {
    const c = await click(port, code as string, `sub1=doc`, { 'user-agent': BROWSER_UA, 'x-forwarded-for': `198.51.100.${i + 1}` });
    const clickId = new URL(c.location as string).searchParams.get('cid');
    registrations.push({ event_id: `${player}-reg`, player_id: player, type: 'registration', ts: at('2026-11-20T09:00:00Z') + i * 60_000, click_id: clickId, device_id: `${player}-d` });
  }
  await sendEvents(registrations);
  const activity = [
    { event_id: 'p1-dep', player_id: 'p1', type: 'deposit', ts: at('2026-11-20T10:00:00Z'), amount: '100.00', currency: 'EUR' },
    bet('p1-b1', 'p1', at('2026-11-20T11:00:00Z'), '60.00'),
    // 00:30 on the 21st in Malta: the platform left it out.
    bet('p1-b2', 'p1', at('2026-11-20T23:30:00Z'), '30.00'),
    bet('p1-b3', 'p1', at('2026-12-02T12:00:00Z'), '20.00'),
    bet('p2-b1', 'p2', at('2026-11-20T12:00:00Z'), '50.00'),
    { event_id: 'p2-bonus', player_id: 'p2', type: 'bonus', ts: at('2026-11-20T12:30:00Z'), action: 'converted', amount: '10.00', currency: 'EUR', bonus_id: 'p2-welcome' },
    bet('p3-b1', 'p3', at('2026-11-20T13:00:00Z'), '80.00'),
    { event_id: 'p3-dep', player_id: 'p3', type: 'deposit', ts: at('2026-11-20T12:00:00Z'), amount: '250.00', currency: 'EUR' },
    bet('p4-b1', 'p4', at('2026-11-20T14:00:00Z'), '30.00'),
  ];
  await sendEvents(activity);
  await waitFor('every event in ClickHouse', async () => {
    const [r] = await cluster.query<{ n: number }>('SELECT count() AS n FROM events');
    return r?.n === registrations.length + activity.length ? true : undefined;
  });
  // The platform's books: p2's NGR 0.0001 off, p3's late bet of 15, p4 on the 21st, no p1 on the 21st.
  const csv = [
    'player_id,day,ggr,bonuses,ngr',
    'p1,2026-11-20,60.0000,0.0000,54.0000',
    'p2,2026-11-20,50.0000,10.0000,35.0001',
    'p3,2026-11-20,95.0000,0.0000,85.5000',
    'p4,2026-11-20,30.0000,0.0000,27.0000',
    'p4,2026-11-21,20.0000,0.0000,18.0000',
    '',
  ].join('\n');
  const sha256 = createHash('sha256').update(csv).digest('hex');
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/revenue-imports?brand=casino&file=casino-2026-11-21.csv&sha256=${sha256}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${cluster.token}`, 'content-type': 'text/csv' },
    body: csv,
  });
  expect(await r.json()).toMatchObject({ rows: 5, rejected: 0, duplicate: false });
}, 120_000);

afterAll(() => cluster.teardown());

describe('docs/reports.md examples', () => {
  it('reconciliation: the CLI prints the CSV shown, and aff1’s key gets the JSON shown', async () => {
    const command = commandStarting('npx affstream report reconciliation');
    const cli = await affstream(command);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cli.stdout).toBe(shownAfter(command));

    const request = commandStarting('curl -s "localhost:8080/api/v1/reports/reconciliation');
    expect(await curl(request)).toEqual(JSON.parse(shownAfter(request)));
  });

  it('cohort-ltv: the CLI prints the table shown, and aff2’s key gets the JSON shown', async () => {
    const command = commandStarting('npx affstream report cohort-ltv');
    const cli = await affstream(command);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cli.stdout).toBe(shownAfter(command));

    const request = commandStarting('curl -s "localhost:8080/api/v1/reports/cohort-ltv');
    expect(await curl(request)).toEqual(JSON.parse(shownAfter(request)));
  });
});
