/**
 * The frames of the `ingest` benchmark: msgpack `{seq, events}` frames of the WebSocket stream
 * (docs/protocol.md §4) holding a realistic mix of player events, every event id unique.
 *
 * Encoding 300k fresh event maps per second would cost the client as much CPU as the edge spends
 * ingesting them, on a machine with two cores to share. So one frame is encoded once, as a
 * template, and each frame sent is a copy of it with a few fixed-width digit fields overwritten
 * in place: the frame number inside every `event_id` and `player_id`, and `ts`. The edge still
 * decodes, validates and publishes every event of every frame; only the client's work shrinks.
 *
 * Each frame has its own players (the frame number is part of the player id), and the first
 * event of each player in the frame is its registration, so no event waits in a player actor for
 * a registration that never comes: every accepted event reaches ClickHouse.
 */
import { encode } from '@msgpack/msgpack';
import { parseMoney, toDecimalText } from '../../schema/mod.ts';
import { prng } from './traffic.ts';

/** Digits of the frame number in ids: 10^9 frames is far beyond any bounded run. */
const FRAME_DIGITS = 9;
/** Digits of `ts`, ms since the epoch (until the year 2286). */
const TS_DIGITS = 13;
/** `seq` placeholder: the largest uint32, so msgpack encodes it as uint32 (0xce + 4 bytes), a fixed width. */
const SEQ_PLACEHOLDER = 0xffff_ffff;
/** Offset of the uint32 `seq` in `{seq, events}`: map header (1), "seq" (4), 0xce (1). */
const SEQ_OFFSET = 6;
/** The bytes between `seq` and the `events` array header: the key "events" (fixstr). */
const EVENTS_KEY = Uint8Array.from([0xa6, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x73]);
/** Offset of the `events` array header. */
const EVENTS_OFFSET = SEQ_OFFSET + 4 + EVENTS_KEY.length;

/** Share of events that register a new player; the rest are events of this frame's players. */
const REGISTRATION_SHARE = 0.05;
/** Types of the other events and their weights: a casino's stream is mostly game rounds. */
const OTHER_TYPES: ReadonlyArray<[type: 'bet' | 'deposit' | 'withdrawal' | 'kyc' | 'bonus', weight: number]> = [
  ['bet', 0.86],
  ['deposit', 0.08],
  ['withdrawal', 0.02],
  ['kyc', 0.02],
  ['bonus', 0.02],
];
const GAMES = ['book-of-dead', 'starburst', 'lightning-roulette', 'blackjack-classic', 'sweet-bonanza', 'football-1x2'];
const CATEGORY: Record<string, string> = {
  'book-of-dead': 'slots',
  starburst: 'slots',
  'lightning-roulette': 'live',
  'blackjack-classic': 'table',
  'sweet-bonanza': 'slots',
  'football-1x2': 'sports',
};
const COUNTRIES = ['DE', 'MT', 'FI', 'BR', 'CA', 'NZ'];

/** What one frame holds: the harness multiplies it by the frames acknowledged to predict ClickHouse. */
export interface FrameSummary {
  events: number;
  /** Encoded size of one frame, bytes. */
  bytes: number;
  /** Players registered per frame (every player of the frame). */
  players: number;
  byType: Record<string, number>;
  /** Exact decimal sums per frame (4 places): deposit amounts, bet stakes, bet wins. */
  depositAmount: string;
  betStake: string;
  betWin: string;
}

/** A frame template and the offsets to patch. */
export interface FrameTemplate {
  bytes: Uint8Array;
  /** Where each frame-number field starts. */
  frameOffsets: Int32Array;
  /** Where each `ts` field starts. */
  tsOffsets: Int32Array;
  summary: FrameSummary;
}

/** Money text with 2 decimals from a number of cents. */
const cents = (n: number): string => `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`;

/**
 * Builds the template of frames of `events` events. `tag` is part of every id, so that two runs
 * against the same namespace could never collide; the same seed gives the same frame.
 */
export function frameTemplate(events: number, tag: string, seed = 7): FrameTemplate {
  const rand = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const frameField = '0'.repeat(FRAME_DIGITS);
  const tsField = '0'.repeat(TS_DIGITS);
  const players: string[] = [];
  const list: Record<string, unknown>[] = [];
  const byType: Record<string, number> = {};
  let deposits = 0n;
  let stakes = 0n;
  let wins = 0n;
  for (let i = 0; i < events; i++) {
    // Keys in this order: the offsets are found by searching each event's fields in turn.
    const eventId = `${tag}-${frameField}-e${i}`;
    let type: string;
    let player: string;
    const rest: Record<string, unknown> = {};
    if (players.length === 0 || rand() < REGISTRATION_SHARE) {
      type = 'registration';
      player = `${tag}-${frameField}-p${players.length}`;
      players.push(player);
      rest.country = pick(COUNTRIES);
      rest.ip = `10.${players.length % 250}.${Math.floor(rand() * 250)}.${1 + Math.floor(rand() * 250)}`;
    } else {
      player = pick(players);
      let r = rand();
      type = (OTHER_TYPES.find(([, w]) => (r -= w) < 0) ?? OTHER_TYPES[0])?.[0] as string;
      if (type === 'bet') {
        const game = pick(GAMES);
        const stake = cents(20 + Math.floor(rand() * 4980));
        // Most rounds lose; some win a multiple of the stake.
        const win = rand() < 0.6 ? '0' : cents(Math.floor(Number(stake) * 100 * rand() * 3));
        Object.assign(rest, { stake, win, currency: 'EUR', game, category: CATEGORY[game] });
        stakes += parseMoney(stake) as bigint;
        wins += parseMoney(win) as bigint;
      } else if (type === 'deposit' || type === 'withdrawal') {
        const amount = cents(1000 + Math.floor(rand() * 49_000));
        Object.assign(rest, { amount, currency: 'EUR' });
        if (type === 'deposit') deposits += parseMoney(amount) as bigint;
      } else if (type === 'kyc') {
        rest.status = 'approved';
      } else {
        Object.assign(rest, { action: 'granted', amount: cents(500 + Math.floor(rand() * 9500)), currency: 'EUR', bonus_id: `welcome-${Math.floor(rand() * 3)}` });
      }
    }
    byType[type] = (byType[type] ?? 0) + 1;
    list.push({ event_id: eventId, player_id: player, ts: tsField, type, ...rest });
  }
  const bytes = encode({ seq: SEQ_PLACEHOLDER, events: list });
  if (bytes[SEQ_OFFSET - 1] !== 0xce) throw new Error('frame template: seq is not a uint32 where expected');

  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frameOffsets: number[] = [];
  const tsOffsets: number[] = [];
  let from = 0;
  const find = (text: string): number => {
    const at = buf.indexOf(text, from, 'latin1');
    if (at < 0) throw new Error(`frame template: ${text} not found`);
    from = at + text.length;
    return at;
  };
  for (const e of list) {
    frameOffsets.push(find(e.event_id as string) + tag.length + 1);
    frameOffsets.push(find(e.player_id as string) + tag.length + 1);
    tsOffsets.push(find(tsField));
  }
  return {
    bytes,
    frameOffsets: Int32Array.from(frameOffsets),
    tsOffsets: Int32Array.from(tsOffsets),
    summary: {
      events,
      bytes: bytes.byteLength,
      players: players.length,
      byType,
      depositAmount: toDecimalText(deposits),
      betStake: toDecimalText(stakes),
      betWin: toDecimalText(wins),
    },
  };
}

/** Writes the ASCII digits of `n`, zero-padded to `width`, at each of `offsets` of `out`. */
function writeDigits(out: Uint8Array, offsets: Int32Array, n: number, width: number): void {
  const digits = new Uint8Array(width);
  for (let i = width - 1, v = n; i >= 0; i--, v = Math.floor(v / 10)) digits[i] = 0x30 + (v % 10);
  // Indexed byte stores: a Buffer#write of a string per field costs the client ~1 µs per event.
  for (let k = 0; k < offsets.length; k++) {
    const at = offsets[k] as number;
    for (let i = 0; i < width; i++) out[at + i] = digits[i] as number;
  }
}

/**
 * Frame number `frame` (its `seq` too) with event time `ts`: a fresh copy of the template,
 * patched. Fresh, because the WebSocket client may still be writing the previous one.
 */
export function makeFrame(t: FrameTemplate, frame: number, ts: number): Buffer {
  // Unpooled and uninitialized: every byte is overwritten at once, and Buffer.from() would pay
  // for a pooled allocation and a slower copy.
  const out = Buffer.allocUnsafeSlow(t.bytes.byteLength);
  out.set(t.bytes);
  out.writeUInt32BE(frame, SEQ_OFFSET);
  writeDigits(out, t.frameOffsets, frame, FRAME_DIGITS);
  writeDigits(out, t.tsOffsets, ts, TS_DIGITS);
  return out;
}

/** A frame's `seq` and the length of its `events` array. */
export interface FrameHead {
  seq: number;
  events: number;
}

/**
 * The head of a frame made by {@link makeFrame}, read at its fixed offsets: the ingest floor
 * (bare/uwsIngest.ts) answers frames with the ack the edge would send without decoding a single
 * event, so its cost is per frame. Null when the bytes are not laid out like this module's frames.
 */
export function frameHead(frame: Uint8Array): FrameHead | null {
  if (frame.length < EVENTS_OFFSET + 5 || frame[0] !== 0x82 || frame[SEQ_OFFSET - 1] !== 0xce) return null;
  for (let i = 0; i < EVENTS_KEY.length; i++) if (frame[SEQ_OFFSET + 4 + i] !== EVENTS_KEY[i]) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const seq = view.getUint32(SEQ_OFFSET);
  const h = frame[EVENTS_OFFSET] as number;
  if (h >= 0x90 && h <= 0x9f) return { seq, events: h & 0x0f };
  if (h === 0xdc) return { seq, events: view.getUint16(EVENTS_OFFSET + 1) };
  if (h === 0xdd) return { seq, events: view.getUint32(EVENTS_OFFSET + 1) };
  return null;
}
