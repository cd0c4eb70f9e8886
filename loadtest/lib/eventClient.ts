/**
 * A casino platform's side of the event protocol (docs/protocol.md §2, §3), for the event
 * benchmarks: signed JSON batches, postbacks, redirects that hand out click ids, and the live API.
 *
 * Requests go over kept-alive connections: the benchmarks send hundreds of requests a second, and
 * a connection per request (cli/http.ts) would measure TCP set-up and leave thousands of sockets
 * in TIME_WAIT. node:http with an Agent rather than fetch: on this machine fetch (undici) managed
 * 1,500–2,400 redirects/s from one process where node:http managed 3,900–6,400.
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { waitFor } from './net.ts';

/** Every request of a benchmark gives up after this long: a stalled edge must fail the run, not hang it. */
const TIMEOUT_MS = 10_000;

/** Kept-alive connections, up to 64 per edge: more than any benchmark keeps in flight at once. */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One request over {@link agent}; resolves with status, the `Location` header and the body. A
 * kept-alive connection the edge closed as idle just as the request went out fails with
 * ECONNRESET before any answer: that request is sent again on a fresh connection, once (the
 * pattern node:http documents for `reusedSocket`). The edge never answered it; for events a
 * repeat is harmless either way (deduplicated by id, answered as a duplicate). Without this, the
 * lost registration's later deposits wait in their player for a registration that never comes,
 * and a run's accounting (rows = accepted events) comes up short by them.
 */
function call(method: string, url: string, headers: Record<string, string>, body?: string, retried = false): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers, timeout: TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET') resolve(call(method, url, headers, body, true));
      else reject(err);
    });
    req.end(body);
  });
}

/** The answer to a batch (docs/protocol.md §3). */
export interface BatchReply {
  accepted: number;
  duplicates: number;
  rejected: { index: number; code: string; message: string }[];
}

/** Where and as whom events are sent. */
export interface EventTarget {
  /** `http://127.0.0.1:<port>` of an edge. */
  baseUrl: string;
  brand: string;
  /** The brand's postbackSecret. */
  secret: string;
}

/** `POST /v1/events` with a JSON body signed by `X-Signature`; throws on anything but 200. */
export async function sendBatch(t: EventTarget, events: readonly Record<string, unknown>[]): Promise<BatchReply> {
  const body = JSON.stringify({ brand: t.brand, events });
  const res = await call('POST', `${t.baseUrl}/v1/events`, { 'Content-Type': 'application/json', 'X-Signature': `sha256=${createHmac('sha256', t.secret).update(body).digest('hex')}` }, body);
  if (res.status !== 200) throw new Error(`POST /v1/events answered ${res.status}: ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as BatchReply;
}

/** `GET /pb/{brand}?…&token=` for one event; resolves to whether it was a duplicate, throws on anything but 200. */
export async function sendPostback(t: EventTarget, event: Record<string, string>): Promise<{ duplicate: boolean }> {
  const query = new URLSearchParams({ ...event, token: t.secret });
  const res = await call('GET', `${t.baseUrl}/pb/${encodeURIComponent(t.brand)}?${query}`, {});
  if (res.status !== 200) throw new Error(`postback answered ${res.status}: ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as { duplicate: boolean };
}

/** The client address of visitor number `visitor` in {@link redirect}: 10.x.y.z, one per visitor. */
export function visitorAddress(visitor: number): string {
  return `10.${(visitor >> 16) & 255}.${(visitor >> 8) & 255}.${visitor & 255}`;
}

/**
 * A click, the way a visitor gets one: `GET /c/{code}`, the click id read from the landing URL
 * (the benchmark catalog's templates put it in `cid=`). Sent as a browser from a client address
 * of its own ({@link visitorAddress}), so the click is unique, not a bot, and attributable.
 */
export async function redirect(baseUrl: string, code: string, visitor: number, sub1 = `v${visitor}`): Promise<string> {
  const res = await call('GET', `${baseUrl}/c/${encodeURIComponent(code)}?sub1=${encodeURIComponent(sub1)}`, {
    'User-Agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'X-Forwarded-For': visitorAddress(visitor),
  });
  const clickId = res.location ? new URL(res.location).searchParams.get('cid') : null;
  if (res.status !== 302 || !clickId) throw new Error(`GET /c/${code} answered ${res.status} with Location ${res.location ?? '(none)'}`);
  return clickId;
}

/** `GET` `path` on the edge with the admin token: status and body (JSON parsed when the status is 200). */
export async function adminGet(baseUrl: string, adminToken: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await call('GET', `${baseUrl}${path}`, { Authorization: `Bearer ${adminToken}` });
  return { status: res.status, body: res.status === 200 ? (JSON.parse(res.body) as unknown) : res.body };
}

/** `GET /api/v1/live/affiliates/{id}` with the admin token: today's counters. */
export async function liveCounters(baseUrl: string, adminToken: string, affiliateId: string): Promise<Record<string, number | string>> {
  const res = await call('GET', `${baseUrl}/api/v1/live/affiliates/${encodeURIComponent(affiliateId)}`, { Authorization: `Bearer ${adminToken}` });
  if (res.status !== 200) throw new Error(`live API answered ${res.status}: ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as Record<string, number | string>;
}

/**
 * Waits until the edge takes events for `t.brand` (an empty signed batch answers 200): a brand
 * created through the admin API reaches the edge's catalog through a NATS KV watch, not at once.
 */
export async function waitForBrand(t: EventTarget, timeoutMs: number): Promise<void> {
  await waitFor(`brand ${t.brand} on the edge`, async () => ((await sendBatch(t, [])) ? true : undefined), timeoutMs);
}

/**
 * `n` click ids from real redirects on `codes` (spread over them in turn), `concurrency` at a
 * time. Visitor numbers start at `firstVisitor`, so every click has a client address of its own.
 */
export async function harvestClicks(baseUrl: string, codes: readonly string[], n: number, concurrency: number, firstVisitor = 0): Promise<string[]> {
  const ids: string[] = new Array<string>(n);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      ids[i] = await redirect(baseUrl, codes[i % codes.length] as string, firstVisitor + i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return ids;
}
