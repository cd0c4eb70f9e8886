/**
 * autocannon, run in a child process ({@link ./autocannonChild.ts}) so that its event loop
 * shares nothing with the harness's and its CPU time is its own.
 */
import { fileURLToPath } from 'node:url';
import type { ProcessSet } from '../lib/proc.ts';
import type { ToolResult } from '../lib/results.ts';
import { runTool, type LoadSpec } from './tool.ts';

const CHILD = fileURLToPath(new URL('./autocannonChild.ts', import.meta.url));

/** What the child reads on stdin. */
export interface AutocannonInput {
  url: string;
  connections: number;
  durationS: number;
  requests: LoadSpec['requests'];
  /** Replace `[<id>]` in each request by an id of its own (autocannon's `idReplacement`): every postback a new event. */
  idReplacement?: boolean;
}

/** What the child prints on its result line: autocannon's own counters. */
export interface AutocannonOutput {
  total: number;
  '2xx': number;
  '3xx': number;
  /** Includes `timeouts`. */
  errors: number;
  timeouts: number;
  durationS: number;
  p50: number;
  p99: number;
}

/** Runs autocannon against `spec`, with its own counters. */
export async function runAutocannonRaw(procs: ProcessSet, spec: LoadSpec, idReplacement = false): Promise<AutocannonOutput> {
  const input: AutocannonInput = { url: spec.baseUrl, connections: spec.connections, durationS: spec.durationS, requests: spec.requests, idReplacement };
  return (await runTool(procs, 'autocannon', process.execPath, ['--import', 'tsx', CHILD], spec, JSON.stringify(input))) as AutocannonOutput;
}

/** Runs autocannon against `spec` (redirects: the 3xx are what counts). */
export async function runAutocannon(procs: ProcessSet, spec: LoadSpec): Promise<ToolResult> {
  const out = await runAutocannonRaw(procs, spec);
  return {
    requests: out.total,
    redirects: out['3xx'],
    non3xx: out.total - out['3xx'] + out.errors,
    socketErrors: out.errors,
    durationS: out.durationS,
    latencyMs: { p50: out.p50, p99: out.p99 },
  };
}
