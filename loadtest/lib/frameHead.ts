/**
 * The head of a `/v1/stream` frame — its `seq` and how many events it holds — read from the
 * msgpack bytes without decoding a single event. The floor of the `ingest` benchmark
 * (bare/uwsIngest.ts) answers every frame with the ack the edge would send, which reports the
 * frame's events as accepted; reading that count must cost per frame, not per event, or the floor
 * would measure a decoder.
 *
 * With the keys in the order the benchmark's client writes them (`seq`, then `events`) only the
 * first few bytes are read. Other keys, or `events` before `seq`, are stepped over value by value
 * (still without building any value). Whatever follows the `events` array header is not looked
 * at: a frame cut short there still yields a head.
 */

/** A frame's `seq` and the length of its `events` array. */
export interface FrameHead {
  seq: number;
  events: number;
}

/** A frame whose head could not be read; the bare server answers it with an error frame, as the edge would. */
export class FrameHeadError extends Error {
  override readonly name = 'FrameHeadError';
}

const SEQ = [0x73, 0x65, 0x71]; // "seq"
const EVENTS = [0x65, 0x76, 0x65, 0x6e, 0x74, 0x73]; // "events"

class Cursor {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Advances over `n` bytes and returns where they start. */
  take(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw new FrameHeadError('frame ends inside a value');
    this.pos = at + n;
    return at;
  }

  byte(): number {
    return this.buf[this.take(1)] as number;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }

  u16(): number {
    return this.view.getUint16(this.take(2));
  }

  u32(): number {
    return this.view.getUint32(this.take(4));
  }

  /** Whether the `n` bytes at `at` are `name`. */
  equals(at: number, n: number, name: readonly number[]): boolean {
    if (n !== name.length) return false;
    for (let i = 0; i < n; i++) if (this.buf[at + i] !== name[i]) return false;
    return true;
  }

  /** Bytes left after the cursor. */
  get left(): number {
    return this.buf.length - this.pos;
  }
}

/** Length of a map header at the cursor; throws when the value is not a map. */
function mapLength(c: Cursor): number {
  const b = c.byte();
  if (b >= 0x80 && b <= 0x8f) return b & 0x0f;
  if (b === 0xde) return c.u16();
  if (b === 0xdf) return c.u32();
  throw new FrameHeadError('a frame is a msgpack map {seq, events}');
}

/** Length of a string header at the cursor, or -1 (and the cursor back where it was) when the value is not a string. */
function stringLength(c: Cursor): number {
  const start = c.pos;
  const b = c.byte();
  if (b >= 0xa0 && b <= 0xbf) return b & 0x1f;
  if (b === 0xd9) return c.u8();
  if (b === 0xda) return c.u16();
  if (b === 0xdb) return c.u32();
  c.pos = start;
  return -1;
}

/** An unsigned integer at the cursor. */
function unsigned(c: Cursor): number {
  const b = c.byte();
  if (b < 0x80) return b;
  if (b === 0xcc) return c.u8();
  if (b === 0xcd) return c.u16();
  if (b === 0xce) return c.u32();
  if (b === 0xcf) {
    const value = c.u32() * 0x1_0000_0000 + c.u32();
    if (!Number.isSafeInteger(value)) throw new FrameHeadError('seq must be an unsigned integer below 2^53');
    return value;
  }
  throw new FrameHeadError('seq must be an unsigned integer');
}

/** Length of an array header at the cursor; throws when the value is not an array. */
function arrayLength(c: Cursor): number {
  const b = c.byte();
  if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
  if (b === 0xdc) return c.u16();
  if (b === 0xdd) return c.u32();
  throw new FrameHeadError('events must be an array');
}

/** Steps over `count` whole values at the cursor, nested ones included, building none of them. */
function skip(c: Cursor, count: number): void {
  let remaining = count;
  while (remaining > 0) {
    // Every value takes a byte at least: a count beyond the input is a lie, not a loop to run.
    if (remaining > c.left) throw new FrameHeadError('frame ends inside a value');
    remaining--;
    const b = c.byte();
    if (b < 0x80 || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    if (b <= 0x8f) remaining += 2 * (b & 0x0f);
    else if (b <= 0x9f) remaining += b & 0x0f;
    else if (b <= 0xbf) c.take(b & 0x1f);
    else {
      switch (b) {
        case 0xc4: case 0xd9: c.take(c.u8()); break;
        case 0xc5: case 0xda: c.take(c.u16()); break;
        case 0xc6: case 0xdb: c.take(c.u32()); break;
        case 0xc7: c.take(c.u8() + 1); break;
        case 0xc8: c.take(c.u16() + 1); break;
        case 0xc9: c.take(c.u32() + 1); break;
        case 0xcc: case 0xd0: c.take(1); break;
        case 0xcd: case 0xd1: c.take(2); break;
        case 0xca: case 0xce: case 0xd2: c.take(4); break;
        case 0xcb: case 0xcf: case 0xd3: c.take(8); break;
        case 0xd4: c.take(2); break;
        case 0xd5: c.take(3); break;
        case 0xd6: c.take(5); break;
        case 0xd7: c.take(9); break;
        case 0xd8: c.take(17); break;
        case 0xdc: remaining += c.u16(); break;
        case 0xdd: remaining += c.u32(); break;
        case 0xde: remaining += 2 * c.u16(); break;
        case 0xdf: remaining += 2 * c.u32(); break;
        default: throw new FrameHeadError(`0x${b.toString(16)} is not a msgpack type`);
      }
    }
  }
}

/** `seq` and the number of events of the msgpack frame `bytes`; throws {@link FrameHeadError}. */
export function readFrameHead(bytes: Uint8Array): FrameHead {
  const c = new Cursor(bytes);
  let seq: number | undefined;
  let events: number | undefined;
  for (let keys = mapLength(c); keys > 0; keys--) {
    const n = stringLength(c);
    if (n < 0) {
      // A key that is not a string, and its value.
      skip(c, 2);
      continue;
    }
    const key = c.take(n);
    if (c.equals(key, n, SEQ)) {
      seq = unsigned(c);
    } else if (c.equals(key, n, EVENTS)) {
      events = arrayLength(c);
      if (seq === undefined) skip(c, events);
    } else {
      skip(c, 1);
    }
    if (seq !== undefined && events !== undefined) return { seq, events };
  }
  throw new FrameHeadError(seq === undefined ? 'seq must be an unsigned integer' : 'events must be an array');
}
