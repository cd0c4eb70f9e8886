/**
 * What the load tools have in common: the same inputs, and the same way of being run — as a child
 * process with a hard time limit, printing one result line the harness parses.
 */
import type { TrafficRequest } from '../lib/traffic.ts';
import { describeExit, type ProcessSet } from '../lib/proc.ts';

/** One load run's inputs. */
export interface LoadSpec {
  /** Base URL of the target, e.g. `http://127.0.0.1:40123`. */
  baseUrl: string;
  connections: number;
  durationS: number;
  /** Replayed in a loop. */
  requests: readonly TrafficRequest[];
  /** Where the tool may write its scratch files. */
  workDir: string;
}

/** Prefix of the line a tool child prints its result on, as JSON. */
export const RESULT_MARKER = 'AFFSTREAM_RESULT ';

/** Slack past the load duration for the tool to start, finish in-flight requests and report. */
const GRACE_MS = 20_000;

/**
 * Runs a load tool to completion and returns the JSON of its result line. The tool is stopped
 * and the run fails when it outlives its duration by {@link GRACE_MS}, exits with an error, or
 * prints no result. Only the duration of `spec` matters here, so tools that are not HTTP load
 * generators (the event clients) go through the same limit.
 */
export async function runTool(procs: ProcessSet, name: string, command: string, args: string[], spec: Pick<LoadSpec, 'durationS'>, stdin?: string): Promise<unknown> {
  const child = procs.spawn(name, command, args, { output: 'capture', stdin });
  const limitMs = spec.durationS * 1000 + GRACE_MS;
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} still running ${limitMs / 1000} s after it started`)), limitMs);
  });
  try {
    const status = await procs.guard(Promise.race([child.exited, overrun]));
    const line = child.stdout().split('\n').find((l) => l.startsWith(RESULT_MARKER));
    if (status.code !== 0 || line === undefined) {
      const output = `${child.stderr()}\n${child.stdout()}`.trim().slice(-1000);
      throw new Error(`${name} failed (${describeExit(status)}${line === undefined ? ', no result printed' : ''}): ${output}`);
    }
    return JSON.parse(line.slice(RESULT_MARKER.length)) as unknown;
  } finally {
    clearTimeout(timer);
    await procs.stop(child, 2_000);
  }
}
