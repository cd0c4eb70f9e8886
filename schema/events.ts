/**
 * Player events from the casino platform (docs/protocol.md, “1. Events”): the types, their fields, and the one
 * validation every transport goes through (postback, JSON, msgpack, WebSocket, pixel, import),
 * so that the same input is accepted or rejected — with the same code — whichever way it came.
 */
import { AffstreamError } from './errors.ts';
import { MAX_AMOUNT_DIGITS, normalizeMoney, storable } from './money.ts';
import { isClickId } from './clickId.ts';

/** Event types. */
export const EVENT_TYPES = ['registration', 'kyc', 'deposit', 'withdrawal', 'bet', 'bonus', 'chargeback'] as const;
/** An event type. */
export type EventType = (typeof EVENT_TYPES)[number];

/** How an event reached us. */
export type EventSource = 'postback' | 'json' | 'msgpack' | 'stream' | 'pixel' | 'import';

/**
 * A validated event, as it travels to the player's partition. Money is decimal text with 4
 * places (exact); absent optional fields are ''.
 */
export interface PlayerEvent {
  eventId: string;
  type: EventType;
  brandId: string;
  playerId: string;
  /** Event time, ms since epoch. */
  ts: number;
  ip: string;
  country: string;
  deviceId: string;
  source: EventSource;
  /** registration: the click id our redirect gave out ('' = none, organic). */
  clickId: string;
  /** kyc: approved | rejected | pending. */
  kycStatus: string;
  /** deposit, withdrawal, bonus, chargeback: amount; bet: stake. */
  amount: string;
  /** bet: win. */
  win: string;
  /** Brand currency; `amount` and `win` are in it. */
  currency: string;
  /** The amount as sent, and its currency, when a rate converted it ('' otherwise). */
  originalAmount: string;
  originalCurrency: string;
  /** deposit: the platform says it is the first. */
  first: boolean;
  /** bet */
  game: string;
  category: string;
  /** bonus */
  bonusAction: string;
  bonusId: string;
  maxBonus: boolean;
  /** chargeback: the deposit's event id. */
  depositId: string;
}

/** Codes of rejected events (docs/protocol.md, “7. Error codes”); stable. */
export type EventErrorCode = 'missing_field' | 'invalid_field' | 'unknown_type' | 'brand_mismatch';

const TEXT = /^[\x21-\x7e]{1,128}$/;
/**
 * The allowed values of each enumerated field, mapped to themselves: a validated event holds
 * these constants rather than the strings just decoded, so that the batch encoder's string table
 * (schema/eventWire.ts) finds them by identity, with their hash already computed.
 */
const canonical = (values: readonly string[]): Map<string, string> => new Map(values.map((v) => [v, v]));
const TYPES = canonical(EVENT_TYPES);
const CATEGORIES = canonical(['slots', 'live', 'table', 'sports', 'other']);
const KYC = canonical(['approved', 'rejected', 'pending']);
const BONUS_ACTIONS = canonical(['granted', 'wagered', 'forfeited', 'converted']);
const CATEGORY_MESSAGE = `category must be one of ${[...CATEGORIES.keys()].join(', ')}`;
const BONUS_ACTION_MESSAGE = `action must be one of ${[...BONUS_ACTIONS.keys()].join(', ')}`;

function reject(code: EventErrorCode, message: string): AffstreamError {
  return new AffstreamError(code, message);
}

function text(raw: Record<string, unknown>, name: string, required: boolean, max = 128): string {
  const v = raw[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw reject('missing_field', `${name} is required`);
    return '';
  }
  // A number beyond 2^53 has already lost digits in the JSON or msgpack decoder: refuse it rather than store a wrong id.
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw reject('invalid_field', `${name} must be a string (numbers above 2^53 lose digits)`);
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string') throw reject('invalid_field', `${name} must be a string`);
  if (s.length > max) throw reject('invalid_field', `${name} must be at most ${max} characters`);
  return s;
}

function id(raw: Record<string, unknown>, name: string): string {
  const s = text(raw, name, true);
  if (!TEXT.test(s)) throw reject('invalid_field', `${name} must be 1–128 printable ASCII characters without spaces`);
  return s;
}

function money(raw: Record<string, unknown>, name: string, required: boolean, allowNegative = false): string {
  const v = raw[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw reject('missing_field', `${name} is required`);
    return '0.0000';
  }
  const m = normalizeMoney(v);
  if (m === undefined) throw reject('invalid_field', `${name} must be a decimal with at most 4 places`);
  if (m.charCodeAt(0) === 0x2d && !allowNegative) throw reject('invalid_field', `${name} must not be negative`);
  if (!storable(m)) throw reject('invalid_field', `${name} must have at most ${MAX_AMOUNT_DIGITS} integer digits`);
  return m;
}

function bool(raw: Record<string, unknown>, name: string): boolean {
  const v = raw[name];
  if (v === undefined || v === null || v === '') return false;
  if (v === true || v === 'true' || v === '1' || v === 1) return true;
  if (v === false || v === 'false' || v === '0' || v === 0) return false;
  throw reject('invalid_field', `${name} must be a boolean`);
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Ms since epoch of an ISO-8601 time that states its zone (`Z`, `±hh:mm` or `±hhmm`) — NaN when it
 * has that form but is no real time — or undefined for any other text. The zone is required:
 * without one, Date.parse would read the time in the server's zone.
 */
export function parseIsoWithZone(text: string): number | undefined {
  return ISO_WITH_ZONE.test(text) ? Date.parse(text) : undefined;
}

/** Parse `ts`: ms since epoch (number or digits) or ISO-8601 with a zone. Absent → `now`. */
function timestamp(raw: Record<string, unknown>, now: number): number {
  const v = raw.ts;
  if (v === undefined || v === null || v === '') return now;
  let ms: number | undefined;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') ms = /^\d{10,16}$/.test(v) ? Number(v) : parseIsoWithZone(v);
  if (ms === undefined) throw reject('invalid_field', 'ts must be milliseconds since epoch or an ISO-8601 time with a zone (Z or ±hh:mm)');
  if (!Number.isInteger(ms) || ms < Date.UTC(2000, 0, 1) || ms > now + 86_400_000) {
    throw reject('invalid_field', 'ts is out of range (2000-01-01 to one day ahead)');
  }
  return ms;
}

/**
 * Validate one raw event (field names of docs/protocol.md, “1. Events”, already de-aliased) for `brandId`. Throws an
 * {@link AffstreamError} whose code is one of {@link EventErrorCode}.
 */
export function parseEvent(raw: Record<string, unknown>, brandId: string, source: EventSource, now = Date.now()): PlayerEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw reject('invalid_field', 'an event must be an object');
  const t = TYPES.get(text(raw, 'type', true, 32)) as EventType | undefined;
  if (t === undefined) throw reject('unknown_type', `type must be one of ${EVENT_TYPES.join(', ')}`);
  // Not String(): a decoded map such as {"toString": 1} makes it throw.
  if (raw.brand !== undefined && raw.brand !== null && raw.brand !== brandId) throw reject('brand_mismatch', `brand ${typeof raw.brand === 'string' ? raw.brand : `of type ${typeof raw.brand}`} does not match ${brandId}`);
  const ev: PlayerEvent = {
    eventId: id(raw, 'event_id'),
    type: t,
    brandId,
    playerId: id(raw, 'player_id'),
    ts: timestamp(raw, now),
    ip: text(raw, 'ip', false, 45),
    country: text(raw, 'country', false, 2).toUpperCase(),
    deviceId: text(raw, 'device_id', false),
    source,
    clickId: '',
    kycStatus: '',
    amount: '0.0000',
    win: '0.0000',
    currency: '',
    originalAmount: '',
    originalCurrency: '',
    first: false,
    game: '',
    category: '',
    bonusAction: '',
    bonusId: '',
    maxBonus: false,
    depositId: '',
  };
  if (ev.country && !/^[A-Z]{2}$/.test(ev.country)) throw reject('invalid_field', 'country must be ISO 3166 alpha-2');
  switch (t) {
    case 'registration': {
      // An unknown or malformed click id — of any length — is not an error: the player is organic.
      const c = (typeof raw.click_id === 'string' ? raw.click_id.trim() : text(raw, 'click_id', false, 64)).toLowerCase();
      ev.clickId = isClickId(c) ? c : '';
      break;
    }
    case 'kyc':
      ev.kycStatus = oneOf(KYC, text(raw, 'status', true, 16), 'status must be approved, rejected or pending');
      break;
    case 'deposit':
    case 'withdrawal':
      ev.amount = money(raw, 'amount', true);
      ev.currency = currency(raw);
      ev.first = t === 'deposit' && bool(raw, 'first');
      break;
    case 'bet':
      ev.amount = money(raw, 'stake', true);
      ev.win = money(raw, 'win', false);
      ev.currency = currency(raw);
      ev.game = text(raw, 'game', false);
      ev.category = oneOf(CATEGORIES, text(raw, 'category', false, 16) || 'other', CATEGORY_MESSAGE);
      break;
    case 'bonus':
      ev.bonusAction = oneOf(BONUS_ACTIONS, text(raw, 'action', true, 16), BONUS_ACTION_MESSAGE);
      ev.amount = money(raw, 'amount', true);
      ev.currency = currency(raw);
      ev.bonusId = text(raw, 'bonus_id', false);
      ev.maxBonus = bool(raw, 'max');
      break;
    case 'chargeback':
      ev.amount = money(raw, 'amount', true);
      ev.currency = currency(raw);
      ev.depositId = text(raw, 'deposit_id', false);
      break;
  }
  return ev;
}

/** The constant for `value` among `allowed`, or 422 `invalid_field` with `message`. */
function oneOf(allowed: Map<string, string>, value: string, message: string): string {
  const v = allowed.get(value);
  if (v === undefined) throw reject('invalid_field', message);
  return v;
}

function currency(raw: Record<string, unknown>): string {
  const c = text(raw, 'currency', true, 3).toUpperCase();
  if (!/^[A-Z]{3}$/.test(c)) throw reject('invalid_field', 'currency must be an ISO 4217 code');
  return c;
}
