/**
 * Child process of {@link ./eventTraffic.ts}: reads an {@link EventTrafficInput} on stdin, sends
 * `rate` events per second for `durationS` seconds, and prints an {@link EventTrafficOutput} on
 * the result line.
 *
 * Every {@link TICK_MS} it sends what the schedule owes by then: the tick's postbacks one request
 * each, the rest as one JSON batch — a platform's mix of real-time postbacks and small batches.
 * Registrations quote a click id each (from real redirects); deposits go to players already
 * registered, so every event is applied and written, none waits for a registration.
 */
import { performance } from 'node:perf_hooks';
import { text } from 'node:stream/consumers';
import { prng } from '../lib/traffic.ts';
import { latencySummary } from '../lib/stats.ts';
import { sendBatch, sendPostback } from '../lib/eventClient.ts';
import { RESULT_MARKER } from './tool.ts';
import type { EventTrafficInput, EventTrafficOutput, TransportStats } from './eventTraffic.ts';

/** Schedule step: at 5,000 events/s, 50 events per tick. */
const TICK_MS = 10;
/** How long answers still in flight are waited for once the duration is over. */
const DRAIN_MS = 15_000;
/**
 * Events sent per tick at most: four ticks' worth. A backlog (the in-flight cap held the traffic
 * back) is caught up gradually and stays "behind", instead of going out as one batch over the
 * edge's 1 MiB / 10,000-event limits.
 */
const MAX_TICKS_PER_SEND = 4;
/** Problems quoted in the result. */
const SAMPLES = 5;

const input = JSON.parse(await text(process.stdin)) as EventTrafficInput;
const rand = prng(11);
const out = { sent: 0, accepted: 0, duplicates: 0, rejected: 0, registrations: 0, deposits: 0, problems: [] as string[] };
const latency = { batches: [] as number[], postbacks: [] as number[] };
const failed = { batches: 0, postbacks: 0 };
const registered: string[] = [];
let nextClick = 0;
let nextEvent = 0;
let inFlight = 0;
let lastAnswer = 0;

const problem = (text: string): void => {
  if (out.problems.length < SAMPLES) out.problems.push(text.slice(0, 300));
};

/** The next event of the mix. */
function nextEventOf(): Record<string, string> {
  const n = nextEvent++;
  const clickId = input.clickIds[nextClick];
  if (clickId !== undefined && (registered.length === 0 || rand() < input.registrationShare)) {
    nextClick++;
    const player = `${input.tag}-p${registered.length}`;
    registered.push(player);
    return { type: 'registration', event_id: `${input.tag}-e${n}`, player_id: player, click_id: clickId, country: 'DE' };
  }
  const player = registered[Math.floor(rand() * registered.length)] as string;
  const cents = 1000 + Math.floor(rand() * 49_000);
  return { type: 'deposit', event_id: `${input.tag}-e${n}`, player_id: player, amount: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`, currency: 'EUR' };
}

/** Sends `events` one way or the other and books the outcome; never rejects. */
async function send(kind: 'batches' | 'postbacks', events: Record<string, string>[]): Promise<void> {
  inFlight++;
  const t0 = performance.now();
  try {
    let accepted = 0;
    if (kind === 'postbacks') {
      const r = await sendPostback(input, events[0] as Record<string, string>);
      if (r.duplicate) out.duplicates++;
      else accepted = 1;
    } else {
      const r = await sendBatch(input, events);
      accepted = r.accepted;
      out.duplicates += r.duplicates;
      out.rejected += r.rejected.length;
      for (const x of r.rejected) problem(`rejected ${x.code}: ${x.message}`);
    }
    latency[kind].push(performance.now() - t0);
    out.sent += events.length;
    out.accepted += accepted;
    // Whole requests either fail or are accepted; a rejected event is counted above, so the type
    // counts below are right whenever nothing was rejected (the run reports it otherwise).
    if (accepted === events.length) {
      for (const e of events) {
        if (e.type === 'registration') out.registrations++;
        else out.deposits++;
      }
    }
  } catch (err) {
    failed[kind]++;
    problem(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    inFlight--;
    lastAnswer = performance.now();
  }
}

const total = Math.round(input.rate * input.durationS);
const start = performance.now();
const cpuAtStart = process.cpuUsage();
let produced = 0;
const perSend = Math.max(1, Math.ceil((input.rate * TICK_MS * MAX_TICKS_PER_SEND) / 1000));
for (;;) {
  const elapsedS = (performance.now() - start) / 1000;
  const due = Math.min(total, Math.floor(input.rate * elapsedS), produced + perSend);
  if (due > produced && inFlight < input.maxInFlight) {
    const batch: Record<string, string>[] = [];
    for (; produced < due; produced++) {
      const event = nextEventOf();
      if (rand() < input.postbackShare) void send('postbacks', [event]);
      else batch.push(event);
    }
    if (batch.length > 0) void send('batches', batch);
  }
  // The last tick (at or past the duration) has sent what it could; whatever is left is behind.
  if (elapsedS >= input.durationS) break;
  await new Promise((resolve) => setTimeout(resolve, TICK_MS));
}
const drainUntil = performance.now() + DRAIN_MS;
while (inFlight > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 10));
const cpu = process.cpuUsage(cpuAtStart);

const stats = (kind: 'batches' | 'postbacks'): TransportStats => ({ requests: latency[kind].length + failed[kind], failed: failed[kind], latencyMs: latencySummary(latency[kind]) });
const durationS = (lastAnswer - start) / 1000;
const output: EventTrafficOutput = {
  ...out,
  behind: total - produced,
  durationS,
  acceptedPerSec: durationS > 0 ? out.accepted / durationS : 0,
  batches: stats('batches'),
  postbacks: stats('postbacks'),
  cpuMicros: cpu.user + cpu.system,
};
if (inFlight > 0) problem(`${inFlight} request(s) still unanswered ${DRAIN_MS / 1000} s after the end`);
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(output)}\n`);
// The keep-alive agent holds idle connections open; nothing else is pending.
process.exit(0);
