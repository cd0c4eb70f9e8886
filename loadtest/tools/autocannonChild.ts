/**
 * Child process of {@link ./autocannon.ts}: reads an {@link AutocannonInput} on stdin, runs
 * autocannon once, prints an {@link AutocannonOutput} on the result line.
 *
 * Each connection gets its own share of the request set (connection k: requests k, k + n, …) as a
 * static array, whose bytes autocannon builds once and then cycles through. A `setupRequest`
 * callback would rebuild every request and slow the tool, already the bottleneck, further; and the
 * whole set in `requests` would be deep-cloned and built once per connection — 64 × 4096 requests,
 * seconds of CPU inside the measured duration, long enough for connections to time out.
 */
import { text } from 'node:stream/consumers';
import autocannon from 'autocannon';
import { RESULT_MARKER } from './tool.ts';
import type { AutocannonInput, AutocannonOutput } from './autocannon.ts';

const input = JSON.parse(await text(process.stdin)) as AutocannonInput;
const all = input.requests.map((r) =>
  r.bodyBase64 === undefined ? { method: 'GET' as const, path: r.path, headers: r.headers } : { method: 'POST' as const, path: r.path, headers: r.headers, body: Buffer.from(r.bodyBase64, 'base64') },
);
const n = input.connections;
let nextClient = 0;
const result = await autocannon({
  url: input.url,
  connections: n,
  duration: input.durationS,
  timeout: 5,
  idReplacement: input.idReplacement ?? false,
  requests: all.slice(0, 1),
  setupClient(client) {
    const k = nextClient++ % n;
    const share = all.filter((_, i) => i % n === k);
    client.setRequests(share.length > 0 ? share : all);
  },
});
const output: AutocannonOutput = {
  total: result.requests.total,
  '2xx': result['2xx'],
  '3xx': result['3xx'],
  errors: result.errors,
  timeouts: result.timeouts,
  durationS: result.duration,
  p50: result.latency.p50,
  p99: result.latency.p99,
};
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(output)}\n`);
