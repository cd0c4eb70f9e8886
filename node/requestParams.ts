/**
 * What the API endpoints read from a request, parsed one way everywhere:
 * - query parameters of the listing endpoints (fraud alerts, commissions, postback attempts): times,
 *   the affiliate a caller may see, ids and limits, each refused with `400 invalid_parameter` and a
 *   message naming the parameter and what it accepts;
 * - JSON bodies (catalog writes, commission transitions, pause lifts, endpoint enables) and their
 *   text fields.
 */
import { AffstreamError } from '../schema/errors.ts';
import { isId } from '../schema/config.ts';
import type { Scope } from './auth.ts';
import type { Request } from './http.ts';

/** A `400 invalid_parameter` naming the parameter and what it accepts. */
export function badParam(name: string, want: string): AffstreamError {
  return new AffstreamError('invalid_parameter', `${name}: expected ${want}`);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A time parameter: ISO 8601 or ms since epoch. A day alone means the whole UTC day, as in the
 * reports: `from` its first instant, `to` its last (`from=2026-11-21&to=2026-11-21` is that day).
 */
export function timeParam(name: 'from' | 'to', v: string | null, dflt: number): number {
  if (v === null || v === '') return dflt;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(DAY.test(v) ? `${v}T00:00:00Z` : v);
  if (!Number.isFinite(ms)) throw badParam(name, 'an ISO 8601 time or day, or ms since epoch');
  return name === 'to' && DAY.test(v) ? ms + 86_400_000 : ms;
}

/** The affiliate whose rows the caller asks for ('' all): an affiliate key sees only its own, whatever it asks. */
export function scopedAffiliate(scope: Scope, affiliate: string | null): string {
  if (scope.all) {
    if (affiliate && !isId(affiliate)) throw badParam('affiliate', 'an affiliate id');
    return affiliate ?? '';
  }
  if (affiliate && affiliate !== scope.affiliateId) throw new AffstreamError('forbidden', 'an affiliate API key sees only its own affiliate');
  return scope.affiliateId;
}

/** An optional id parameter ('' when absent). */
export function idParam(name: string, v: string | null): string {
  if (v === null || v === '') return '';
  if (!isId(v)) throw badParam(name, 'an id ([A-Za-z0-9_-]{1,64})');
  return v;
}

/** An optional one-of parameter ('' when absent). */
export function oneOfParam<T extends string>(name: string, v: string | null, allowed: readonly T[]): T | '' {
  if (v === null || v === '') return '';
  if (!allowed.includes(v as T)) throw badParam(name, `one of ${allowed.join(', ')}`);
  return v as T;
}

/** `limit`: an integer from 1 to `max`, default `dflt`. */
export function limitParam(v: string | null, dflt: number, max: number): number {
  const limit = Number(v ?? dflt);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw badParam('limit', `an integer from 1 to ${max}`);
  return limit;
}

/** A JSON object body. */
export type JsonBody = Record<string, unknown>;

/**
 * The JSON object a request's body holds. With `optional`, an empty body is `{}` (every field it
 * could carry is optional). Anything else that is not a JSON object is `400 invalid_json`; `example`
 * (`{"reason": "..."}`) shows in the message what the body should look like.
 */
export function jsonBody(req: Pick<Request, 'body'>, opts: { optional?: boolean; example?: string } = {}): JsonBody {
  if (opts.optional && req.body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw new AffstreamError('invalid_json', opts.example ? `body must be JSON: ${opts.example}` : 'body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AffstreamError('invalid_json', 'body must be a JSON object');
  return v as JsonBody;
}

/**
 * A text field of a JSON body, at most `max` characters: '' when absent, null or empty — unless
 * `required` (`422 missing_field`); anything but a string is `422 invalid_field`.
 */
export function textField(body: JsonBody, name: string, max: number, required = false): string {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new AffstreamError('missing_field', `${name}: is required`);
    return '';
  }
  if (typeof v !== 'string' || v.length > max) throw new AffstreamError('invalid_field', `${name}: must be a string of at most ${max} characters`);
  return v;
}
