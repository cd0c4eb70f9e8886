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
import { joinOutputs, MsgpackOutput, StringTable, stringAt } from './msgpackOutput.ts';

/** Click flags: a bitset so new flags don't change the tuple shape. */
export const ClickFlag = {
  /** Known bot user agent, empty or garbled UA, or a prefetch. */
  Bot: 1,
  /** Visitor country is restricted by the brand. */
  GeoBlocked: 2,
  /** The link's sub-ID (sub1) was paused by the fraud engine (docs/fraud.md, “Actions”): redirected, not commissionable. */
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

// The head of a message (tag, batch id, string table) is written here when the batch is finished.
const head = new MsgpackOutput();

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
  private readonly body = new MsgpackOutput();
  private readonly table = new StringTable();
  private n = 0;

  /** Clicks written since the last {@link finish}. */
  get count(): number {
    return this.n;
  }

  private ref(s: string): void {
    this.table.ref(this.body, s);
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
    head.arrayHeader(this.table.strings.length);
    for (const s of this.table.strings) head.string(s);
    head.arrayHeader(this.n);
    const out = joinOutputs(head, this.body);
    this.body.pos = 0;
    this.table.clear();
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
  const s = stringAt(v, strings);
  if (s === undefined) throw new WireError('click batch holds a malformed click');
  return s;
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
