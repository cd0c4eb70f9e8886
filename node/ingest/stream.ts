/**
 * The binary event stream (docs/protocol.md, “4. WebSocket stream”):
 * `GET /v1/stream?brand={brandId}` upgraded to a WebSocket, authenticated with
 * `Authorization: Bearer <postbackSecret>` (or `token=`). Each client frame is binary msgpack
 * `{seq, events}`; the server answers each with `{ack: seq, accepted, duplicates, rejected}` once
 * the frame's accepted events are durable — in the order the frames came, even though frames are
 * ingested concurrently. A malformed frame gets `{error: {code, message}}` (with `seq` when it
 * could be read), in its turn, and the connection stays open.
 *
 * Flow control: uWebSockets.js cannot stop reading one WebSocket, so the protocol has a window —
 * a client keeps at most {@link WINDOW} frames unacknowledged. At most WINDOW frames are ingested
 * at once; frames beyond it wait their turn (nothing is dropped) up to {@link HARD_LIMIT} frames or
 * {@link HARD_LIMIT_BYTES}; a client past that is closed with 1008 and resends its unacknowledged
 * frames on reconnect (event ids make that safe). An ack that cannot be sent because the client
 * stopped reading (16 MiB of unread acks) closes the connection too, rather than being lost.
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { encode } from '@msgpack/msgpack';
import type { Logger } from 'pino';
import { AffstreamError } from '../../schema/errors.ts';
import { secretEquals } from '../auth.ts';
import { statusLine } from '../http.ts';
import type { Ingest } from './ingest.ts';
import { decodeMsgpack, eventsOf } from './webhook.ts';

/** Frames a client may have unacknowledged (documented in docs/protocol.md). */
export const WINDOW = 64;
/** Frames queued per connection before it is closed. */
export const HARD_LIMIT = 1024;
/** Bytes of frames queued per connection before it is closed. */
export const HARD_LIMIT_BYTES = 64 * 1024 * 1024;

interface Pending {
  reply: Uint8Array | undefined;
  /** Starts the frame's ingestion (frames beyond the window wait for a free slot). */
  start?: () => void;
  bytes: number;
}

interface Connection {
  brandId: string;
  queue: Pending[];
  /** Frames being ingested now. */
  running: number;
  /** Bytes of the frames queued and not yet answered. */
  bytes: number;
  closed: boolean;
}

function errorFrame(code: string, message: string, seq?: number): Uint8Array {
  return encode(seq === undefined ? { error: { code, message } } : { seq, error: { code, message } });
}

/** Register `/v1/stream` on `app`. */
export function streamRoute(app: TemplatedApp, ingest: Ingest, limits: { maxBytes: number; maxEvents: number }, log: Logger): void {
  const flush = (ws: WebSocket<Connection>, c: Connection) => {
    let dropped = false;
    ws.cork(() => {
      while (!dropped && c.queue.length > 0 && c.queue[0]?.reply) {
        const done = c.queue.shift() as Pending;
        c.bytes -= done.bytes;
        // 2 = dropped by backpressure: the client is not reading its acks.
        dropped = ws.send(done.reply as Uint8Array, true) === 2;
      }
    });
    if (dropped) {
      c.closed = true;
      ws.end(1008, 'acknowledgements are not being read');
      return;
    }
    // Start waiting frames as window slots free up, oldest first.
    for (const p of c.queue) {
      if (c.running >= WINDOW) break;
      if (p.start) {
        const start = p.start;
        delete p.start;
        start();
      }
    }
  };

  app.ws<Connection>('/v1/stream', {
    // uWS closes a connection on a frame over this: leave room so that merely oversize frames
    // (limit < size ≤ 2×limit) get an error frame instead.
    maxPayloadLength: limits.maxBytes * 2,
    maxBackpressure: 16 * 1024 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const query = new URLSearchParams(req.getQuery() ?? '');
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.getHeader('authorization'))?.[1];
      const token = bearer ?? query.get('token') ?? '';
      const brandId = query.get('brand') ?? '';
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const brand = ingest.brandOrUndefined(brandId);
      const refuse = (status: number, code: string, message: string): void => {
        res.cork(() => res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json').end(JSON.stringify({ ok: false, error: { code, message } })));
      };
      if (!brand) return refuse(404, 'unknown_brand', `no brand ${brandId}`);
      if (!brand.postbackSecret || !token || !secretEquals(token, brand.postbackSecret)) return refuse(401, 'unauthorized', 'Authorization: Bearer <postbackSecret> (or token=) is required');
      res.upgrade<Connection>({ brandId, queue: [], running: 0, bytes: 0, closed: false }, key, protocol, extensions, context);
    },
    message: (ws, message, isBinary) => {
      const c = ws.getUserData();
      if (c.queue.length >= HARD_LIMIT || c.bytes + message.byteLength > HARD_LIMIT_BYTES) {
        c.closed = true;
        ws.end(1008, `more than ${HARD_LIMIT} frames or ${HARD_LIMIT_BYTES} bytes unacknowledged`);
        return;
      }
      // Every frame gets its answer in its turn, errors included.
      const answerNow = (reply: Uint8Array) => {
        c.queue.push({ reply, bytes: 0 });
        flush(ws, c);
      };
      if (!isBinary) return answerNow(errorFrame('invalid_frame', 'frames are binary msgpack {seq, events}'));
      if (message.byteLength > limits.maxBytes) return answerNow(errorFrame('body_too_large', `a frame is at most ${limits.maxBytes} bytes`));
      let seq: number | undefined;
      let events: unknown[];
      try {
        // The ArrayBuffer is only valid during this call: decoded right here, into values that
        // keep no reference to it (node/ingest/msgpackDecode.ts copies bytes), so not copied first.
        const frame = decodeMsgpack(new Uint8Array(message)) as { seq?: unknown } | null;
        if (typeof frame?.seq !== 'number' || !Number.isInteger(frame.seq) || frame.seq < 0) throw new AffstreamError('invalid_field', 'seq must be an unsigned integer');
        seq = frame.seq;
        events = eventsOf(frame, limits.maxEvents);
      } catch (err) {
        const e = err instanceof AffstreamError ? err : new AffstreamError('invalid_msgpack', 'frame could not be read');
        return answerNow(errorFrame(e.code, e.message, seq));
      }
      const slot: Pending = { reply: undefined, bytes: message.byteLength };
      c.bytes += slot.bytes;
      c.queue.push(slot);
      slot.start = () => {
        c.running++;
        const brand = ingest.brandOrUndefined(c.brandId);
        const work = brand ? ingest.ingest(brand, events, 'stream') : Promise.reject(new AffstreamError('unknown_brand', `brand ${c.brandId} was deleted`));
        work
          .then(
            (r) => encode({ ack: seq, accepted: r.accepted, duplicates: r.duplicates, rejected: r.rejected }),
            (err) => {
              const e = err instanceof AffstreamError ? err : new AffstreamError('internal', 'internal error');
              if (!(err instanceof AffstreamError)) log.error({ err }, 'stream frame failed');
              return errorFrame(e.code, e.message, seq);
            },
          )
          .then((reply) => {
            c.running--;
            slot.reply = reply;
            if (!c.closed) flush(ws, c);
          });
      };
      flush(ws, c);
    },
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  });
}
