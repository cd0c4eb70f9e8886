/**
 * The one wrapper around uWebSockets.js handlers. uWS kills the process when an async handler
 * returns without answering or registering `onAborted`, and its request object dies when the
 * handler returns (docs/architecture.md, “Pitfalls”). So: every async route goes through
 * {@link route}, which reads what it needs from the request first, registers `onAborted` before any
 * await, answers inside `cork`, and turns any thrown error into a JSON error with a code.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { AffstreamError } from '../schema/errors.ts';

/** What a handler gets: the request, read up front. */
export interface Request {
  method: string;
  url: string;
  query: string;
  params: string[];
  headers: Record<string, string>;
  /** Peer address as text. */
  peer: string;
  /** The raw body (empty for GET/HEAD/DELETE). */
  body: Buffer;
}

/** What a handler returns. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 302: '302 Found', 400: '400 Bad Request',
  401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed',
  409: '409 Conflict', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 422: '422 Unprocessable Entity', 451: '451 Unavailable For Legal Reasons',
  500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

/** The status line for a code. */
export function statusLine(code: number): string {
  return STATUS_TEXT[code] ?? String(code);
}

/**
 * The IPv4 address in a binary peer address (`res.getRemoteAddress()`), also when IPv4-mapped
 * IPv6, as an unsigned 32-bit number; -1 for a real IPv6 peer.
 */
export function peerIpv4(b: Uint8Array): number {
  if (b.length === 4) return ((b[0] as number) * 0x100_0000 + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)));
  if (b.length === 16 && b[10] === 0xff && b[11] === 0xff && b.subarray(0, 10).every((x) => x === 0)) return peerIpv4(b.subarray(12));
  return -1;
}

/** An IPv4 address as dotted quad. */
export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** The text form of a peer that is not IPv4: only real IPv6 peers pay for uWS's text form. */
export function peerIpv6(res: HttpResponse): string {
  return Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
}

/** The peer address of a response, IPv4 (also IPv4-mapped IPv6) as dotted quad. */
export function peerAddress(res: HttpResponse): string {
  const v4 = peerIpv4(new Uint8Array(res.getRemoteAddress()));
  return v4 >= 0 ? formatIpv4(v4) : peerIpv6(res);
}

/** A JSON reply. */
export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The JSON error body `{ok: false, error: {code, message}}` of every endpoint (docs/api.md). */
export function errorReply(err: unknown, log: (err: unknown) => void): Reply {
  if (err instanceof AffstreamError) return json(err.status, { ok: false, error: { code: err.code, message: err.message } });
  log(err);
  return json(500, { ok: false, error: { code: 'internal', message: 'internal error' } });
}

/** Write a reply (inside cork). */
export function send(res: HttpResponse, reply: Reply, head = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(reply.status ?? 200));
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.writeHeader(k, v);
    if (head) res.endWithoutBody();
    else res.end(reply.body ?? '');
  });
}

/**
 * Adapt an async handler to uWS. `params` is the number of `:name` segments of the route (uWS
 * cannot tell). `maxBody` bounds what is buffered: a larger body is answered with 413
 * `body_too_large` without reading the rest.
 */
export function route(
  handler: (req: Request) => Promise<Reply> | Reply,
  opts: { maxBody: number; log: (err: unknown) => void; params?: number },
): (res: HttpResponse, req: HttpRequest) => void {
  return (res, uReq) => {
    const method = uReq.getCaseSensitiveMethod().toUpperCase();
    const headers: Record<string, string> = {};
    uReq.forEach((k, v) => {
      headers[k] = v;
    });
    const params: string[] = [];
    for (let i = 0; i < (opts.params ?? 0); i++) params.push(decodeURIComponentSafe(uReq.getParameter(i) ?? ''));
    const base = { method, url: uReq.getUrl(), query: uReq.getQuery() ?? '', params, headers, peer: peerAddress(res) };
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const finish = (reply: Reply) => {
      if (!aborted) send(res, reply, method === 'HEAD');
      aborted = true;
    };
    const run = (body: Buffer) => {
      Promise.resolve()
        .then(() => handler({ ...base, body }))
        .then(finish, (err) => finish(errorReply(err, opts.log)));
    };
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
      run(Buffer.alloc(0));
      return;
    }
    const declared = Number(headers['content-length'] ?? '0');
    if (declared > opts.maxBody) {
      finish(errorReply(new AffstreamError('body_too_large', `body exceeds ${opts.maxBody} bytes`), opts.log));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (aborted) return;
      size += chunk.byteLength;
      if (size > opts.maxBody) {
        finish(errorReply(new AffstreamError('body_too_large', `body exceeds ${opts.maxBody} bytes`), opts.log));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) run(Buffer.concat(chunks));
    });
  };
}

/** decodeURIComponent that leaves malformed escapes as they are instead of throwing. */
export function decodeURIComponentSafe(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
