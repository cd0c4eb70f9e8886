/**
 * The `ingest` benchmark's client: one WebSocket connection to `/v1/stream`, run in a child
 * process ({@link ./streamIngestChild.ts}) so that it shares no event loop with the harness and
 * its CPU time is its own — on two cores, the client is one of the processes competing with the
 * edge, and its cost has to be seen.
 */
import { fileURLToPath } from 'node:url';
import type { ProcessSet } from '../lib/proc.ts';
import type { FrameSummary } from '../lib/frames.ts';
import { runTool } from './tool.ts';

const CHILD = fileURLToPath(new URL('./streamIngestChild.ts', import.meta.url));

/** What the child reads on stdin. */
export interface StreamIngestInput {
  /** `ws://127.0.0.1:<port>/v1/stream?brand=<id>`. */
  url: string;
  /** The brand's postbackSecret, sent as `Authorization: Bearer`. */
  secret: string;
  /** Seconds to send frames for; then the client waits for the outstanding acks. */
  durationS: number;
  /** Events per frame. */
  frameEvents: number;
  /** Frames kept unacknowledged (the protocol's window is 64). */
  window: number;
  /** Part of every event and player id. */
  tag: string;
  /** How long to wait for the last acks after sending stopped, ms. */
  drainTimeoutMs: number;
}

/** What the child prints on its result line. */
export interface StreamIngestOutput {
  framesSent: number;
  /** Frames answered with an ack (not an error frame). */
  framesAcked: number;
  /** Acks whose `accepted` was the whole frame. */
  framesFullyAccepted: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The first rejections, as `code: message`. */
  rejectedSamples: string[];
  /** Error frames by code. */
  errors: Record<string, number>;
  /** Frames sent that got no answer before the connection closed or the drain timed out. */
  unanswered: number;
  /** From the first frame sent to the last answer, s. */
  durationS: number;
  /** Accepted events per second over {@link durationS}. */
  acceptedPerSec: number;
  /** Time from sending a frame to its answer, ms: what a pipelining client waits, queueing included. */
  ackLatencyMs: { p50: number; p99: number; max: number };
  /** CPU time the client used from its first frame to its last answer, µs. */
  cpuMicros: number;
  /** Close code of the connection, when the server closed it first. */
  serverClose?: { code: number; reason: string };
  frame: FrameSummary;
}

/** Sends frames for `input.durationS` and returns the client's counts. */
export async function runStreamIngest(procs: ProcessSet, input: StreamIngestInput): Promise<StreamIngestOutput> {
  // The tool's time limit counts the drain as part of the run.
  const limit = { durationS: input.durationS + input.drainTimeoutMs / 1000 };
  return (await runTool(procs, 'stream client', process.execPath, ['--import', 'tsx', CHILD], limit, JSON.stringify(input))) as StreamIngestOutput;
}
