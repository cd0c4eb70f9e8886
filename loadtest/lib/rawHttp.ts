/**
 * A minimal HTTP/1.1 client over kept-alive sockets, for the load driver: requests are written as
 * prebuilt text, answers parsed only for what the driver reads (status, `Location`, a
 * `Content-Length` body). node:http spends tens of microseconds per request on header objects and
 * events; on a 2-core machine that shares its cores with the cluster under test, the driver's cost
 * per request is taken from the cluster's. One request at a time per connection (no pipelining),
 * answers matched to requests in order.
 */
import { connect, type Socket } from 'node:net';

/** An answer: status, the `Location` header when present, the body as text. */
export interface RawResponse {
  status: number;
  location?: string;
  body: string;
}

interface Pending {
  head: string;
  body?: Buffer;
  resolve: (r: RawResponse) => void;
  reject: (e: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One kept-alive connection, reconnected when it breaks. */
class Connection {
  private socket: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private current: Pending | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
    private readonly next: () => Pending | undefined,
  ) {}

  get idle(): boolean {
    return this.current === undefined;
  }

  /** Takes the next queued request, when idle. */
  pump(): void {
    if (this.current) return;
    const p = this.next();
    if (!p) return;
    this.current = p;
    const s = this.open();
    const head = `${p.head}Host: ${this.host}:${this.port}\r\nContent-Length: ${p.body?.length ?? 0}\r\n\r\n`;
    if (p.body) s.write(Buffer.concat([Buffer.from(head, 'latin1'), p.body]));
    else s.write(head, 'latin1');
  }

  private open(): Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const s = connect({ host: this.host, port: this.port, noDelay: true });
    s.setTimeout(this.timeoutMs);
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('timeout', () => s.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
    s.on('error', (err) => this.fail(err));
    s.on('close', () => this.fail(new Error('connection closed by the server')));
    this.socket = s;
    this.buf = Buffer.alloc(0);
    return s;
  }

  private fail(err: Error): void {
    this.socket = undefined;
    this.buf = Buffer.alloc(0);
    const p = this.current;
    this.current = undefined;
    p?.reject(err);
    this.pump();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buf.length < end + 4 + length) return;
    const body = this.buf.toString('utf8', end + 4, end + 4 + length);
    this.buf = this.buf.subarray(end + 4 + length);
    const status = Number(head.slice(9, 12));
    const location = /\r\nlocation: *([^\r]*)/i.exec(head)?.[1];
    const p = this.current;
    this.current = undefined;
    p?.resolve(location === undefined ? { status, body } : { status, location, body });
    this.pump();
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** A pool of connections to one server; requests wait in one queue for a free connection. */
export class RawHttpPool {
  private readonly queue: Pending[] = [];
  private readonly connections: Connection[];

  constructor(baseUrl: string, connections: number, timeoutMs = 10_000) {
    const u = new URL(baseUrl);
    this.connections = Array.from({ length: connections }, () => new Connection(u.hostname, Number(u.port), timeoutMs, () => this.queue.shift()));
  }

  /** Requests not yet on a connection. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Sends `method path` with `headers` (each `Name: value`); `Host` and `Content-Length` are
   * added. Rejects on a socket error or a timeout; any status resolves.
   */
  request(method: string, path: string, headers: readonly string[], body?: Buffer): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const head = `${method} ${path} HTTP/1.1\r\n${headers.map((h) => `${h}\r\n`).join('')}`;
      this.queue.push(body === undefined ? { head, resolve, reject } : { head, body, resolve, reject });
      for (const c of this.connections) {
        if (this.queue.length === 0) break;
        if (c.idle) c.pump();
      }
    });
  }

  close(): void {
    for (const c of this.connections) c.close();
  }
}
