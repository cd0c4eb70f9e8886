/**
 * Sends one postback: a GET with undici through one keep-alive agent whose connect, header and body
 * timeouts are `postbacks.requestTimeoutMs`, and an overall deadline of the same length. The
 * answer's body is always read (up to a limit) or dropped, so the socket goes back to the pool.
 * Redirects are not followed: a 3xx is a failed attempt, like any answer that is not a 2xx.
 */
import { Agent, request } from 'undici';
import type { PostbacksConfig } from '../../schema/config.ts';

/** What became of one request. */
export interface SendOutcome {
  ok: boolean;
  /** 0 when no answer came. */
  statusCode: number;
  latencyMs: number;
  /** '' on success. */
  error: string;
}

/** Bytes of an answer read before the connection is dropped instead. */
const BODY_LIMIT = 64 * 1024;
/** Idle sockets to an endpoint are kept this long: postbacks to one affiliate come in bursts. */
const KEEP_ALIVE_MS = 30_000;
const USER_AGENT = 'affstream-postback/1';

const TIMEOUTS: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};
const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'DNS: host not found',
  EAI_AGAIN: 'DNS: lookup failed (temporary)',
  UND_ERR_SOCKET: 'connection closed by the endpoint',
  CERT_HAS_EXPIRED: 'TLS: certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: self-signed certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: certificate does not match the host',
};

/** The error text of a request that got no answer: stable words first (`timeout: …`, `connection refused`), then the code. */
export function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: unknown };
  const code = e.code ?? (e.cause as { code?: string } | undefined)?.code ?? '';
  const phase = TIMEOUTS[code];
  if (phase) return `timeout: ${phase} within ${timeoutMs} ms (${code})`;
  if (e.name === 'TimeoutError' || code === 'UND_ERR_ABORTED' || e.name === 'AbortError') return `timeout: no complete answer within ${timeoutMs} ms`;
  const what = NETWORK[code];
  if (what) return `${what} (${code})`;
  return code ? `${code}: ${e.message ?? ''}`.trim() : (e.message ?? String(err));
}

/** True for an absolute http(s) URL. */
function isHttpUrl(url: string): boolean {
  try {
    return /^https?:$/.test(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** The HTTP client of one dispatcher. */
export class PostbackSender {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(cfg: Pick<PostbacksConfig, 'requestTimeoutMs' | 'endpointConcurrency'>) {
    this.timeoutMs = cfg.requestTimeoutMs;
    this.agent = new Agent({
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      connect: { timeout: cfg.requestTimeoutMs },
      headersTimeout: cfg.requestTimeoutMs,
      bodyTimeout: cfg.requestTimeoutMs,
      // The dispatcher sends at most this many at once to one endpoint; more sockets would only idle.
      connections: cfg.endpointConcurrency,
    });
  }

  /** GET `url`; never throws. */
  async send(url: string): Promise<SendOutcome> {
    const t0 = performance.now();
    const took = () => Math.round(performance.now() - t0);
    if (!isHttpUrl(url)) return { ok: false, statusCode: 0, latencyMs: 0, error: 'invalid URL: the rendered postbackUrl is not an absolute http(s) URL' };
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.agent, signal, headers: { 'user-agent': USER_AGENT, accept: '*/*' } });
      await res.body.dump({ limit: BODY_LIMIT, signal });
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return { ok, statusCode: res.statusCode, latencyMs: took(), error: ok ? '' : `HTTP ${res.statusCode}` };
    } catch (err) {
      return { ok: false, statusCode: 0, latencyMs: took(), error: describeFailure(err, this.timeoutMs) };
    }
  }

  /** Close the pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}
