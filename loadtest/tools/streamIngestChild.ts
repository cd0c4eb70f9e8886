/**
 * Child process of {@link ./streamIngest.ts}: reads a {@link StreamIngestInput} on stdin, opens
 * one WebSocket to the edge's `/v1/stream`, keeps `window` frames unacknowledged until the
 * duration is over, waits for the last answers, and prints a {@link StreamIngestOutput} on the
 * result line.
 *
 * The server answers frames in the order they came (docs/protocol.md §4), so a FIFO of send times
 * matches each answer — ack or error frame, with or without `seq` — to its frame.
 */
import { performance } from 'node:perf_hooks';
import { text } from 'node:stream/consumers';
import { decode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { frameTemplate, makeFrame } from '../lib/frames.ts';
import { latencySummary } from '../lib/stats.ts';
import { RESULT_MARKER } from './tool.ts';
import type { StreamIngestInput, StreamIngestOutput } from './streamIngest.ts';

/** The edge's default frame limit (`edge.maxEventBodyBytes`). */
const MAX_FRAME_BYTES = 1024 * 1024;
/** Rejections quoted in the result. */
const SAMPLES = 5;

interface Answer {
  ack?: number;
  accepted?: number;
  duplicates?: number;
  rejected?: { index: number; code: string; message: string }[];
  error?: { code: string; message: string };
}

const input = JSON.parse(await text(process.stdin)) as StreamIngestInput;
const template = frameTemplate(input.frameEvents, input.tag);
if (template.summary.bytes > MAX_FRAME_BYTES) {
  throw new Error(`a frame of ${input.frameEvents} events is ${template.summary.bytes} bytes, over the edge's ${MAX_FRAME_BYTES}-byte limit: use a smaller --frame`);
}

const out: Omit<StreamIngestOutput, 'durationS' | 'acceptedPerSec' | 'ackLatencyMs' | 'cpuMicros' | 'frame'> = {
  framesSent: 0,
  framesAcked: 0,
  framesFullyAccepted: 0,
  accepted: 0,
  duplicates: 0,
  rejected: 0,
  rejectedSamples: [],
  errors: {},
  unanswered: 0,
};
/** Send times of the frames without an answer yet, oldest first. */
const inFlight: number[] = [];
const latencies: number[] = [];

const ws = new WebSocket(input.url, {
  headers: { Authorization: `Bearer ${input.secret}` },
  perMessageDeflate: false,
  // An all-zero masking key makes ws skip masking, which in pure JS (no bufferutil installed)
  // costs the client a copy and an XOR pass over 45 MB/s. The edge unmasks every frame either
  // way; RFC 6455 wants unpredictable keys against proxy cache poisoning, moot on loopback.
  generateMask: (mask: Buffer) => mask.fill(0),
});
await new Promise<void>((resolve, reject) => {
  ws.once('open', () => resolve());
  ws.once('error', reject);
  ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
});

let firstSent = 0;
let lastAnswer = 0;
let sending = true;
let stop!: () => void;
const stopped = new Promise<void>((resolve) => (stop = resolve));
const stopSending = (): void => {
  sending = false;
  stop();
};
const timer = setTimeout(stopSending, input.durationS * 1000);

/** Tops the window up while the duration lasts. */
const fill = (): void => {
  while (sending && inFlight.length < input.window) {
    const seq = ++out.framesSent;
    ws.send(makeFrame(template, seq, Date.now()));
    inFlight.push(performance.now());
    if (seq === 1) firstSent = performance.now();
  }
};

ws.on('message', (data: Buffer) => {
  const now = performance.now();
  const sentAt = inFlight.shift();
  if (sentAt !== undefined) latencies.push(now - sentAt);
  lastAnswer = now;
  const answer = decode(data) as Answer;
  if (answer.error) {
    out.errors[answer.error.code] = (out.errors[answer.error.code] ?? 0) + 1;
  } else {
    out.framesAcked++;
    out.accepted += answer.accepted ?? 0;
    out.duplicates += answer.duplicates ?? 0;
    if (answer.accepted === input.frameEvents) out.framesFullyAccepted++;
    for (const r of answer.rejected ?? []) {
      out.rejected++;
      if (out.rejectedSamples.length < SAMPLES) out.rejectedSamples.push(`${r.code}: ${r.message}`);
    }
  }
  fill();
});
ws.on('close', (code, reason) => {
  if (sending || inFlight.length > 0) out.serverClose = { code, reason: reason.toString('utf8') };
  stopSending();
});
ws.on('error', (err) => {
  const key = `socket: ${err.message}`;
  out.errors[key] = (out.errors[key] ?? 0) + 1;
  stopSending();
});

// Start-up (tsx compiling this file, the template) is not part of the client's cost per event.
const cpuAtStart = process.cpuUsage();
fill();
await stopped;
clearTimeout(timer);
// The answers still in flight get drainTimeoutMs, unless the connection is gone.
const drainDeadline = Date.now() + input.drainTimeoutMs;
while (inFlight.length > 0 && ws.readyState === WebSocket.OPEN && Date.now() < drainDeadline) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
out.unanswered = inFlight.length;
const cpu = process.cpuUsage(cpuAtStart);
ws.close(1000);

const durationS = lastAnswer > firstSent ? (lastAnswer - firstSent) / 1000 : 0;
const output: StreamIngestOutput = {
  ...out,
  durationS,
  acceptedPerSec: durationS > 0 ? out.accepted / durationS : 0,
  ackLatencyMs: latencySummary(latencies),
  cpuMicros: cpu.user + cpu.system,
  frame: template.summary,
};
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(output)}\n`);
// Nothing else is pending; exit without waiting for the close handshake.
process.exit(0);
