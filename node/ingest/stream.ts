/**
 * The binary event stream (SPEC §5.3): `GET /v1/stream?brand={brandId}` upgraded to a WebSocket,
 * authenticated with `Authorization: Bearer <postbackSecret>` (or `token=`). Each client frame is
 * binary msgpack `{seq, events}`; the server answers each with `{ack: seq, accepted, duplicates,
 * rejected}` once the frame's accepted events are durable — in the order the frames came, even
 * though frames are ingested concurrently. A malformed frame gets `{error: {code, message}}` (with
 * `seq` when it could be read), in its turn, and the connection stays open.
 *
 * Flow control: uWebSockets.js cannot stop reading one WebSocket, so the protocol has a window —
 * a client keeps at most {@link WINDOW} frames unacknowledged. Frames beyond it still wait their
 * turn (nothing is dropped) up to {@link HARD_LIMIT}; a client past that is closed with 1008 and
 * resends its unacknowledged frames on reconnect (event ids make that safe).
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

interface Pending {
  reply: Uint8Array | undefined;
}

interface Connection {
  brandId: string;
  queue: Pending[];
  closed: boolean;
}

function errorFrame(code: string, message: string, seq?: number): Uint8Array {
  return encode(seq === undefined ? { error: { code, message } } : { seq, error: { code, message } });
}

/** Register `/v1/stream` on `app`. */
export function streamRoute(app: TemplatedApp, ingest: Ingest, limits: { maxBytes: number; maxEvents: number }, log: Logger): void {
  const flush = (ws: WebSocket<Connection>, c: Connection) => {
    ws.cork(() => {
      while (c.queue.length > 0 && c.queue[0]?.reply) ws.send((c.queue.shift() as Pending).reply as Uint8Array, true);
    });
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
      res.upgrade<Connection>({ brandId, queue: [], closed: false }, key, protocol, extensions, context);
    },
    message: (ws, message, isBinary) => {
      const c = ws.getUserData();
      if (c.queue.length >= HARD_LIMIT) {
        ws.end(1008, `more than ${HARD_LIMIT} unacknowledged frames`);
        return;
      }
      // Every frame gets its answer in its turn, errors included.
      const answerNow = (reply: Uint8Array) => {
        c.queue.push({ reply });
        flush(ws, c);
      };
      if (!isBinary) return answerNow(errorFrame('invalid_frame', 'frames are binary msgpack {seq, events}'));
      if (message.byteLength > limits.maxBytes) return answerNow(errorFrame('body_too_large', `a frame is at most ${limits.maxBytes} bytes`));
      let seq: number | undefined;
      let events: unknown[];
      try {
        // The ArrayBuffer is only valid during this call.
        const frame = decodeMsgpack(new Uint8Array(message.slice(0))) as { seq?: unknown } | null;
        if (typeof frame?.seq !== 'number' || !Number.isInteger(frame.seq) || frame.seq < 0) throw new AffstreamError('invalid_field', 'seq must be an unsigned integer');
        seq = frame.seq;
        events = eventsOf(frame, limits.maxEvents);
      } catch (err) {
        const e = err instanceof AffstreamError ? err : new AffstreamError('invalid_msgpack', 'frame could not be read');
        return answerNow(errorFrame(e.code, e.message, seq));
      }
      const brand = ingest.brandOrUndefined(c.brandId);
      const slot: Pending = { reply: undefined };
      c.queue.push(slot);
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
          slot.reply = reply;
          if (!c.closed) flush(ws, c);
        });
    },
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  });
}
