/**
 * Child process of {@link ./mixedDriver.ts}: reads a {@link DriverInput} on stdin, plays the
 * timeline, writes a {@link DriverStatus} to the status file every second and prints a
 * {@link DriverOutput} on the result line.
 *
 * Every {@link TICK_MS} it takes the actions now due and sends them: each redirect as a request of
 * its own, each postback too, and the events of each other transport and brand as one request
 * (a JSON or msgpack batch, a stream frame). Two rules keep the ground truth exact:
 * - a player's events reach the edge in the timeline's order: an event waits while an earlier one
 *   of the same player is unanswered, unless both go in the same batch (the FTD is the first deposit
 *   *received*, and an answer means durable in JetStream, in order);
 * - a registration waits for the answer to the redirect it quotes, whose click id it then carries.
 * A failed event request is retried (the edge deduplicates by event id); a failed redirect is not
 * (a retry would be another click) and is reported, failing the run.
 */
import { createHmac } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { text } from 'node:stream/consumers';
import { decode, encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { planProgramme } from '../generator/programme.ts';
import { createTimeline, type Action, type ClickAction, type EventAction } from '../generator/timeline.ts';
import { RawHttpPool, type RawResponse } from '../lib/rawHttp.ts';
import { latencySummary } from '../lib/stats.ts';
import { RESULT_MARKER } from './tool.ts';
import type { DriverInput, DriverOutput, DriverStatus, LatencyFigures } from './mixedDriver.ts';

const TICK_MS = 10;
/**
 * Redirects and event requests in flight (or queued for a connection) at most, each; past that the
 * driver falls behind, and says so. Each kind has connections of its own: an event request waits
 * for JetStream, a redirect does not, and one must not queue behind the other.
 */
const MAX_IN_FLIGHT = 256;
const CONNECTIONS = 32;
/** Stream frames unacknowledged per connection: the protocol's window. */
const STREAM_WINDOW = 64;
/** Events per batch or frame at most: well within the edge's 10,000 events and 1 MiB. */
const MAX_BATCH = 2_000;
/** Queued actions looked at per tick: a large backlog is worked off from its head. */
const SCAN_LIMIT = 50_000;
/**
 * Attempts after the first for an event request or frame that failed or was answered
 * `unavailable`, with exponential back-off from {@link RETRY_DELAY_MS} to 5 s: an overloaded
 * JetStream was seen refusing the same frame four times within a second.
 */
const RETRIES = 8;
const RETRY_DELAY_MS = 250;
const backoff = (left: number) => Math.min(5_000, RETRY_DELAY_MS * 2 ** (RETRIES - left));
/** Time per tick spent generating due actions at most, ms. */
const GENERATE_SLICE_MS = 20;
/** Click ids kept for the registrations that will quote them: the timeline's registrations come within seconds. */
const CLICK_ID_TTL_MS = 120_000;
/** Latency samples kept per kind (reservoir). */
const SAMPLES = 100_000;
const PROBLEMS = 10;

const input = JSON.parse(await text(process.stdin)) as DriverInput;
const programme = planProgramme(input.tag, input.timeline.seed);
const timeline = createTimeline(programme, input.timeline);
const actions = timeline.actions[Symbol.iterator]();
const clickPool = new RawHttpPool(input.baseUrl, CONNECTIONS);
const eventPool = new RawHttpPool(input.baseUrl, CONNECTIONS);

const counters = { due: 0, clicks: 0, clickFailures: 0, events: 0, accepted: 0, duplicates: 0, rejected: 0, eventFailures: 0 };
const problems: string[] = [];
const problem = (s: string) => {
  if (problems.length < PROBLEMS) problems.push(s.slice(0, 300));
};

/** Latency samples per kind (a reservoir), and the last second's. */
const latency = new Map<string, number[]>();
const seen = new Map<string, number>();
let second = { clicks: [] as number[], events: [] as number[], actions: 0 };
function record(kind: string, ms: number): void {
  const list = latency.get(kind) ?? [];
  latency.set(kind, list);
  const n = (seen.get(kind) ?? 0) + 1;
  seen.set(kind, n);
  if (list.length < SAMPLES) list.push(ms);
  else {
    const i = Math.floor(Math.random() * n);
    if (i < SAMPLES) list[i] = ms;
  }
  if (kind === 'redirect') second.clicks.push(ms);
  else second.events.push(ms);
}

const clickIds = new Map<number, { id: string; at: number }>();
const failedClicks = new Set<number>();
/** Players (brand:player) with requests unanswered, and how many. */
const busy = new Map<string, number>();
let clicksInFlight = 0;
let eventRequestsInFlight = 0;

const sign = (body: Buffer | string) => `X-Signature: sha256=${createHmac('sha256', input.secret).update(body).digest('hex')}`;
const playerKey = (e: EventAction) => `${e.brandId}:${String(e.fields.player_id)}`;

function hold(players: readonly string[]): void {
  for (const p of players) busy.set(p, (busy.get(p) ?? 0) + 1);
}
function release(players: readonly string[]): void {
  for (const p of players) {
    const n = (busy.get(p) ?? 1) - 1;
    if (n <= 0) {
      busy.delete(p);
      wake(p);
    } else busy.set(p, n);
  }
}

function sendClick(c: ClickAction): void {
  const headers = [`X-Forwarded-For: ${c.ip}`];
  if (c.ua !== undefined) headers.push(`User-Agent: ${c.ua}`);
  if (c.country !== undefined) headers.push(`CF-IPCountry: ${c.country}`);
  if (c.prefetch) headers.push('Sec-Purpose: prefetch');
  clicksInFlight++;
  second.actions++;
  const t = performance.now();
  clickPool
    .request('GET', `/c/${c.code}?sub1=${encodeURIComponent(c.sub1)}`, headers)
    .then((r) => {
      record('redirect', performance.now() - t);
      counters.clicks++;
      const id = r.location ? /[?&]cid=([0-9a-f-]{36})/.exec(r.location)?.[1] : undefined;
      if (r.status !== 302 || (id === undefined && !c.geoBlocked)) {
        counters.clickFailures++;
        failedClicks.add(c.ref);
        problem(`GET /c/${c.code} answered ${r.status} with Location ${r.location ?? '(none)'}`);
      } else if (id !== undefined) clickIds.set(c.ref, { id, at: performance.now() });
      else failedClicks.add(c.ref);
    })
    .catch((err: unknown) => {
      counters.clicks++;
      counters.clickFailures++;
      failedClicks.add(c.ref);
      problem(`GET /c/${c.code}: ${err instanceof Error ? err.message : String(err)}`);
    })
    .finally(() => {
      clicksInFlight--;
      const player = waitingForClick.get(c.ref);
      waitingForClick.delete(c.ref);
      if (player !== undefined) wake(player);
    });
}

/** An event's wire fields, with the click id of the redirect its registration quotes. */
function wire(e: EventAction): Record<string, string | number | boolean> {
  if (e.clickRef === undefined) return e.fields;
  const click = clickIds.get(e.clickRef);
  // Resends of the registration quote the same click: the id stays until its TTL.
  return click ? { ...e.fields, click_id: click.id } : e.fields;
}

interface Reply {
  accepted: number;
  duplicates: number;
  rejected: { index?: number; code: string; message: string }[];
}

function booked(kind: string, n: number, reply: Reply, ms: number): void {
  record(kind, ms);
  counters.events += n;
  counters.accepted += reply.accepted;
  counters.duplicates += reply.duplicates;
  counters.rejected += reply.rejected.length;
  for (const r of reply.rejected) problem(`${kind}: rejected ${r.code}: ${r.message}`);
}

/** An HTTP event request, retried on failure; the players are released once it is settled. */
function sendHttp(kind: string, n: number, players: string[], build: () => [string, string, string[], Buffer?], parse: (r: RawResponse) => Reply): void {
  eventRequestsInFlight++;
  hold(players);
  second.actions += n;
  const attempt = (left: number): void => {
    const t = performance.now();
    const [method, path, headers, body] = build();
    eventPool
      .request(method, path, headers, body)
      .then((r) => {
        if (r.status !== 200) throw new Error(`${kind} answered ${r.status}: ${r.body.slice(0, 200)}`);
        booked(kind, n, parse(r), performance.now() - t);
        return true;
      })
      .catch((err: unknown) => {
        if (left > 0) {
          setTimeout(() => attempt(left - 1), backoff(left));
          return false;
        }
        counters.eventFailures += n;
        problem(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
        return true;
      })
      .then((settled) => {
        if (settled) {
          eventRequestsInFlight--;
          release(players);
        }
      });
  };
  attempt(RETRIES);
}

function sendPostback(e: EventAction): void {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(wire(e))) query.set(k, String(v));
  query.set('token', input.secret);
  sendHttp('postback', 1, [playerKey(e)], () => ['GET', `/pb/${e.brandId}?${query}`, []], (r) => {
    const body = JSON.parse(r.body) as { duplicate?: boolean };
    return { accepted: body.duplicate ? 0 : 1, duplicates: body.duplicate ? 1 : 0, rejected: [] };
  });
}

function sendBatch(transport: 'json' | 'msgpack', brand: string, events: EventAction[], players: string[]): void {
  const envelope = { brand, events: events.map(wire) };
  const body = transport === 'json' ? Buffer.from(JSON.stringify(envelope)) : Buffer.from(encode(envelope));
  const headers = [`Content-Type: application/${transport}`, sign(body)];
  sendHttp(transport, events.length, players, () => ['POST', '/v1/events', headers, body], (r) => JSON.parse(r.body) as Reply);
}

/** One WebSocket per brand; frames answered in order. */
class Stream {
  private readonly ws: WebSocket;
  private readonly waiting: { events: EventAction[]; players: string[]; t: number; retries: number }[] = [];
  private seq = 0;
  readonly open: Promise<void>;

  constructor(brand: string) {
    this.ws = new WebSocket(`${input.baseUrl.replace('http:', 'ws:')}/v1/stream?brand=${encodeURIComponent(brand)}`, {
      headers: { Authorization: `Bearer ${input.secret}` },
      perMessageDeflate: false,
      // See streamIngestChild.ts: an all-zero mask spares the client a pure-JS pass over every byte.
      generateMask: (mask: Buffer) => mask.fill(0),
    });
    this.open = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data: Buffer) => {
      const frame = this.waiting.shift();
      const answer = decode(data) as Partial<Reply> & { error?: { code: string; message: string } };
      if (!frame) return;
      if (answer.error?.code === 'unavailable' && frame.retries > 0) {
        // JetStream did not confirm in time and nothing was counted (docs/api.md): send the frame again.
        setTimeout(() => this.write({ ...frame, retries: frame.retries - 1 }), backoff(frame.retries));
        return;
      }
      if (answer.error) {
        counters.eventFailures += frame.events.length;
        problem(`stream: error frame ${answer.error.code}: ${answer.error.message}`);
      } else booked('stream', frame.events.length, { accepted: answer.accepted ?? 0, duplicates: answer.duplicates ?? 0, rejected: answer.rejected ?? [] }, performance.now() - frame.t);
      release(frame.players);
    });
    this.ws.on('close', (code) => {
      for (const f of this.waiting.splice(0)) {
        counters.eventFailures += f.events.length;
        release(f.players);
      }
      if (!finished) problem(`stream: closed by the server (${code})`);
    });
    this.ws.on('error', (err) => problem(`stream: ${err.message}`));
  }

  get room(): number {
    return this.ws.readyState === WebSocket.OPEN ? STREAM_WINDOW - this.waiting.length : 0;
  }

  get inFlight(): number {
    return this.waiting.length;
  }

  send(events: EventAction[], players: string[]): void {
    hold(players);
    second.actions += events.length;
    this.write({ events, players, t: performance.now(), retries: RETRIES });
  }

  private write(frame: { events: EventAction[]; players: string[]; t: number; retries: number }): void {
    this.waiting.push(frame);
    this.ws.send(encode({ seq: ++this.seq, events: frame.events.map(wire) }));
  }

  close(): void {
    this.ws.close(1000);
  }
}

let finished = false;
const streams = new Map(programme.brands.map((b) => [b.id, new Stream(b.id)]));
await Promise.all([...streams.values()].map((s) => s.open));

/** Actions due, not yet looked at: an array consumed from `head` (compacted now and then), so a backlog costs nothing per tick. */
let queue: Action[] = [];
let head = 0;
let next = actions.next();
/** Players' events held back (an earlier event unanswered, the quoted click not answered yet, no room), in order. */
const held = new Map<string, EventAction[]>();
/** Players whose held events may go now. */
const ready = new Set<string>();
/** Click refs a held registration waits for → its player. */
const waitingForClick = new Map<number, string>();

const clickPending = (e: EventAction) => e.clickRef !== undefined && !clickIds.has(e.clickRef) && !failedClicks.has(e.clickRef);
/** Called when a player's requests are all answered, or the click it waits for is. */
function wake(key: string): void {
  if (held.has(key)) ready.add(key);
}

/**
 * Sends what is due and allowed. Players with held events go first, then the queue from its head
 * until the request budget is spent. A player's events stay in order: an event is held while the
 * player has one held or unanswered, unless it can join the same batch in this tick. Each event
 * is looked at a bounded number of times, so a large backlog costs no more per tick than a small one.
 */
function dispatch(): void {
  const joined = new Map<string, string>();
  const batches = new Map<string, { transport: EventAction['transport']; brand: string; events: EventAction[]; players: Set<string> }>();
  let clickBudget = MAX_IN_FLIGHT - clicksInFlight;
  let httpBudget = MAX_IN_FLIGHT - eventRequestsInFlight;

  /** Places `e` in this tick's requests when allowed and there is room; false otherwise. */
  const place = (e: EventAction, key: string): 'sent' | 'order' | 'room' => {
    const batchKey = `${e.transport}|${e.brandId}`;
    const mine = joined.get(key);
    if (busy.has(key) || (mine !== undefined && (mine !== batchKey || e.transport === 'postback'))) return 'order';
    if (e.transport === 'postback') {
      if (httpBudget <= 0) return 'room';
      httpBudget--;
      joined.set(key, batchKey);
      sendPostback(e);
      return 'sent';
    }
    let batch = batches.get(batchKey);
    if (!batch) {
      const room = e.transport === 'stream' ? (streams.get(e.brandId)?.room ?? 0) > 0 : httpBudget > 0;
      if (!room) return 'room';
      if (e.transport !== 'stream') httpBudget--;
      batch = { transport: e.transport, brand: e.brandId, events: [], players: new Set() };
      batches.set(batchKey, batch);
    }
    if (batch.events.length >= MAX_BATCH) return 'room';
    batch.events.push(e);
    batch.players.add(key);
    joined.set(key, batchKey);
    return 'sent';
  };
  const keep = (e: EventAction, key: string, why: 'order' | 'room' | 'click'): void => {
    const list = held.get(key);
    if (list) list.push(e);
    else held.set(key, [e]);
    if (why === 'room') ready.add(key);
    if (why === 'click') waitingForClick.set(e.clickRef as number, key);
  };

  for (const key of [...ready]) {
    ready.delete(key);
    const list = held.get(key);
    if (!list) continue;
    while (list.length > 0) {
      const e = list[0] as EventAction;
      if (clickPending(e)) {
        waitingForClick.set(e.clickRef as number, key);
        break;
      }
      const r = place(e, key);
      if (r === 'room') ready.add(key);
      if (r !== 'sent') break;
      list.shift();
    }
    if (list.length === 0) held.delete(key);
  }

  for (let n = 0; head < queue.length && n < SCAN_LIMIT; n++, head++) {
    const a = queue[head] as Action;
    if (a.kind === 'click') {
      if (clickBudget <= 0) break;
      clickBudget--;
      sendClick(a);
      continue;
    }
    const key = playerKey(a);
    if (held.has(key)) keep(a, key, 'order');
    else if (clickPending(a)) keep(a, key, 'click');
    else {
      const r = place(a, key);
      if (r !== 'sent') keep(a, key, r);
    }
  }
  if (head > 100_000 && head * 2 > queue.length) {
    queue = queue.slice(head);
    head = 0;
  }
  for (const b of batches.values()) {
    const players = [...b.players];
    if (b.transport === 'stream') streams.get(b.brand)?.send(b.events, players);
    else sendBatch(b.transport as 'json' | 'msgpack', b.brand, b.events, players);
  }
}

const heldEvents = () => [...held.values()].reduce((n, l) => n + l.length, 0);
const inFlight = () => clicksInFlight + eventRequestsInFlight + [...streams.values()].reduce((n, s) => n + s.inFlight, 0);

function status(elapsedMs: number): DriverStatus {
  const c = latencySummary(second.clicks);
  const e = latencySummary(second.events);
  const s: DriverStatus = {
    elapsedS: elapsedMs / 1000,
    ...counters,
    backlog: queue.length - head + heldEvents() + inFlight(),
    second: { actions: second.actions, clickP50: c.p50, clickP99: c.p99, eventP50: e.p50, eventP99: e.p99 },
  };
  second = { clicks: [], events: [], actions: 0 };
  return s;
}

function writeStatus(s: DriverStatus): void {
  writeFileSync(`${input.statusFile}.tmp`, JSON.stringify(s));
  renameSync(`${input.statusFile}.tmp`, input.statusFile);
}

const cpuAtStart = process.cpuUsage();
// Due times count from the run's start as the harness set it (a little after spawning this
// process), so clicks reach the edge on the UTC day, and in the minute, the ledger books them.
const t0 = performance.now() + (input.timeline.startMs - Date.now());
const deadline = input.timeline.durationS * 1000 + input.drainMs;
let lastStatus = 0;
let lastAnswer = t0;
for (;;) {
  const now = performance.now() - t0;
  // Generating is the driver's own work: a backlog is generated a slice per tick, so sockets keep
  // being served (a connection left without its request for the edge's idle timeout gets closed).
  const sliceEnd = performance.now() + GENERATE_SLICE_MS;
  for (let n = 0; !next.done && next.value.at <= now; n++) {
    queue.push(next.value);
    counters.due++;
    next = actions.next();
    if ((n & 255) === 255 && performance.now() > sliceEnd) break;
  }
  dispatch();
  for (const [ref, c] of clickIds) {
    if (performance.now() - c.at < CLICK_ID_TTL_MS) break;
    clickIds.delete(ref);
  }
  if (inFlight() > 0) lastAnswer = performance.now();
  if (now - lastStatus >= 1000) {
    lastStatus = now;
    writeStatus(status(now));
  }
  if ((next.done && queue.length === head && held.size === 0 && inFlight() === 0) || now > deadline) break;
  await new Promise((resolve) => setTimeout(resolve, Math.max(TICK_MS, -now)));
}
finished = true;
const cpu = process.cpuUsage(cpuAtStart);
let unsent = queue.length - head + heldEvents() + inFlight();
while (!next.done) {
  unsent++;
  next = actions.next();
}
if (unsent > 0) problem(`${unsent} action(s) not sent or not answered within ${input.drainMs / 1000} s after the timeline's end`);
if (counters.clickFailures > 0) problem(`${counters.clickFailures} redirect(s) failed: their clicks and registrations are not what the ledger books`);
for (const s of streams.values()) s.close();
clickPool.close();
eventPool.close();
const durationS = (lastAnswer - t0) / 1000;
const final = status(performance.now() - t0);
writeStatus(final);
const sent = counters.clicks + counters.events;
const output: DriverOutput = {
  ...final,
  durationS,
  actionsPerSec: durationS > 0 ? sent / durationS : 0,
  unsent,
  latency: Object.fromEntries([...latency].map(([k, v]): [string, LatencyFigures] => [k, { requests: seen.get(k) ?? 0, ...latencySummary(v) }])),
  problems,
  cpuMicros: cpu.user + cpu.system,
};
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(output)}\n`);
process.exit(0);
