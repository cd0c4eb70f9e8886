/**
 * Small network helpers of the harness: free ports, polling, and reading Prometheus metrics.
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpCall } from './http.ts';

/**
 * `n` distinct TCP ports free on 127.0.0.1 right now, picked by the kernel. All are held open
 * together so none is handed out twice; another program could still take one before our child
 * binds it, which the child then reports as a listen error.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              if (typeof address === 'object' && address !== null) resolve(address.port);
              else reject(new Error('no free port'));
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined, and returns
 * that value; throws naming `what` after `timeoutMs`. A throwing check counts as "not yet".
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = `: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError}`);
    await sleep(intervalMs);
  }
}

/**
 * The value of every series of metric `name` in a Prometheus text exposition (all label sets), in
 * the order they come; empty when the metric is absent.
 */
export function promValues(text: string, name: string): number[] {
  const values: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // `clicks_total{…} 5` or `clicks_total 5`, but not `clicks_total_created …`.
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) values.push(value);
  }
  return values;
}

/** Sum of every series of metric `name` (all label sets), or undefined when the metric is absent. */
export function promSum(text: string, name: string): number | undefined {
  const values = promValues(text, name);
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

/** Largest value of the series of metric `name` (all label sets), or undefined when the metric is absent. */
export function promMax(text: string, name: string): number | undefined {
  const values = promValues(text, name);
  return values.length === 0 ? undefined : Math.max(...values);
}

/** One cumulative bucket of a Prometheus histogram: observations ≤ `le` (Infinity for `+Inf`). */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The cumulative buckets of histogram `name` (its `<name>_bucket{le="…"}` series), summed over
 * every other label set (one per process), by increasing `le`; empty when the histogram is absent.
 */
export function promBuckets(text: string, name: string): Bucket[] {
  const byLe = new Map<number, number>();
  const series = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(series)) continue;
    const le = /[{,]le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(count)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byLe.set(bound, (byLe.get(bound) ?? 0) + count);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * The Prometheus text of `url`, or undefined when it does not answer 200 within `timeoutMs`. A
 * process too busy to answer is a finding to report, not a reason to lose the run's figures.
 */
export async function scrape(url: string, timeoutMs = 5_000): Promise<string | undefined> {
  try {
    const answer = await httpCall('GET', url, { timeoutMs });
    return answer.status === 200 ? answer.body : undefined;
  } catch {
    return undefined;
  }
}
