/**
 * Outbound postbacks end to end (docs/commissions.md, “Outbound postbacks”) against real NATS,
 * ClickHouse and an edge process: the test publishes PostbackJobs to the stream as the workers do,
 * runs a dispatcher itself, and stands up the affiliates' endpoints with node:http. Retries follow
 * the backoff and end in one success row; a hung endpoint times out while the others are served;
 * ten failures disable an endpoint (alert, event row, no more attempts) until an operator enables
 * it; macros are rendered and URL-encoded with the click's stored sub-IDs; an affiliate key sees
 * only its own attempts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../schema/catalogStore.ts';
import { newClickId } from '../../schema/clickId.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import type { PostbackJob } from '../../schema/commissions.ts';
import { validate, type ClusterConfig } from '../../schema/config.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { connectNats } from '../../schema/natsSetup.ts';
import type { PostbackEndpointEvent } from '../../schema/postbacks.ts';
import { shard } from '../../schema/shard.ts';
import { natsNames } from '../../schema/subjects.ts';
import { postbacksApi } from '../../node/postbacks/api.ts';
import { startPostbackDispatcher, type PostbackDispatcher } from '../../workers/postbacks/dispatcher.ts';
import { backoffMs } from '../../workers/postbacks/schedule.ts';
import { freePort, TestCluster, waitFor } from './cluster.ts';

/** An affiliate's endpoint: records every request, answers as `answer` says (or never). */
class Receiver {
  readonly requests: Array<{ url: string; at: number }> = [];
  private server: Server | undefined;
  port = 0;

  constructor(public answer: (n: number, res: ServerResponse) => void) {}

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.requests.push({ url: req.url ?? '', at: Date.now() });
      req.resume();
      this.answer(this.requests.length, res);
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

const status = (code: number) => (_: number, res: ServerResponse) => res.writeHead(code).end('ok');

interface AttemptRow { ms: number; attempt: number; result: string; status_code: number; error: string; url: string; latency_ms: number; affiliate_id: string }
interface ApiAttempt { at: string; affiliate_id: string; commission_id: string; attempt: number; result: string }
interface ApiEndpoint { affiliate_id: string; enabled: boolean; consecutive_failures: number; since: string | null; by: string; reason: string }

const cluster = new TestCluster('postbacks');
const AFF_KEY = 'flaky-key-0123456789';
const RETRY = { backoffBaseMs: 100, backoffMaxMs: 800 };
let port = 0;
let cfg: ClusterConfig;
let nc: NatsConnection;
let js: JetStreamClient;
let ch: ClickHouseClient;
let catalog: Catalog;
let dispatcher: PostbackDispatcher;
let alerts: Subscription;
const alertsSeen: PostbackEndpointEvent[] = [];

const flakyFails = 3;
const flaky = new Receiver((n, res) => status(n <= flakyFails ? 500 : 200)(n, res));
const hung = new Receiver(() => undefined);
const healthy = new Receiver(status(200));
let deadAccepts = false;
const dead = new Receiver((n, res) => status(deadAccepts ? 204 : 500)(n, res));
const macro = new Receiver(status(200));

const base = () => `http://127.0.0.1:${port}`;
const admin = () => ({ Authorization: `Bearer ${cluster.token}` });

function job(affiliateId: string, extra: Partial<PostbackJob> = {}): PostbackJob {
  const commissionId = randomUUID();
  return {
    id: `${commissionId}.1`, commissionId, version: 1, brandId: 'b1', affiliateId, playerId: 'p1', kind: 'cpa', status: 'pending', event: 'cpa',
    payout: '25.0000', currency: 'EUR', txid: `ftd-${commissionId}`, clickId: '', sub1: 's1', at: Date.now(), ...extra,
  };
}

async function publish(j: PostbackJob): Promise<boolean> {
  const ack = await js.publish(natsNames(cfg).postbackSubject, JSON.stringify(j), { msgID: j.id });
  return ack.duplicate;
}

async function rows(commissionId: string): Promise<AttemptRow[]> {
  return cluster.query<AttemptRow>(
    `SELECT toUInt64(at) * 1000 + at_ms AS ms, attempt, result, status_code, error, url, latency_ms, affiliate_id
     FROM postback_attempts FINAL WHERE commission_id = '${commissionId}' ORDER BY ms, attempt`,
  );
}

const rowsUntil = (what: string, commissionId: string, done: (r: AttemptRow[]) => boolean, timeoutMs = 30_000) =>
  waitFor(what, async () => {
    const r = await rows(commissionId);
    return done(r) ? r : undefined;
  }, timeoutMs);

async function endpoints(headers = admin()): Promise<ApiEndpoint[]> {
  return (await (await fetch(`${base()}/api/v1/postbacks/endpoints`, { headers })).json()) as ApiEndpoint[];
}

const enable = (affiliateId: string, headers: Record<string, string>, body?: unknown) =>
  fetch(`${base()}/api/v1/postbacks/endpoints/${affiliateId}/enable`, {
    method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

beforeAll(async () => {
  await cluster.setup();
  port = await freePort();
  await cluster.edge(port);
  for (const r of [flaky, hung, healthy, dead, macro]) await r.start();
  const url = (r: Receiver, query = 'c={click_id}&st={status}&tx={txid}') => `http://127.0.0.1:${r.port}/pb?${query}`;
  await cluster.putAll(port, [
    ['affiliates/flaky', { name: 'Flaky', apiKey: AFF_KEY, postbackUrl: url(flaky) }],
    ['affiliates/hung', { name: 'Hung', postbackUrl: url(hung) }],
    ['affiliates/healthy', { name: 'Healthy', apiKey: 'healthy-key-0123456789', postbackUrl: url(healthy) }],
    ['affiliates/dead', { name: 'Dead', postbackUrl: url(dead) }],
    ['affiliates/macro', { name: 'Macro', postbackUrl: url(macro, 'cid={click_id}&s1={sub1}&s2={sub2}&s10={sub10}&e={event}&st={status}&p={payout}&c={currency}&tx={txid}') }],
    ['affiliates/nourl', { name: 'No URL' }],
  ]);
  cfg = {
    ...cluster.cfg,
    worker: { ...cluster.cfg.worker, flushIntervalMs: 200 },
    postbacks: { ...cluster.cfg.postbacks, ...RETRY, requestTimeoutMs: 3000, concurrency: 8, endpointConcurrency: 4, disabledRecheckMs: 300 },
  };
  validate(cfg);
  nc = await connectNats(cfg, 'postbacks-test');
  js = jetstream(nc);
  ch = clickhouse(cfg);
  alerts = nc.subscribe(natsNames(cfg).postbackAlerts, { callback: (_, m) => {
    alertsSeen.push(m.json<PostbackEndpointEvent>());
  } });
  catalog = await Catalog.open(nc, cfg, () => undefined);
  await waitFor('catalog mirrored', async () => (catalog.affiliates.size === 6 ? true : undefined));
  dispatcher = await startPostbackDispatcher({ cfg, nc, ch, catalog, log: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await dispatcher?.stop();
  alerts?.unsubscribe();
  catalog?.close();
  for (const r of [flaky, hung, healthy, dead, macro]) await r.close();
  await nc?.close();
  await ch?.close();
  await cluster.teardown();
});

describe('outbound postbacks', () => {
  it('retries a failing endpoint on the backoff schedule until it accepts: one success after the failures', async () => {
    const j = job('flaky');
    await publish(j);
    const r = await rowsUntil('flaky success', j.commissionId, (x) => x.some((y) => y.result === 'ok'));
    expect(r.map((x) => [x.attempt, x.result, x.status_code])).toEqual([[1, 'failed', 500], [2, 'failed', 500], [3, 'failed', 500], [4, 'ok', 200]]);
    expect(r.slice(0, 3).every((x) => x.error === 'HTTP 500')).toBe(true);
    for (let n = 1; n < r.length; n++) {
      expect((r[n] as AttemptRow).ms - (r[n - 1] as AttemptRow).ms).toBeGreaterThanOrEqual(backoffMs(n, RETRY));
    }
    expect(flaky.requests).toHaveLength(4);
    expect(r[3]?.url).toBe(`http://127.0.0.1:${flaky.port}/pb?c=&st=pending&tx=ftd-${j.commissionId}`);
    // The success reset the endpoint's count.
    expect((await endpoints()).find((e) => e.affiliate_id === 'flaky')).toMatchObject({ enabled: true, consecutive_failures: 0 });
  });

  it('a job published twice (a worker replaying) is stored once', async () => {
    const j = job('healthy');
    expect(await publish(j)).toBe(false);
    expect(await publish(j)).toBe(true);
    await rowsUntil('healthy success', j.commissionId, (x) => x.length > 0);
  });

  it('an endpoint that never answers times out, and meanwhile the others are served', async () => {
    const slow = job('hung');
    await publish(slow);
    await waitFor('hung endpoint asked', async () => (hung.requests.length > 0 ? true : undefined));
    const fine = job('healthy');
    await publish(fine);
    const [ok] = await rowsUntil('healthy served', fine.commissionId, (x) => x.length > 0);
    const [timedOut] = await rowsUntil('hung attempt timed out', slow.commissionId, (x) => x.length > 0);
    expect(ok).toMatchObject({ attempt: 1, result: 'ok', status_code: 200 });
    expect(timedOut).toMatchObject({ attempt: 1, result: 'failed', status_code: 0 });
    expect(timedOut?.error).toMatch(/^timeout: /);
    // The healthy endpoint's postback went out while the hung request was still waiting.
    expect(ok?.ms).toBeLessThan((timedOut as AttemptRow).ms + (timedOut as AttemptRow).latency_ms);
  });

  it('disables an endpoint after 10 consecutive failures, alerts, holds its jobs until an operator enables it', async () => {
    const j = job('dead');
    await publish(j);
    const state = await waitFor('dead disabled', async () => (await endpoints()).find((e) => e.affiliate_id === 'dead' && !e.enabled), 60_000);
    expect(state).toMatchObject({ consecutive_failures: 10, by: 'dispatcher' });
    expect(state.reason).toContain('10 consecutive failed attempts within 72 h');
    const failed = await rowsUntil('ten failures stored', j.commissionId, (x) => x.length >= 10);
    expect(failed.map((x) => x.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The alert: on the subject and in ClickHouse.
    await waitFor('alert published', async () => (alertsSeen.some((a) => a.affiliateId === 'dead' && a.event === 'disabled') ? true : undefined));
    expect(alertsSeen.find((a) => a.affiliateId === 'dead')).toMatchObject({ event: 'disabled', by: 'dispatcher', failures: 10, lastError: 'HTTP 500' });
    const disabledRow = await waitFor('disabled event row', async () =>
      (await cluster.query<{ event: string; actor: string; failures: number }>(`SELECT event, actor, failures FROM postback_endpoint_events FINAL WHERE affiliate_id = 'dead'`))[0]);
    expect(disabledRow).toMatchObject({ event: 'disabled', actor: 'dispatcher', failures: 10 });

    // Held: several rechecks pass without a request.
    await new Promise((r) => setTimeout(r, 5 * cfg.postbacks.disabledRecheckMs));
    expect(dead.requests).toHaveLength(10);

    // Only the admin enables, only a disabled endpoint, only an affiliate id.
    expect((await enable('dead', { Authorization: `Bearer ${AFF_KEY}` })).status).toBe(403);
    expect((await enable('dead', {})).status).toBe(401);
    expect((await enable('bad%20id', admin())).status).toBe(400);
    const notDisabled = await enable('flaky', admin());
    expect(notDisabled.status).toBe(409);
    expect(((await notDisabled.json()) as { error: { code: string } }).error.code).toBe('conflict');

    deadAccepts = true;
    const on = await enable('dead', admin(), { reason: 'endpoint fixed', by: 'ops-anna' });
    expect(on.status).toBe(200);
    expect(((await on.json()) as { endpoint: ApiEndpoint }).endpoint).toMatchObject({ affiliate_id: 'dead', enabled: true, consecutive_failures: 0, by: 'ops-anna', reason: 'endpoint fixed' });
    const after = await rowsUntil('the waiting job delivered', j.commissionId, (x) => x.some((y) => y.result === 'ok'));
    expect(after.map((x) => [x.attempt, x.result])).toEqual([...failed.map((x) => [x.attempt, 'failed']), [11, 'ok']]);
    expect(dead.requests).toHaveLength(11);
    const audit = await cluster.query<{ event: string; actor: string; reason: string; failures: number }>(
      `SELECT event, actor, reason, failures FROM postback_endpoint_events FINAL WHERE affiliate_id = 'dead' AND event = 'enabled'`);
    expect(audit).toEqual([{ event: 'enabled', actor: 'ops-anna', reason: 'endpoint fixed', failures: 10 }]);
    await waitFor('enable announced', async () => (alertsSeen.some((a) => a.affiliateId === 'dead' && a.event === 'enabled') ? true : undefined));
  });

  it("renders every macro URL-encoded, the subs from the click's stored row (empty for a click not found)", async () => {
    const clickId = newClickId(shard('macro'));
    const ts = Date.now() - 3_600_000;
    const subs = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`sub${i + 1}`, `v${i + 1}`]));
    await ch.insert({
      table: 'clicks',
      values: [{ partition: 0, seq: 1, idx: 0, click_id: clickId, ts: Math.floor(ts / 1000), ts_ms: ts % 1000, brand_id: 'b1', affiliate_id: 'macro', ...subs, sub2: 'a b&c=d/é', sub10: 'x?y#z' }],
      format: 'JSONEachRow',
    });
    const j = job('macro', { clickId, sub1: 'one+two', status: 'approved', payout: '12.5000', currency: 'EUR', txid: 'tx/1 2' });
    const missing = job('macro', { clickId: newClickId(shard('macro')), sub1: '', txid: 'tx-missing' });
    await publish(j);
    await publish(missing);
    await rowsUntil('macro delivered', j.commissionId, (x) => x.length > 0);
    await rowsUntil('missing-click job delivered', missing.commissionId, (x) => x.length > 0);
    const urls = macro.requests.map((r) => r.url);
    expect(urls).toContain(`/pb?cid=${clickId}&s1=one%2Btwo&s2=a%20b%26c%3Dd%2F%C3%A9&s10=x%3Fy%23z&e=cpa&st=approved&p=12.5000&c=EUR&tx=tx%2F1%202`);
    expect(urls).toContain(`/pb?cid=${missing.clickId}&s1=&s2=&s10=&e=cpa&st=pending&p=25.0000&c=EUR&tx=tx-missing`);
  });

  it('an affiliate without postbackUrl: the job is done, recorded as skipped', async () => {
    const j = job('nourl');
    await publish(j);
    const [r] = await rowsUntil('skipped row', j.commissionId, (x) => x.length > 0);
    expect(r).toMatchObject({ attempt: 0, result: 'skipped', error: 'no postbackUrl', status_code: 0, url: '' });
  });

  it('lists attempts newest first; an affiliate key sees only its own; bad parameters are 400', async () => {
    const list = async (query: string, headers: Record<string, string>) => fetch(`${base()}/api/v1/postbacks${query}`, { headers });
    const all = (await (await list('', admin())).json()) as ApiAttempt[];
    expect(new Set(all.map((a) => a.affiliate_id))).toEqual(new Set(['flaky', 'healthy', 'hung', 'dead', 'macro', 'nourl']));
    const times = all.map((a) => Date.parse(a.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const own = (await (await list('', { Authorization: `Bearer ${AFF_KEY}` })).json()) as ApiAttempt[];
    expect(own.length).toBeGreaterThanOrEqual(4);
    expect(own.every((a) => a.affiliate_id === 'flaky')).toBe(true);
    expect((await list('?affiliate=healthy', { Authorization: `Bearer ${AFF_KEY}` })).status).toBe(403);
    expect((await list('', {})).status).toBe(401);
    const ownEndpoints = await endpoints({ Authorization: `Bearer ${AFF_KEY}` });
    expect(ownEndpoints.map((e) => e.affiliate_id)).toEqual(['flaky']);

    const one = own[0] as ApiAttempt;
    const byCommission = (await (await list(`?commission=${one.commission_id}&limit=2`, admin())).json()) as ApiAttempt[];
    expect(byCommission.length).toBeLessThanOrEqual(2);
    expect(byCommission.every((a) => a.commission_id === one.commission_id)).toBe(true);
    const future = (await (await list(`?from=${Date.now() + 3_600_000}&to=${Date.now() + 7_200_000}`, admin())).json()) as ApiAttempt[];
    expect(future).toEqual([]);

    for (const [query, name] of [['?limit=0', 'limit'], ['?from=soon', 'from'], ['?commission=bad%20id!', 'commission'], ['?affiliate=no%20way', 'affiliate']]) {
      const r = await list(query as string, admin());
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'invalid_parameter', message: expect.stringContaining(name as string) });
    }
  });

  it('answers 503 unavailable when ClickHouse is down', async () => {
    const down = clickhouse({ ...cfg, clickhouse: { ...cfg.clickhouse, url: `http://127.0.0.1:${await freePort()}` } });
    const api = postbacksApi({ ch: down, nc, cfg, names: natsNames(cfg), catalog, adminToken: cluster.token, onError: () => undefined });
    const req = { method: 'GET', url: '/api/v1/postbacks', query: '', params: [], headers: { authorization: `Bearer ${cluster.token}` }, peer: '127.0.0.1', body: Buffer.alloc(0) };
    await expect(api.attempts(req)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    await expect(api.attempts(req)).rejects.toBeInstanceOf(AffstreamError);
    api.close();
    await down.close();
  });
});
