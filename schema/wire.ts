/**
 * Messages on the partition subjects, msgpack-encoded. A message is one batch from one edge for
 * one partition; the batch id (`edge`, `seq`) is also its `Nats-Msg-Id`. Clicks travel as
 * positional tuples: at 100k clicks/s the field names would be most of the bytes.
 *
 * Three layouts, told apart by the first element:
 * - `['clicks', edge, seq, tuples]` (v1): every field of a tuple written out.
 * - `['clicks.v2', edge, seq, strings, tuples]`: any string field of a tuple may instead be an
 *   unsigned integer, an index into `strings`, the batch's string table, so that a value the
 *   clicks of a batch share is written once per batch instead of once per click. Which fields
 *   use the table is the writer's choice ({@link ClickBatchWriter}); readers accept either.
 * - `['clicks.v3', edge, seq, strings, tuples]`: v2 with a 14th tuple field, the visitor id
 *   (written inline: it is one visitor's, rarely repeated within a batch).
 * Edges write v3; v1 and v2 are still read (visitor id ''), because spools and the stream may hold
 * batches from edges of an earlier version.
 */
import { Decoder } from '@msgpack/msgpack';

/** Click flags: a bitset so new flags don't change the tuple shape. */
export const ClickFlag = {
  /** Known bot user agent, empty or garbled UA, or a prefetch. */
  Bot: 1,
  /** Visitor country is restricted by the brand. */
  GeoBlocked: 2,
  /** The link's sub-ID (sub1) was paused by the fraud engine (SPEC §7): redirected, not commissionable. */
  SubPaused: 4,
  /** The link's sub-ID (sub1) was blocked by the fraud engine. */
  SubBlocked: 8,
} as const;

/** Status of the affiliate (or later the sub-ID) at click time; non-`active` clicks are not commissionable. */
export type TrafficStatus = 'active' | 'paused' | 'blocked';

/** An edge recorded a click (past tense: it happened, the actor cannot refuse it). */
export interface ClickRecorded {
  clickId: string;
  /** Edge receive time, ms since epoch: the click's event time. */
  ts: number;
  code: string;
  brandId: string;
  affiliateId: string;
  campaign: string;
  /** sub1 … sub10, '' when absent. */
  subs: string[];
  ip: string;
  /** ISO 3166 alpha-2, or '' when unknown. */
  country: string;
  userAgent: string;
  referer: string;
  flags: number;
  affiliateStatus: TrafficStatus;
  /** The visitor cookie (`affstream_vid`, a UUIDv7), or '' for clicks of edges before visitor ids. */
  visitorId: string;
}

/** A batch as published: `edge` is the publishing edge instance, `seq` its per-instance batch counter. */
export interface ClickBatch {
  kind: 'clicks';
  edge: string;
  seq: number;
  clicks: ClickRecorded[];
}

const V1 = 'clicks';
const V2 = 'clicks.v2';
const V3 = 'clicks.v3';
/** Fields of a v1 or v2 tuple; v3 appends the visitor id. */
const TUPLE_LENGTH = 13;
const SUBS = 10;

/**
 * A growable msgpack output, for the handful of types a click batch holds. Written by hand rather
 * than with @msgpack/msgpack's Encoder, whose generic type dispatch, per-value bounds checks and
 * UTF-8 path cost 3–4 µs per click here against under 1 µs for this (decoding is left to it).
 */
class Output {
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

// The head of a message (tag, batch id, string table) is written here when the batch is finished.
const head = new Output();

/**
 * The clicks of one partition, encoded as they arrive: a pending batch is bytes and a string
 * table, not objects that outlive a young-generation GC while they wait for their batch to go.
 * Only the user agent and referer go to the table: long, and shared by many clicks. The link's
 * values and the status are short, and with 64 partitions a batch holds a handful of clicks of
 * different links, so a table entry for them was mostly a map insert that saved a few bytes
 * (copying them inline costs 1–1.5 µs less per click). Sub-IDs (often unique per click:
 * affiliates pass their own click ids in them), the click id, address and country go inline too.
 */
export class ClickBatchWriter {
  private readonly body = new Output();
  private strings: string[] = [];
  private readonly index = new Map<string, number>();
  private n = 0;

  /** Clicks written since the last {@link finish}. */
  get count(): number {
    return this.n;
  }

  private ref(s: string): void {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    this.body.number(i);
  }

  /** Append a click. */
  add(c: ClickRecorded): void {
    const o = this.body;
    const subs = c.subs;
    let chars = c.clickId.length + c.code.length + c.brandId.length + c.affiliateId.length + c.campaign.length + c.affiliateStatus.length + c.ip.length + c.country.length + c.visitorId.length;
    for (let i = 0; i < subs.length; i++) chars += (subs[i] as string).length;
    // Room for everything but the table references, which take 5 bytes at most: one check per click.
    o.reserve(3 * chars + 5 * (subs.length + 9) + 5 * 2 + 9 + 9 + 10);
    o.arrayHeader(TUPLE_LENGTH + 1);
    o.put(c.clickId);
    o.number(c.ts);
    o.put(c.code);
    o.put(c.brandId);
    o.put(c.affiliateId);
    o.put(c.campaign);
    o.arrayHeader(subs.length);
    for (let i = 0; i < subs.length; i++) o.put(subs[i] as string);
    o.put(c.ip);
    o.put(c.country);
    this.ref(c.userAgent);
    if (c.referer === '') o.put('');
    else this.ref(c.referer);
    o.number(c.flags);
    o.put(c.affiliateStatus);
    o.put(c.visitorId);
    this.n++;
  }

  /** The message holding the clicks written so far; the writer is then empty. */
  finish(edge: string, seq: number): Uint8Array {
    head.pos = 0;
    head.arrayHeader(5);
    head.string(V3);
    head.string(edge);
    head.number(seq);
    head.arrayHeader(this.strings.length);
    for (const s of this.strings) head.string(s);
    head.arrayHeader(this.n);
    const out = new Uint8Array(head.pos + this.body.pos);
    out.set(head.buf.subarray(0, head.pos), 0);
    out.set(this.body.buf.subarray(0, this.body.pos), head.pos);
    this.body.pos = 0;
    this.strings = [];
    this.index.clear();
    this.n = 0;
    return out;
  }
}

/** Encode a click batch for JetStream in one go. */
export function encodeClickBatch(edge: string, seq: number, clicks: readonly ClickRecorded[]): Uint8Array {
  const w = new ClickBatchWriter();
  for (const c of clicks) w.add(c);
  return w.finish(edge, seq);
}

/** A message on a partition subject that could not be decoded; it is logged and skipped, never retried forever. */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code = 'malformed_message';
}

const STATUSES = new Set<string>(['active', 'paused', 'blocked']);
const decoder = new Decoder();

/** Resolves a tuple's string field: itself, or its entry in the string table (v1 batches have none). */
function str(v: unknown, strings: readonly string[]): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < strings.length) return strings[v] as string;
  throw new WireError('click batch holds a malformed click');
}

function fromTuple(t: unknown, strings: readonly string[], length: number): ClickRecorded {
  if (!Array.isArray(t) || t.length !== length || typeof t[1] !== 'number' || typeof t[11] !== 'number' || !Array.isArray(t[6]) || t[6].length !== SUBS) {
    throw new WireError('click batch holds a malformed click');
  }
  const affiliateStatus = str(t[12], strings);
  if (!STATUSES.has(affiliateStatus)) throw new WireError('click batch holds a malformed click');
  return {
    clickId: str(t[0], strings), ts: t[1], code: str(t[2], strings), brandId: str(t[3], strings), affiliateId: str(t[4], strings),
    campaign: str(t[5], strings), subs: (t[6] as unknown[]).map((s) => str(s, strings)), ip: str(t[7], strings), country: str(t[8], strings),
    userAgent: str(t[9], strings), referer: str(t[10], strings), flags: t[11], affiliateStatus: affiliateStatus as TrafficStatus,
    visitorId: length > TUPLE_LENGTH ? str(t[13], strings) : '',
  };
}

/** Decode and check a partition message (either layout). Throws {@link WireError} on anything unexpected. */
export function decodeBatch(data: Uint8Array): ClickBatch {
  let v: unknown;
  try {
    v = decoder.decode(data);
  } catch (err) {
    throw new WireError('message is not msgpack', { cause: err });
  }
  if (!Array.isArray(v) || typeof v[1] !== 'string' || typeof v[2] !== 'number') throw new WireError('message is not a click batch');
  let strings: readonly string[];
  let tuples: unknown;
  let length = TUPLE_LENGTH;
  if ((v[0] === V3 || v[0] === V2) && v.length === 5 && Array.isArray(v[3]) && v[3].every((s: unknown) => typeof s === 'string')) {
    strings = v[3] as string[];
    tuples = v[4];
    if (v[0] === V3) length++;
  } else if (v[0] === V1 && v.length === 4) {
    strings = [];
    tuples = v[3];
  } else {
    throw new WireError('message is not a click batch');
  }
  if (!Array.isArray(tuples)) throw new WireError('message is not a click batch');
  return { kind: 'clicks', edge: v[1], seq: v[2], clicks: tuples.map((t) => fromTuple(t, strings, length)) };
}
