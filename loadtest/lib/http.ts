/**
 * The harness's HTTP client for the cluster's APIs (admin, readiness, /metrics): one request per
 * fresh connection (`Connection: close`), so no pooled socket keeps an edge or ClickHouse waiting
 * at shutdown. The load itself goes through lib/rawHttp.ts and the load tools.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** An HTTP answer, body as text. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** Sends one request; rejects on network errors and after `timeoutMs` without an answer. */
export function httpCall(
  method: string,
  url: URL | string,
  opts: { headers?: Record<string, string>; body?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const target = new URL(url);
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(target, { method, agent: false, headers: opts.headers, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** True when a GET of `url` answers 200; never throws. */
export async function httpOk(url: URL | string, timeoutMs = 2000): Promise<boolean> {
  try {
    return (await httpCall('GET', url, { timeoutMs })).status === 200;
  } catch {
    return false;
  }
}
