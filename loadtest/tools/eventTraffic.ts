/**
 * The `attribution` benchmark's background load: a casino platform sending `rate` events per
 * second — registrations quoting real click ids, and deposits of the players registered — as
 * signed JSON batches and single postbacks, run in a child process ({@link ./eventTrafficChild.ts})
 * so that its event loop and CPU are its own and the harness's probe timings stay clean.
 */
import { fileURLToPath } from 'node:url';
import type { EventTarget } from '../lib/eventClient.ts';
import type { ProcessSet } from '../lib/proc.ts';
import { runTool } from './tool.ts';

const CHILD = fileURLToPath(new URL('./eventTrafficChild.ts', import.meta.url));

/** What the child reads on stdin. */
export interface EventTrafficInput extends EventTarget {
  /** Events per second. */
  rate: number;
  durationS: number;
  /** Click ids from real redirects, one per registration; when they run out, only deposits follow. */
  clickIds: string[];
  /** Share of events that are registrations (the rest are deposits). */
  registrationShare: number;
  /** Share of events sent one by one as postbacks (the rest go in JSON batches). */
  postbackShare: number;
  /** Part of every event and player id. */
  tag: string;
  /** Requests in flight at most: a slow edge makes the traffic fall behind rather than pile up. */
  maxInFlight: number;
}

/** Per transport: requests, outcome, latency. */
export interface TransportStats {
  requests: number;
  /** Requests that failed: a non-200 answer, a network error, a timeout. */
  failed: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** What the child prints on its result line. */
export interface EventTrafficOutput {
  /** Events in requests that were answered 200. */
  sent: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The first failures and rejections, as text. */
  problems: string[];
  /** Accepted registrations and deposits. */
  registrations: number;
  deposits: number;
  /** Events the schedule asked for that were never sent (the in-flight cap held them back). */
  behind: number;
  /** Seconds from the first request to the last answer. */
  durationS: number;
  /** Accepted events per second over {@link durationS}. */
  acceptedPerSec: number;
  batches: TransportStats;
  postbacks: TransportStats;
  /** CPU time of the child while sending, µs. */
  cpuMicros: number;
}

/** Sends the traffic for `input.durationS` and returns the counts. */
export async function runEventTraffic(procs: ProcessSet, input: EventTrafficInput): Promise<EventTrafficOutput> {
  return (await runTool(procs, 'event traffic', process.execPath, ['--import', 'tsx', CHILD], input, JSON.stringify(input))) as EventTrafficOutput;
}
