/**
 * Player-side messages on the partition subjects, msgpack-encoded: event batches from edges, click
 * resolutions and attribution rules from workers. The message kind travels in the `Affstream-Kind`
 * header so a worker knows how to decode without trying; click batches (schema/wire.ts) carry none.
 *
 * Event batches (header kind `events`) have two layouts, told apart by the first element:
 * - `['events', edge, seq, receivedAt, tuples]` (v1): every field of a tuple written out.
 * - `['events.v2', edge, seq, receivedAt, strings, tuples]`: the same tuples, except that a string
 *   field may be an unsigned integer, an index into `strings`, the batch's string table. Type,
 *   brand, source, currency, country, game, category, KYC status and bonus action repeat across a
 *   batch's events and are written once per batch.
 * Edges write v2; v1 is still read, because the stream may hold batches of earlier edges.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { EVENT_TYPES, type EventSource, type EventType, type PlayerEvent } from './events.ts';
import { joinOutputs, MsgpackOutput, StringTable, stringAt } from './msgpackOutput.ts';
import { WireError } from './wire.ts';
import { parseRules, type AttributionRules } from './attributionRules.ts';
import { COMMISSION_ACTIONS, type CommandBatch, type RevenueBatch } from './commissions.ts';
import { parseMoney } from './money.ts';

/** Header naming a partition message's kind. */
export const KIND_HEADER = 'Affstream-Kind';

/** Kinds of partition messages. */
export type MessageKind = 'clicks' | 'events' | 'resolved' | 'rules' | 'forwarded' | 'tick' | 'lifted' | 'commands' | 'revenue';

/** A batch of events from one edge request or frame. */
export interface EventBatch {
  edge: string;
  seq: number;
  /** When the edge accepted them (ms): the clock of the deduplication window, which event times are not. */
  receivedAt: number;
  events: PlayerEvent[];
}

/** What the host found for a click id (null: no such click). */
export interface ClickInfo {
  clickId: string;
  ts: number;
  brandId: string;
  affiliateId: string;
  code: string;
  campaign: string;
  sub1: string;
  country: string;
  bot: boolean;
  geoBlocked: boolean;
  /** The visitor cookie of the click ('' for clicks recorded before visitor ids). */
  visitorId: string;
  ip: string;
  fraudScore: number;
  /** Flagged by the click-stream fraud rule. */
  flagged: boolean;
  /** Affiliate and sub-ID were active at click time and the click was not flagged. */
  commissionable: boolean;
}

/** A click resolution for a waiting player. */
export interface ClickResolution {
  playerKey: string;
  brandId: string;
  clickId: string;
  click: ClickInfo | null;
  /** The visitor's other clicks that may be touches (multi-touch and first click rules; else empty). */
  touches: ClickInfo[];
}

/** The fields of an event tuple, in order (both layouts). */
const FIELDS = [
  'eventId', 'type', 'brandId', 'playerId', 'ts', 'ip', 'country', 'deviceId', 'source', 'clickId', 'kycStatus', 'amount', 'win',
  'currency', 'originalAmount', 'originalCurrency', 'first', 'game', 'category', 'bonusAction', 'bonusId', 'maxBonus', 'depositId',
] as const satisfies ReadonlyArray<keyof PlayerEvent>;

const EVENTS_V1 = 'events';
const EVENTS_V2 = 'events.v2';

// Fields are only ever appended: resolutions written by an earlier version (shorter tuples) still decode.
const CLICK_FIELDS = [
  'clickId', 'ts', 'brandId', 'affiliateId', 'code', 'campaign', 'sub1', 'country', 'bot', 'geoBlocked', 'visitorId', 'ip', 'fraudScore', 'flagged', 'commissionable',
] as const satisfies ReadonlyArray<keyof ClickInfo>;
/** Fields of a resolved click before visitor ids and fraud scores. */
const CLICK_FIELDS_V1 = 10;

const encoder = new Encoder({ initialBufferSize: 64 * 1024 });
const decoder = new Decoder();

const eventBody = new MsgpackOutput();
const eventHead = new MsgpackOutput();
const eventTable = new StringTable();

/**
 * Encode an event batch (layout v2). By hand, field by field: the generic encoder took about
 * 4 µs per event here, most of the edge's encoding cost, for tuples whose shape never varies.
 */
export function encodeEventBatch(edge: string, seq: number, receivedAt: number, events: readonly PlayerEvent[]): Uint8Array {
  const o = eventBody;
  const t = eventTable;
  o.pos = 0;
  t.clear();
  for (const e of events) {
    const inline = e.eventId.length + e.playerId.length + e.ip.length + e.deviceId.length + e.clickId.length + e.amount.length + e.win.length
      + e.originalAmount.length + e.originalCurrency.length + e.bonusId.length + e.depositId.length;
    // One check per event: 3 bytes per UTF-16 unit and a 5-byte header per inline string, 5 bytes per table index, 9 for ts.
    o.reserve(3 * inline + 5 * 11 + 5 * 9 + 9 + 2 + 3);
    o.arrayHeader(FIELDS.length);
    o.put(e.eventId);
    t.ref(o, e.type);
    t.ref(o, e.brandId);
    o.put(e.playerId);
    o.number(e.ts);
    o.put(e.ip);
    t.ref(o, e.country);
    o.put(e.deviceId);
    t.ref(o, e.source);
    o.put(e.clickId);
    t.ref(o, e.kycStatus);
    o.put(e.amount);
    o.put(e.win);
    t.ref(o, e.currency);
    o.put(e.originalAmount);
    o.put(e.originalCurrency);
    o.boolean(e.first);
    t.ref(o, e.game);
    t.ref(o, e.category);
    t.ref(o, e.bonusAction);
    o.put(e.bonusId);
    o.boolean(e.maxBonus);
    o.put(e.depositId);
  }
  const h = eventHead;
  h.pos = 0;
  h.arrayHeader(6);
  h.string(EVENTS_V2);
  h.string(edge);
  h.number(seq);
  h.number(receivedAt);
  h.arrayHeader(t.strings.length);
  for (const str of t.strings) h.string(str);
  h.arrayHeader(events.length);
  return joinOutputs(h, o);
}

const clickTuple = (c: ClickInfo) => CLICK_FIELDS.map((f) => c[f]);

/** Encode click resolutions (`id` identifies the batch for deduplication). */
export function encodeResolutions(id: string, items: readonly ClickResolution[]): Uint8Array {
  return encoder.encode(['resolved', id, items.map((r) => [r.playerKey, r.brandId, r.clickId, r.click && clickTuple(r.click), r.touches.map(clickTuple)])]);
}

/** Encode the attribution rules a worker puts into a partition's input (`id` identifies the message). */
export function encodeRules(id: string, canonical: string): Uint8Array {
  return encoder.encode(['rules', id, canonical]);
}

function decodeArray(data: Uint8Array, kind: string, last: 'array' | 'string' = 'array'): unknown[] {
  let v: unknown;
  try {
    v = decoder.decode(data);
  } catch (err) {
    throw new WireError('message is not msgpack', { cause: err });
  }
  const tail = Array.isArray(v) ? v[v.length - 1] : undefined;
  if (!Array.isArray(v) || v[0] !== kind || typeof v[1] !== 'string' || (last === 'array' ? !Array.isArray(tail) : typeof tail !== 'string')) {
    throw new WireError(`message is not a ${kind} message`);
  }
  return v;
}

const EVENT_TYPE_SET = new Set<string>(EVENT_TYPES);

function text(v: unknown, strings: readonly string[], field: string): string {
  const s = stringAt(v, strings);
  if (s === undefined) throw new WireError(`event field ${field} is not a string`);
  return s;
}

function flag(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new WireError(`event field ${field} is not a boolean`);
  return v;
}

/** One event tuple of either layout (v1 passes an empty string table). */
function eventOf(t: unknown, strings: readonly string[]): PlayerEvent {
  if (!Array.isArray(t) || t.length !== FIELDS.length) throw new WireError('malformed event in batch');
  if (typeof t[4] !== 'number') throw new WireError('event field ts is not a number');
  const type = text(t[1], strings, 'type');
  if (!EVENT_TYPE_SET.has(type)) throw new WireError('event of unknown type');
  // A literal in FIELDS order: every decoded event has the same shape, which the worker's code is compiled for.
  return {
    eventId: text(t[0], strings, 'eventId'), type: type as EventType, brandId: text(t[2], strings, 'brandId'), playerId: text(t[3], strings, 'playerId'),
    ts: t[4], ip: text(t[5], strings, 'ip'), country: text(t[6], strings, 'country'), deviceId: text(t[7], strings, 'deviceId'),
    source: text(t[8], strings, 'source') as EventSource, clickId: text(t[9], strings, 'clickId'), kycStatus: text(t[10], strings, 'kycStatus'),
    amount: text(t[11], strings, 'amount'), win: text(t[12], strings, 'win'), currency: text(t[13], strings, 'currency'),
    originalAmount: text(t[14], strings, 'originalAmount'), originalCurrency: text(t[15], strings, 'originalCurrency'), first: flag(t[16], 'first'),
    game: text(t[17], strings, 'game'), category: text(t[18], strings, 'category'), bonusAction: text(t[19], strings, 'bonusAction'),
    bonusId: text(t[20], strings, 'bonusId'), maxBonus: flag(t[21], 'maxBonus'), depositId: text(t[22], strings, 'depositId'),
  };
}

/** Decode an event batch of either layout; throws {@link WireError}. */
export function decodeEventBatch(data: Uint8Array): EventBatch {
  let v: unknown;
  try {
    v = decoder.decode(data);
  } catch (err) {
    throw new WireError('message is not msgpack', { cause: err });
  }
  if (!Array.isArray(v) || typeof v[1] !== 'string' || typeof v[2] !== 'number' || typeof v[3] !== 'number') throw new WireError('message is not an events message');
  let strings: readonly string[];
  let tuples: unknown;
  if (v[0] === EVENTS_V2 && v.length === 6 && Array.isArray(v[4]) && v[4].every((s: unknown) => typeof s === 'string')) {
    strings = v[4] as string[];
    tuples = v[5];
  } else if (v[0] === EVENTS_V1 && v.length === 5) {
    strings = [];
    tuples = v[4];
  } else {
    throw new WireError('message is not an events message');
  }
  if (!Array.isArray(tuples)) throw new WireError('message is not an events message');
  return { edge: v[1], seq: v[2], receivedAt: v[3], events: tuples.map((t) => eventOf(t, strings)) };
}

function clickOf(c: unknown): ClickInfo {
  if (!Array.isArray(c) || (c.length !== CLICK_FIELDS.length && c.length !== CLICK_FIELDS_V1)) throw new WireError('malformed resolved click');
  // A resolution of an earlier version: the click had no visitor id and no fraud verdict.
  const before = { visitorId: '', ip: '', fraudScore: 0, flagged: false, commissionable: true } as Record<string, unknown>;
  return Object.fromEntries(CLICK_FIELDS.map((f, i) => [f, c[i] ?? before[f]])) as unknown as ClickInfo;
}

/** Decode click resolutions (those of earlier versions have no touches); throws {@link WireError}. */
export function decodeResolutions(data: Uint8Array): ClickResolution[] {
  const v = decodeArray(data, 'resolved');
  return (v[2] as unknown[]).map((t) => {
    if (!Array.isArray(t) || (t.length !== 4 && t.length !== 5) || typeof t[0] !== 'string' || typeof t[1] !== 'string' || typeof t[2] !== 'string') throw new WireError('malformed resolution');
    const touches = t[4] ?? [];
    if (!Array.isArray(touches)) throw new WireError('malformed resolution touches');
    return { playerKey: t[0], brandId: t[1], clickId: t[2], click: t[3] === null ? null : clickOf(t[3]), touches: touches.map(clickOf) };
  });
}

/**
 * Messages for actors of this partition from another partition's actors (docs/fraud.md, “Where
 * each rule runs”; docs/commissions.md): attributed registrations, FTDs and chargebacks for the
 * affiliate's actor, registrations for the actors of their IP and device, every applied event of
 * an attributed player for the affiliate's commission actor. One batch carries the items of one or
 * more consecutive source messages; `from` and each item's `seq` identify them, so the receiver
 * drops what it already applied.
 */
export interface ForwardedBatch {
  from: number;
  /** The latest source message among the items. */
  fromSeq: number;
  items: ForwardedItem[];
}

/** One forwarded message: the actor kind and key it is for, and the message (plain data). */
export interface ForwardedItem {
  /** An actor kind's name (the worker refuses a kind it does not run). */
  actor: string;
  key: string;
  message: Record<string, unknown>;
  /**
   * The source message that sent it. A batch may carry the items of several source messages
   * (workers/runtime/forwarder.ts): the receiver skips each item it already applied, whatever
   * the batch it came in. Absent in batches of earlier versions: the batch's `fromSeq`.
   */
  seq?: number;
}

/** The `Nats-Msg-Id` of a forwarded batch. */
export function forwardedId(from: number, fromSeq: number, to: number): string {
  return `fwd.${from}.${fromSeq}.${to}`;
}

/** Encode a forwarded batch. */
export function encodeForwarded(b: ForwardedBatch, to: number): Uint8Array {
  return encoder.encode(['forwarded', forwardedId(b.from, b.fromSeq, to), b.from, b.fromSeq, b.items.map((i) => [i.actor, i.key, i.message, i.seq ?? b.fromSeq])]);
}

/** Decode a forwarded batch; throws {@link WireError}. */
export function decodeForwarded(data: Uint8Array): ForwardedBatch {
  const v = decodeArray(data, 'forwarded');
  if (typeof v[2] !== 'number' || typeof v[3] !== 'number') throw new WireError('forwarded batch has no source');
  const items = (v[4] as unknown[]).map((t) => {
    if (!Array.isArray(t) || typeof t[0] !== 'string' || typeof t[1] !== 'string' || typeof t[2] !== 'object' || t[2] === null || (t[3] !== undefined && typeof t[3] !== 'number')) {
      throw new WireError('malformed forwarded item');
    }
    return { actor: t[0], key: t[1], message: t[2] as Record<string, unknown>, seq: (t[3] as number | undefined) ?? (v[3] as number) };
  });
  return { from: v[2], fromSeq: v[3], items };
}

/** The partition clock: deadlines up to `at` have passed; `network` = per brand [registrations, unique clicks] in the conversion window. */
export interface Tick {
  at: number;
  network: Record<string, [number, number]>;
}

/** Encode a tick (`id` identifies it for deduplication). */
export function encodeTick(id: string, t: Tick): Uint8Array {
  return encoder.encode(['tick', id, t.at, t.network, []]);
}

/** Decode a tick; throws {@link WireError}. */
export function decodeTick(data: Uint8Array): Tick {
  const v = decodeArray(data, 'tick');
  if (typeof v[2] !== 'number' || typeof v[3] !== 'object' || v[3] === null || Array.isArray(v[3])) throw new WireError('malformed tick');
  // Each brand's totals are read by destructuring when applied: a malformed entry must fail here, as a skipped message, not there.
  for (const t of Object.values(v[3] as Record<string, unknown>)) {
    if (!Array.isArray(t) || t.length !== 2 || !Number.isFinite(t[0]) || !Number.isFinite(t[1])) throw new WireError('malformed tick');
  }
  return { at: v[2], network: v[3] as Record<string, [number, number]> };
}

/** An operator lifted a pause (docs/fraud.md, “Alerts and pauses”): the affiliate's actor forgets it and starts the sub-ID's windows afresh. */
export interface Lift {
  affiliateId: string;
  subId: string;
  pauseId: string;
}

/** Encode a lift. */
export function encodeLift(l: Lift): Uint8Array {
  return encoder.encode(['lifted', `lift.${l.pauseId}`, l.affiliateId, l.subId, l.pauseId, []]);
}

/** Decode a lift; throws {@link WireError}. */
export function decodeLift(data: Uint8Array): Lift {
  const v = decodeArray(data, 'lifted');
  if (typeof v[2] !== 'string' || typeof v[3] !== 'string' || typeof v[4] !== 'string') throw new WireError('malformed lift');
  return { affiliateId: v[2], subId: v[3], pauseId: v[4] };
}

/** Decode a rules message, validating the rules again; throws {@link WireError}. */
export function decodeRules(data: Uint8Array): AttributionRules {
  const v = decodeArray(data, 'rules', 'string');
  try {
    return parseRules(v[2] as string, 'message');
  } catch (err) {
    throw new WireError(`rules message holds invalid rules: ${(err as Error).message}`, { cause: err });
  }
}

/** The `Nats-Msg-Id` of a command batch. */
export function commandsId(batchId: string): string {
  return `cmd.${batchId}`;
}

/** Encode operators' commission commands for one partition. */
export function encodeCommands(b: CommandBatch): Uint8Array {
  return encoder.encode(['commands', commandsId(b.id), b.replyTo, b.items.map((i) => [i.affiliateId, i.command])]);
}

const isText = (v: unknown): v is string => typeof v === 'string';

/** Decode a command batch, checking every field; throws {@link WireError}. */
export function decodeCommands(data: Uint8Array): CommandBatch {
  const v = decodeArray(data, 'commands');
  if (!isText(v[2])) throw new WireError('command batch has no reply subject');
  const items = (v[3] as unknown[]).map((t) => {
    const c = Array.isArray(t) ? (t[1] as Record<string, unknown> | null) : null;
    if (
      !Array.isArray(t) || !isText(t[0]) || typeof c !== 'object' || c === null || !isText(c.id) || !COMMISSION_ACTIONS.includes(c.action as never)
      || !Array.isArray(c.commissionIds) || !c.commissionIds.every(isText) || !isText(c.reason) || !isText(c.reference) || !isText(c.by) || typeof c.at !== 'number'
    ) {
      throw new WireError('malformed command');
    }
    return { affiliateId: t[0], command: { id: c.id, action: c.action, commissionIds: c.commissionIds, reason: c.reason, reference: c.reference, by: c.by, at: c.at } as CommandBatch['items'][number]['command'] };
  });
  return { id: (v[1] as string).slice('cmd.'.length), replyTo: v[2], items };
}

/** The `Nats-Msg-Id` of a revenue batch. */
export function revenueId(batchId: string): string {
  return `rev.${batchId}`;
}

/** Encode the imported revenue of one partition's affiliates (docs/commissions.md, “Revenue imports”). */
export function encodeRevenue(b: RevenueBatch): Uint8Array {
  return encoder.encode([
    'revenue', revenueId(b.id), b.replyTo,
    b.items.map(({ affiliateId, revenue: r }) => [affiliateId, r.id, r.importId, r.brandId, r.at, r.days.map((d) => [d.day, d.imported, d.live])]),
  ]);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const isMoney = (v: unknown): v is string => isText(v) && parseMoney(v) !== undefined;

/** Decode a revenue batch, checking every field (days ascending, each once); throws {@link WireError}. */
export function decodeRevenue(data: Uint8Array): RevenueBatch {
  const v = decodeArray(data, 'revenue');
  if (!isText(v[2])) throw new WireError('revenue batch has no reply subject');
  const items = (v[3] as unknown[]).map((t) => {
    if (!Array.isArray(t) || !isText(t[0]) || !isText(t[1]) || !isText(t[2]) || !isText(t[3]) || typeof t[4] !== 'number' || !Array.isArray(t[5])) {
      throw new WireError('malformed revenue item');
    }
    let last = '';
    const days = (t[5] as unknown[]).map((d) => {
      if (!Array.isArray(d) || !isText(d[0]) || !DAY.test(d[0]) || d[0] <= last || !isMoney(d[1]) || !isMoney(d[2])) throw new WireError('malformed revenue day');
      last = d[0];
      return { day: d[0], imported: d[1], live: d[2] };
    });
    return { affiliateId: t[0], revenue: { id: t[1], importId: t[2], brandId: t[3], at: t[4], days } };
  });
  return { id: (v[1] as string).slice('rev.'.length), replyTo: v[2], items };
}
