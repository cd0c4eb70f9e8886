/**
 * The `mixed` scenario's load driver: plays a generated timeline (loadtest/generator/) against an
 * edge — redirects, postbacks, JSON and msgpack batches, the WebSocket stream — in a child process
 * ({@link ./mixedDriverChild.ts}) whose event loop and CPU are its own. It regenerates the timeline
 * from the same seed as the harness, so nothing but a few options crosses the process boundary,
 * and writes its progress to a status file every second.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ProcessSet } from '../lib/proc.ts';
import type { TimelineOptions } from '../generator/timeline.ts';
import { runTool } from './tool.ts';

const CHILD = fileURLToPath(new URL('./mixedDriverChild.ts', import.meta.url));

/** What the child reads on stdin. */
export interface DriverInput {
  baseUrl: string;
  /** Every brand's postbackSecret. */
  secret: string;
  /** The programme's tag and seed (loadtest/generator/programme.ts). */
  tag: string;
  timeline: TimelineOptions;
  /** Where the child writes a {@link DriverStatus} every second. */
  statusFile: string;
  /** How long to go on after the timeline's end for answers and backlog, ms. */
  drainMs: number;
}

/** Latency of one kind of request, ms. */
export interface LatencyFigures {
  requests: number;
  p50: number;
  p99: number;
  max: number;
}

/** The driver's counters; cumulative unless named otherwise. */
export interface DriverStatus {
  elapsedS: number;
  /** Actions handed out by the timeline so far. */
  due: number;
  /** Redirects answered (any status) and those that were not a 302 with a click id, or failed. */
  clicks: number;
  clickFailures: number;
  /** Events sent (in requests answered), and the edge's answers about them. */
  events: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Event requests that failed for good (after retries). */
  eventFailures: number;
  /** Actions due and not sent yet (the driver is behind) plus requests in flight. */
  backlog: number;
  /** The last second: actions sent, and the latency of redirects and of event requests. */
  second: { actions: number; clickP50: number; clickP99: number; eventP50: number; eventP99: number };
}

/** What the child prints on its result line. */
export interface DriverOutput extends DriverStatus {
  /** Seconds from the first action to the last answer. */
  durationS: number;
  /** Actions (redirects + events, duplicates included) sent per second over {@link durationS}. */
  actionsPerSec: number;
  /** Actions never sent (the drain timed out, or a registration's click failed). */
  unsent: number;
  /** Per transport, and `redirect`. */
  latency: Record<string, LatencyFigures>;
  /** The first problems, as text. */
  problems: string[];
  /** CPU time of the child while sending, µs. */
  cpuMicros: number;
}

/** Plays the timeline; resolves with the driver's counts. */
export async function runDriver(procs: ProcessSet, input: DriverInput): Promise<DriverOutput> {
  const limit = { durationS: input.timeline.durationS + input.drainMs / 1000 };
  return (await runTool(procs, 'load driver', process.execPath, ['--max-old-space-size=4096', '--import', 'tsx', CHILD], limit, JSON.stringify(input))) as DriverOutput;
}

/** The driver's latest status, or undefined before its first write. */
export function readDriverStatus(file: string): DriverStatus | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DriverStatus;
  } catch {
    return undefined;
  }
}
