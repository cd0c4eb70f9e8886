/**
 * Messages on the partition subjects, msgpack-encoded. A message is one batch from one edge for
 * one partition; the batch id (`edge`, `seq`) is also its `Nats-Msg-Id`. Clicks travel as
 * positional tuples: at 100k clicks/s the field names would be most of the bytes.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';

/** Click flags: a bitset so new flags don't change the tuple shape. */
export const ClickFlag = {
  /** Known bot user agent, empty or garbled UA, or a prefetch. */
  Bot: 1,
  /** Visitor country is restricted by the brand. */
  GeoBlocked: 2,
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
}

/** A batch as published: `edge` is the publishing edge instance, `seq` its per-instance batch counter. */
export interface ClickBatch {
  kind: 'clicks';
  edge: string;
  seq: number;
  clicks: ClickRecorded[];
}

type ClickTuple = [string, number, string, string, string, string, string[], string, string, string, string, number, TrafficStatus];

function toTuple(c: ClickRecorded): ClickTuple {
  return [c.clickId, c.ts, c.code, c.brandId, c.affiliateId, c.campaign, c.subs, c.ip, c.country, c.userAgent, c.referer, c.flags, c.affiliateStatus];
}

function fromTuple(t: ClickTuple): ClickRecorded {
  return {
    clickId: t[0], ts: t[1], code: t[2], brandId: t[3], affiliateId: t[4], campaign: t[5], subs: t[6],
    ip: t[7], country: t[8], userAgent: t[9], referer: t[10], flags: t[11], affiliateStatus: t[12],
  };
}

// Sized for a full batch (512 clicks × ~300 B) so encoding never regrows the buffer.
const encoder = new Encoder({ ignoreUndefined: true, initialBufferSize: 256 * 1024 });
const decoder = new Decoder();

/** Encode a click batch for JetStream. */
export function encodeClickBatch(edge: string, seq: number, clicks: readonly ClickRecorded[]): Uint8Array {
  return encoder.encode(['clicks', edge, seq, clicks.map(toTuple)]);
}

/** A message on a partition subject that could not be decoded; it is logged and skipped, never retried forever. */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code = 'malformed_message';
}

const STATUSES = new Set<string>(['active', 'paused', 'blocked']);

function isClickTuple(t: unknown): t is ClickTuple {
  return (
    Array.isArray(t) && t.length === 13 &&
    typeof t[0] === 'string' && typeof t[1] === 'number' &&
    [2, 3, 4, 5, 7, 8, 9, 10].every((i) => typeof t[i] === 'string') &&
    Array.isArray(t[6]) && t[6].length === 10 && t[6].every((s: unknown) => typeof s === 'string') &&
    typeof t[11] === 'number' && STATUSES.has(t[12] as string)
  );
}

/** Decode and check a partition message. Throws {@link WireError} on anything unexpected. */
export function decodeBatch(data: Uint8Array): ClickBatch {
  let v: unknown;
  try {
    v = decoder.decode(data);
  } catch (err) {
    throw new WireError('message is not msgpack', { cause: err });
  }
  if (!Array.isArray(v) || v[0] !== 'clicks' || typeof v[1] !== 'string' || typeof v[2] !== 'number' || !Array.isArray(v[3])) {
    throw new WireError('message is not a click batch');
  }
  const tuples = v[3] as unknown[];
  if (!tuples.every(isClickTuple)) throw new WireError('click batch holds a malformed click');
  return { kind: 'clicks', edge: v[1], seq: v[2], clicks: tuples.map(fromTuple) };
}
