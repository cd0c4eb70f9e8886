/**
 * Hand-written msgpack output for the partition messages (schema/wire.ts, schema/eventWire.ts),
 * and the per-batch string table their later layouts share. Written by hand rather than with
 * @msgpack/msgpack's Encoder, whose generic type dispatch, per-value bounds checks and UTF-8 path
 * cost 3–4 µs per click against under 1 µs for this (decoding is left to it).
 */

/** A growable msgpack output, for the handful of types partition messages hold. */
export class MsgpackOutput {
  buf = Buffer.allocUnsafe(4096);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  arrayHeader(n: number): void {
    this.reserve(5);
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) {
      this.buf[this.pos] = 0xdc;
      this.view.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xdd;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }

  number(v: number): void {
    this.reserve(9);
    const b = this.buf;
    if (v >>> 0 === v) {
      if (v < 0x80) b[this.pos++] = v;
      else if (v < 0x100) {
        b[this.pos++] = 0xcc;
        b[this.pos++] = v;
      } else if (v < 0x10000) {
        b[this.pos] = 0xcd;
        this.view.setUint16(this.pos + 1, v);
        this.pos += 3;
      } else {
        b[this.pos] = 0xce;
        this.view.setUint32(this.pos + 1, v);
        this.pos += 5;
      }
    } else if (Number.isSafeInteger(v) && v > 0) {
      b[this.pos] = 0xcf;
      this.view.setUint32(this.pos + 1, Math.floor(v / 0x1_0000_0000));
      this.view.setUint32(this.pos + 5, v >>> 0);
      this.pos += 9;
    } else {
      b[this.pos] = 0xcb;
      this.view.setFloat64(this.pos + 1, v);
      this.pos += 9;
    }
  }

  /** A boolean, into room already reserved (1 byte). */
  boolean(v: boolean): void {
    this.buf[this.pos++] = v ? 0xc3 : 0xc2;
  }

  private stringHeader(len: number): void {
    const b = this.buf;
    if (len < 32) b[this.pos++] = 0xa0 | len;
    else if (len < 0x100) {
      b[this.pos++] = 0xd9;
      b[this.pos++] = len;
    } else if (len < 0x10000) {
      b[this.pos] = 0xda;
      this.view.setUint16(this.pos + 1, len);
      this.pos += 3;
    } else {
      b[this.pos] = 0xdb;
      this.view.setUint32(this.pos + 1, len);
      this.pos += 5;
    }
  }

  string(s: string): void {
    this.reserve(3 * s.length + 5);
    this.put(s);
  }

  /**
   * A string, into room already reserved (3 bytes per UTF-16 unit and 5 for the header). ASCII
   * strings of up to 255 characters — ids, addresses, countries, most sub-IDs and user agents —
   * are copied in JS; the rest by Buffer's native UTF-8 writer. The native call costs ~0.4 µs
   * whatever the length (the edge profile showed ~1.2 CPU-µs per click in it while the limit was
   * 24 characters, which sent every click and visitor id there), while the loop copies a
   * character in about a nanosecond.
   */
  put(s: string): void {
    const n = s.length;
    const b = this.buf;
    if (n < 0x100) {
      const header = n < 32 ? 1 : 2;
      const p = this.pos + header;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        b[p + i] = c;
      }
      if (i === n) {
        if (header === 1) b[this.pos] = 0xa0 | n;
        else {
          b[this.pos] = 0xd9;
          b[this.pos + 1] = n;
        }
        this.pos = p + n;
        return;
      }
    }
    // Written behind the header an ASCII string would need; moved when its byte length needs another.
    const guess = headerSize(n);
    const len = b.write(s, this.pos + guess);
    const size = headerSize(len);
    if (size !== guess) b.copyWithin(this.pos + size, this.pos + guess, this.pos + guess + len);
    this.stringHeader(len);
    this.pos += len;
  }
}

function headerSize(len: number): number {
  return len < 32 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
}

/**
 * A batch's string table: repeated values are written once, in the message's head, and their
 * fields hold indexes into it. Readers resolve them with {@link stringAt}.
 */
export class StringTable {
  /** The table, in index order. */
  strings: string[] = [];
  private readonly index = new Map<string, number>();

  /** Write `s` to `out` as its index in the table, adding it if new. Needs 5 bytes of room. */
  ref(out: MsgpackOutput, s: string): void {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    out.number(i);
  }

  /** Empty the table for the next batch. */
  clear(): void {
    this.strings = [];
    this.index.clear();
  }
}

/**
 * A string field of a batch written with a {@link StringTable}: the string itself, or its index in
 * `strings` (batches of layouts without a table pass an empty one). Undefined for anything else.
 */
export function stringAt(v: unknown, strings: readonly string[]): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < strings.length) return strings[v];
  return undefined;
}

/** The head and the body of a message, as one array. */
export function joinOutputs(head: MsgpackOutput, body: MsgpackOutput): Uint8Array {
  const out = new Uint8Array(head.pos + body.pos);
  out.set(head.buf.subarray(0, head.pos), 0);
  out.set(body.buf.subarray(0, body.pos), head.pos);
  return out;
}
