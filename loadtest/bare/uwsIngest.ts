/**
 * The floor of the ingest benchmark: a bare uWebSockets.js server taking `/v1/stream` frames and
 * making each one durable in JetStream as ONE message, then answering it with the ack the edge
 * would send — no event decoded, validated, deduplicated, split by partition or re-encoded. What
 * it reaches is what one WebSocket and JetStream allow on this machine; whatever the edge costs on
 * top is the price of affstream's own work.
 *
 * Run as its own process (`node --import tsx loadtest/bare/uwsIngest.ts <port> [--decode]`) so
 * its CPU time can be read from /proc like the edge's, with the benchmark namespace's environment:
 * it publishes to the namespace's floor stream (lib/namespace.ts), which the harness creates.
 * `--decode` also decodes every frame with @msgpack/msgpack, the reference decoder the edge's own
 * (faster, internal) one matches value for value: an upper bound of the decode's share of the
 * edge's cost, alone. `/readyz` answers 200 once NATS is
 * connected, so the harness waits on it the same way it waits on an edge.
 *
 * It speaks just enough of the protocol (docs/protocol.md) for the benchmark's client: no
 * authentication, any brand; each binary frame's `seq` and event count come from its msgpack head
 * (lib/frames.ts: the client's frames keep them at fixed offsets), and once JetStream acknowledged the frame it is answered `{ack: seq,
 * accepted: <its events>, duplicates: 0, rejected: []}` — in the order the frames came, however
 * many the client keeps in flight, as the edge does.
 */
import { jetstream } from '@nats-io/jetstream';
import { decode as decodeMsgpack, encode } from '@msgpack/msgpack';
import { App, type WebSocket } from 'uWebSockets.js';
import { bootConfig, connectNats } from '../../schema/mod.ts';
import { frameHead } from '../lib/frames.ts';
import { floorStream } from '../lib/namespace.ts';
import { portArgument, serveBare } from './serve.ts';

const port = portArgument('uwsIngest.ts <port> [--decode]');
const decode = process.argv.slice(3).includes('--decode');

/** The edge's defaults: a frame up to 1 MiB (uWS closes the connection beyond its payload limit). */
const MAX_FRAME_BYTES = 1024 * 1024;

/** A frame's place in the order of answers. */
interface Slot {
  /** Its answer; undefined until the frame is durable (or failed). */
  reply: Uint8Array | undefined;
}

interface Connection {
  /** Frames not answered yet, oldest first. */
  queue: Slot[];
  closed: boolean;
}

// The same connection and publish settings as the edge's, so JetStream's share costs the same.
const cfg = await bootConfig();
const nc = await connectNats(cfg, `floor-${process.pid}`);
const js = jetstream(nc, { timeout: cfg.edge.publishTimeoutMs });
const { subject } = floorStream(cfg);
// Every message has a Nats-Msg-Id, as the edge's: the dedupe index is part of what durability costs.
const instance = `floor-${process.pid}`;
let published = 0;

const errorFrame = (code: string, message: string, seq?: number): Uint8Array => encode(seq === undefined ? { error: { code, message } } : { seq, error: { code, message } });

/** Sends the answers that are ready, in order; a client not reading its acks is closed, as the edge does. */
const flush = (ws: WebSocket<Connection>, c: Connection): void => {
  let dropped = false;
  ws.cork(() => {
    while (!dropped && c.queue[0]?.reply !== undefined) {
      dropped = ws.send((c.queue.shift() as Slot).reply as Uint8Array, true) === 2;
    }
  });
  if (dropped) {
    c.closed = true;
    ws.end(1008, 'acknowledgements are not being read');
  }
};

const app = App()
  .ws<Connection>('/v1/stream', {
    maxPayloadLength: MAX_FRAME_BYTES,
    maxBackpressure: 16 * 1024 * 1024,
    idleTimeout: 120,
    upgrade: (res, req, context) => {
      res.upgrade<Connection>(
        { queue: [], closed: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, message, isBinary) => {
      const c = ws.getUserData();
      const slot: Slot = { reply: undefined };
      c.queue.push(slot);
      if (!isBinary) {
        slot.reply = errorFrame('invalid_frame', 'frames are binary msgpack {seq, events}');
        return flush(ws, c);
      }
      let seq: number | undefined;
      try {
        const head = frameHead(new Uint8Array(message));
        if (!head) throw new Error('not a frame of the benchmark client: {seq (uint32), events} expected');
        seq = head.seq;
        if (decode) {
          // The result is checked, so the decode is work the process cannot skip.
          const frame = decodeMsgpack(new Uint8Array(message)) as { events?: unknown[] } | null;
          if (frame?.events?.length !== head.events) throw new Error('the decoder and the frame head disagree on the events');
        }
        // A copy: the ArrayBuffer is only valid during this handler, and nats.js writes the
        // payload to its socket later, from its outbound buffer.
        const payload = new Uint8Array(message.slice(0));
        js.publish(subject, payload, { msgID: `${instance}.${++published}` })
          .then(
            () => encode({ ack: head.seq, accepted: head.events, duplicates: 0, rejected: [] }),
            () => errorFrame('unavailable', 'the frame could not be made durable; retry', head.seq),
          )
          .then((reply) => {
            slot.reply = reply;
            if (!c.closed) flush(ws, c);
          });
      } catch (err) {
        slot.reply = errorFrame('invalid_msgpack', err instanceof Error ? err.message : String(err), seq);
        flush(ws, c);
      }
    },
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  });

serveBare(app, port);
