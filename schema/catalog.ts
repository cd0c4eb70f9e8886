/**
 * The catalog (SPEC §3): brands, affiliates and links, as stored in the NATS KV bucket and served
 * by the admin API. Validation lives here so the admin API and `import` reject the same things.
 */
import { AffstreamError } from './errors.ts';
import { isId } from './config.ts';
import type { TrafficStatus } from './wire.ts';
import { parseMoney, toDecimalText } from './money.ts';
import { parseFraudRules, type FraudRules } from './fraud.ts';

/** Fields every stored record carries. */
export interface Stamped {
  createdAt: string;
  updatedAt: string;
}

/** NGR settings of a brand (SPEC §8); percentages 0–100. */
export interface NgrSettings {
  paymentFeePct: number;
  gamingTaxPct: number;
}

/** A casino brand of the operator. */
export interface Brand extends Stamped {
  id: string;
  name: string;
  /** ISO 4217. */
  currency: string;
  jurisdiction: string;
  attributionWindowDays: number;
  /** ISO 3166 alpha-2, upper case. */
  restrictedCountries: string[];
  /** Where geo-blocked visitors go; without it they get the configured status (451). */
  restrictedUrl: string | null;
  postbackSecret: string | null;
  ngr: NgrSettings;
  /** Fraud rules (SPEC §7): the defaults with the settings the operator gave. */
  fraud: FraudRules;
}

/** An affiliate. */
export interface Affiliate extends Stamped {
  id: string;
  name: string;
  status: TrafficStatus;
  parentId: string | null;
  apiKey: string | null;
  postbackUrl: string | null;
  planId: string | null;
}

/** A tracking link: `GET /c/{code}`. */
export interface Link extends Stamped {
  code: string;
  brandId: string;
  affiliateId: string;
  campaign: string;
  /** Landing URL template with macros (SPEC §4). */
  landingUrl: string;
}

/** A currency rate (SPEC §5): `amount in FROM × rate = amount in TO`, id `FROM-TO`. */
export interface Rate extends Stamped {
  id: string;
  /** Exact decimal text, at most 4 places. */
  rate: string;
}

/** The kinds of catalog record, by their admin-API collection name. */
export type CatalogKind = 'brands' | 'affiliates' | 'links' | 'rates';

/** Every catalog kind. */
export const CATALOG_KINDS: readonly CatalogKind[] = ['brands', 'affiliates', 'links', 'rates'];

/** Macros a landing URL may hold. */
export const LANDING_MACROS = ['click_id', 'affiliate_id', 'brand_id', 'campaign', ...Array.from({ length: 10 }, (_, i) => `sub${i + 1}`)] as const;

type Json = Record<string, unknown>;

function field(code: 'invalid_field', name: string, message: string): AffstreamError {
  return new AffstreamError(code, `${name}: ${message}`);
}

function str(body: Json, name: string, opts: { max?: number; optional?: boolean; pattern?: RegExp; what?: string } = {}): string | null {
  const v = body[name];
  if (v === undefined || v === null) {
    if (opts.optional) return null;
    throw field('invalid_field', name, 'is required');
  }
  if (typeof v !== 'string') throw field('invalid_field', name, 'must be a string');
  if (v.length > (opts.max ?? 256)) throw field('invalid_field', name, `must be at most ${opts.max ?? 256} characters`);
  if (opts.pattern && !opts.pattern.test(v)) throw field('invalid_field', name, `must be ${opts.what}`);
  return v;
}

function num(body: Json, name: string, min: number, max: number, dflt: number, integer = false): number {
  const v = body[name] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw field('invalid_field', name, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return v;
}

function onlyKnown(body: Json, known: readonly string[]): void {
  for (const k of Object.keys(body)) {
    if (!known.includes(k)) throw field('invalid_field', k, `is not a field; allowed: ${known.join(', ')}`);
  }
}

function httpUrl(name: string, v: string): void {
  // The URL parser drops tabs and line breaks, but the redirect writes the text as stored into its
  // Location header: a CR/LF there would let a catalog entry inject headers into every 302.
  if (/[\u0000-\u001f\u007f]/.test(v)) throw field('invalid_field', name, 'must not contain control characters (tab, CR, LF…)');
  let ok = false;
  try {
    ok = /^https?:$/.test(new URL(v).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw field('invalid_field', name, 'must be an absolute http or https URL');
}

/** Check an id from a path (SPEC §3). */
export function checkId(id: string, what: string): string {
  if (!isId(id)) throw new AffstreamError('invalid_id', `${what} must match [A-Za-z0-9_-]{1,64}`);
  return id;
}

const BRAND_FIELDS = ['id', 'name', 'currency', 'jurisdiction', 'attributionWindowDays', 'restrictedCountries', 'restrictedUrl', 'postbackSecret', 'ngr', 'fraud', 'createdAt', 'updatedAt'] as const;

/** Validate a brand body for `id`; stamps are filled by the caller. */
export function parseBrand(id: string, body: Json): Omit<Brand, keyof Stamped> {
  onlyKnown(body, BRAND_FIELDS);
  const restricted = body.restrictedCountries ?? [];
  if (!Array.isArray(restricted) || !restricted.every((c) => typeof c === 'string' && /^[A-Za-z]{2}$/.test(c))) {
    throw field('invalid_field', 'restrictedCountries', 'must be a list of ISO 3166 alpha-2 codes');
  }
  const restrictedUrl = str(body, 'restrictedUrl', { optional: true, max: 2048 });
  if (restrictedUrl !== null) httpUrl('restrictedUrl', restrictedUrl);
  const ngr = (body.ngr ?? {}) as Json;
  if (typeof ngr !== 'object' || Array.isArray(ngr)) throw field('invalid_field', 'ngr', 'must be an object');
  onlyKnown(ngr, ['paymentFeePct', 'gamingTaxPct']);
  for (const k of ['paymentFeePct', 'gamingTaxPct'] as const) {
    const v = ngr[k];
    if (typeof v === 'number' && Math.round(v * 100) !== v * 100) throw field('invalid_field', `ngr.${k}`, 'must have at most 2 decimals');
  }
  return {
    id,
    name: str(body, 'name') as string,
    currency: (str(body, 'currency', { pattern: /^[A-Za-z]{3}$/, what: 'an ISO 4217 code' }) as string).toUpperCase(),
    jurisdiction: str(body, 'jurisdiction', { optional: true, max: 64 }) ?? '',
    attributionWindowDays: num(body, 'attributionWindowDays', 1, 3650, 30, true),
    restrictedCountries: [...new Set(restricted.map((c: string) => c.toUpperCase()))],
    restrictedUrl,
    postbackSecret: str(body, 'postbackSecret', { optional: true, max: 256 }),
    ngr: { paymentFeePct: num(ngr, 'paymentFeePct', 0, 100, 0), gamingTaxPct: num(ngr, 'gamingTaxPct', 0, 100, 0) },
    fraud: parseFraudRules(body.fraud),
  };
}

const AFFILIATE_FIELDS = ['id', 'name', 'status', 'parentId', 'apiKey', 'postbackUrl', 'planId', 'createdAt', 'updatedAt'] as const;

/** Validate an affiliate body for `id`. */
export function parseAffiliate(id: string, body: Json): Omit<Affiliate, keyof Stamped> {
  onlyKnown(body, AFFILIATE_FIELDS);
  const status = body.status ?? 'active';
  if (status !== 'active' && status !== 'paused' && status !== 'blocked') throw field('invalid_field', 'status', 'must be active, paused or blocked');
  const parentId = str(body, 'parentId', { optional: true, max: 64 });
  if (parentId !== null) {
    checkId(parentId, 'parentId');
    if (parentId === id) throw field('invalid_field', 'parentId', 'cannot be the affiliate itself');
  }
  const postbackUrl = str(body, 'postbackUrl', { optional: true, max: 4096 });
  if (postbackUrl !== null) httpUrl('postbackUrl', postbackUrl.replace(/\{[a-z0-9_]+\}/g, 'x'));
  const planId = str(body, 'planId', { optional: true, max: 64 });
  if (planId !== null) checkId(planId, 'planId');
  return {
    id,
    name: str(body, 'name') as string,
    status,
    parentId,
    apiKey: str(body, 'apiKey', { optional: true, max: 256 }),
    postbackUrl,
    planId,
  };
}

const LINK_FIELDS = ['code', 'brandId', 'affiliateId', 'campaign', 'landingUrl', 'createdAt', 'updatedAt'] as const;

/** Validate a link body for `code`. References are checked by the caller against the catalog. */
export function parseLink(code: string, body: Json): Omit<Link, keyof Stamped> {
  onlyKnown(body, LINK_FIELDS);
  const landingUrl = str(body, 'landingUrl', { max: 4096 }) as string;
  for (const m of landingUrl.matchAll(/\{([^{}]*)\}/g)) {
    if (!(LANDING_MACROS as readonly string[]).includes(m[1] as string)) {
      throw field('invalid_field', 'landingUrl', `unknown macro {${m[1]}}; allowed: ${LANDING_MACROS.map((x) => `{${x}}`).join(' ')}`);
    }
  }
  httpUrl('landingUrl', landingUrl.replace(/\{[a-z0-9_]+\}/g, 'x'));
  return {
    code,
    brandId: checkId(str(body, 'brandId', { max: 64 }) as string, 'brandId'),
    affiliateId: checkId(str(body, 'affiliateId', { max: 64 }) as string, 'affiliateId'),
    campaign: str(body, 'campaign', { optional: true, max: 256 }) ?? '',
    landingUrl,
  };
}

/** Validate a rate body for `id` (`FROM-TO`, two ISO 4217 codes). */
export function parseRate(id: string, body: Json): Omit<Rate, keyof Stamped> {
  onlyKnown(body, ['id', 'rate', 'createdAt', 'updatedAt']);
  if (!/^[A-Z]{3}-[A-Z]{3}$/.test(id)) throw new AffstreamError('invalid_id', 'a rate id is FROM-TO in ISO 4217 codes, e.g. USD-EUR');
  const r = parseMoney(body.rate);
  if (r === undefined || r <= 0n) throw field('invalid_field', 'rate', 'must be a positive decimal with at most 4 places');
  return { id, rate: toDecimalText(r) };
}
