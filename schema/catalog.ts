/**
 * The catalog (docs/api.md): brands, affiliates, links, rates and commission plans, as stored in
 * the NATS KV bucket and served by the admin API. Validation lives here so the admin API and
 * `import` reject the same things. Plans are validated in schema/plans.ts.
 */
import { AffstreamError } from './errors.ts';
import { isId } from './config.ts';
import type { TrafficStatus } from './wire.ts';
import { parseMoney, toDecimalText } from './money.ts';
import { parseFraudRules, type FraudRules } from './fraud.ts';
import type { Plan } from './plans.ts';

/** Fields every stored record carries. */
export interface Stamped {
  createdAt: string;
  updatedAt: string;
}

/** NGR settings of a brand (docs/commissions.md); percentages 0–100. */
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
  /** Fraud rules (docs/fraud.md): the defaults with the settings the operator gave. */
  fraud: FraudRules;
  /** IANA time zone of the brand's days and months (RevShare periods, docs/commissions.md). */
  timezone: string;
  /** Commission is payable only once the player's KYC is approved (docs/commissions.md). */
  kycGating: boolean;
  /**
   * Percent of the imported NGR (0–100, at most 2 decimals) by which the real-time layer may differ
   * before the `reconciliation` report flags a day (docs/reports.md).
   */
  reconciliationThresholdPct: number;
}

/** An affiliate. */
export interface Affiliate extends Stamped {
  id: string;
  name: string;
  status: TrafficStatus;
  parentId: string | null;
  apiKey: string | null;
  postbackUrl: string | null;
  /** A commission plan: it applies on its own brand, unless `plans` names another there. */
  planId: string | null;
  /** Plan id by brand id, for an affiliate on several brands; an entry wins over `planId` (`planOf` in schema/plans.ts). */
  plans: Record<string, string>;
}

/** A tracking link: `GET /c/{code}`. */
export interface Link extends Stamped {
  code: string;
  brandId: string;
  affiliateId: string;
  campaign: string;
  /** Landing URL template with macros (docs/api.md). */
  landingUrl: string;
}

/** A currency rate (docs/api.md): `amount in FROM × rate = amount in TO`, id `FROM-TO`. */
export interface Rate extends Stamped {
  id: string;
  /** Exact decimal text, at most 4 places. */
  rate: string;
}

/** Record type of each catalog kind, by its admin-API collection name. */
export interface CatalogRecords {
  brands: Brand;
  affiliates: Affiliate;
  links: Link;
  rates: Rate;
  plans: Plan;
}

/** The kinds of catalog record, by their admin-API collection name. */
export type CatalogKind = keyof CatalogRecords;

/** Every catalog kind. */
export const CATALOG_KINDS: readonly CatalogKind[] = ['brands', 'affiliates', 'links', 'rates', 'plans'];

/**
 * Fields added to a kind after records of it were first stored, with what their absence means in
 * an older record. The parsers fill them for new bodies, the catalog mirror for what it reads, so
 * every reader sees the current shape.
 */
export const ADDED_FIELDS = {
  brands: { timezone: 'UTC', kycGating: false, reconciliationThresholdPct: 0.5 },
  affiliates: { plans: {} },
} satisfies { [K in CatalogKind]?: Partial<CatalogRecords[K]> };

/** Macros a landing URL may hold. */
export const LANDING_MACROS = ['click_id', 'affiliate_id', 'brand_id', 'campaign', ...Array.from({ length: 10 }, (_, i) => `sub${i + 1}`)] as const;

type Json = Record<string, unknown>;

/** A 422 `invalid_field` naming the key path (`revshare.tiers[1].from`) and what it allows. */
export function invalidField(path: string, allowed: string): AffstreamError {
  return new AffstreamError('invalid_field', `${path}: ${allowed}`);
}

/** `v` as a JSON object, or `invalid_field` at `path`. */
export function objectAt(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidField(path, 'must be an object');
  return v as Json;
}

/** Refuse the keys of `body` (found at `prefix`, '' for a whole body) not in `known`, listing the allowed ones. */
export function onlyKnown(body: Json, known: readonly string[], prefix = ''): void {
  for (const k of Object.keys(body)) {
    if (!known.includes(k)) throw invalidField(prefix === '' ? k : `${prefix}.${k}`, `is not a field; allowed: ${known.join(', ')}`);
  }
}

/** A JSON boolean, `dflt` when absent. */
export function flagAt(v: unknown, path: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw invalidField(path, 'must be true or false');
  return v;
}

/** An ISO 4217 code, upper-cased. */
export function currencyAt(v: unknown, path: string): string {
  if (v === undefined || v === null) throw invalidField(path, 'is required (an ISO 4217 code)');
  if (typeof v !== 'string' || !/^[A-Za-z]{3}$/.test(v)) throw invalidField(path, 'must be an ISO 4217 code');
  return v.toUpperCase();
}

/** A list of ISO 3166 alpha-2 codes, upper-cased, each once, in the order given; absent: empty. */
export function countriesAt(v: unknown, path: string): string[] {
  const list = v ?? [];
  if (!Array.isArray(list) || !list.every((c) => typeof c === 'string' && /^[A-Za-z]{2}$/.test(c))) {
    throw invalidField(path, 'must be a list of ISO 3166 alpha-2 codes');
  }
  return [...new Set(list.map((c: string) => c.toUpperCase()))];
}

/** True for a time zone name both the runtime and ClickHouse know: IANA, such as Europe/Malta. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
  } catch {
    return false;
  }
  // The name may be written into SQL (ClickHouse's time zone arguments): letters, digits and _ + - / only.
  return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(tz);
}

function str(body: Json, name: string, opts: { max?: number; optional?: boolean } = {}): string | null {
  const v = body[name];
  if (v === undefined || v === null) {
    if (opts.optional) return null;
    throw invalidField(name, 'is required');
  }
  if (typeof v !== 'string') throw invalidField(name, 'must be a string');
  if (v.length > (opts.max ?? 256)) throw invalidField(name, `must be at most ${opts.max ?? 256} characters`);
  return v;
}

function num(body: Json, name: string, min: number, max: number, dflt: number, integer = false, path = name): number {
  const v = body[name] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw invalidField(path, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return v;
}

/**
 * A percentage 0–100 with at most 2 decimals (an exact 4-place rate once divided by 100), `dflt`
 * when absent. The decimals are counted on the number's shortest text: `0.29 * 100` is not an integer.
 */
function percentAt(body: Json, name: string, dflt: number, path = name): number {
  const v = num(body, name, 0, 100, dflt, false, path);
  if (!/^\d+(\.\d{1,2})?$/.test(String(v))) throw invalidField(path, 'must have at most 2 decimals');
  return v;
}

function httpUrl(name: string, v: string): void {
  // The URL parser drops tabs and line breaks, but the redirect writes the text as stored into its
  // Location header: a CR/LF there would let a catalog entry inject headers into every 302.
  if (/[\u0000-\u001f\u007f]/.test(v)) throw invalidField(name, 'must not contain control characters (tab, CR, LF…)');
  let ok = false;
  try {
    ok = /^https?:$/.test(new URL(v).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw invalidField(name, 'must be an absolute http or https URL');
}

/** Check an id from a path (docs/api.md: `[A-Za-z0-9_-]{1,64}`). */
export function checkId(id: string, what: string): string {
  if (!isId(id)) throw new AffstreamError('invalid_id', `${what} must match [A-Za-z0-9_-]{1,64}`);
  return id;
}

const BRAND_FIELDS = ['id', 'name', 'currency', 'jurisdiction', 'attributionWindowDays', 'restrictedCountries', 'restrictedUrl', 'postbackSecret', 'ngr', 'fraud', 'timezone', 'kycGating', 'reconciliationThresholdPct', 'createdAt', 'updatedAt'] as const;

/**
 * The brand's time zone, default UTC. A name differing from the runtime's only in case (`utc`,
 * `europe/malta`) is stored as the runtime spells it, which ClickHouse also reads; any other is
 * kept as given (the runtime would rename `Asia/Kolkata` to `Asia/Calcutta`).
 */
function timeZoneAt(v: unknown): string {
  if (v === undefined || v === null) return ADDED_FIELDS.brands.timezone;
  if (typeof v !== 'string' || !isTimeZone(v)) throw invalidField('timezone', 'must be an IANA time zone such as Europe/Malta or UTC');
  const known = new Intl.DateTimeFormat(undefined, { timeZone: v }).resolvedOptions().timeZone;
  return known.toLowerCase() === v.toLowerCase() ? known : v;
}

/** Validate a brand body for `id`; stamps are filled by the caller. */
export function parseBrand(id: string, body: Json): Omit<Brand, keyof Stamped> {
  onlyKnown(body, BRAND_FIELDS);
  const restrictedUrl = str(body, 'restrictedUrl', { optional: true, max: 2048 });
  if (restrictedUrl !== null) httpUrl('restrictedUrl', restrictedUrl);
  const ngr = objectAt(body.ngr ?? {}, 'ngr');
  onlyKnown(ngr, ['paymentFeePct', 'gamingTaxPct'], 'ngr');
  return {
    id,
    name: str(body, 'name') as string,
    currency: currencyAt(body.currency, 'currency'),
    jurisdiction: str(body, 'jurisdiction', { optional: true, max: 64 }) ?? '',
    attributionWindowDays: num(body, 'attributionWindowDays', 1, 3650, 30, true),
    restrictedCountries: countriesAt(body.restrictedCountries, 'restrictedCountries'),
    restrictedUrl,
    postbackSecret: str(body, 'postbackSecret', { optional: true, max: 256 }),
    ngr: { paymentFeePct: percentAt(ngr, 'paymentFeePct', 0, 'ngr.paymentFeePct'), gamingTaxPct: percentAt(ngr, 'gamingTaxPct', 0, 'ngr.gamingTaxPct') },
    fraud: parseFraudRules(body.fraud),
    timezone: timeZoneAt(body.timezone),
    kycGating: flagAt(body.kycGating, 'kycGating', ADDED_FIELDS.brands.kycGating),
    reconciliationThresholdPct: percentAt(body, 'reconciliationThresholdPct', ADDED_FIELDS.brands.reconciliationThresholdPct),
  };
}

const AFFILIATE_FIELDS = ['id', 'name', 'status', 'parentId', 'apiKey', 'postbackUrl', 'planId', 'plans', 'createdAt', 'updatedAt'] as const;

/** `plans` of an affiliate: brand id → plan id. Whether the plans exist is checked by the caller. */
function planMapAt(v: unknown): Record<string, string> {
  const map = objectAt(v ?? {}, 'plans');
  // fromEntries defines own properties: a brand named __proto__ stays a key, not a prototype.
  return Object.fromEntries(
    Object.entries(map).map(([brandId, planId]) => {
      if (!isId(brandId)) throw invalidField('plans', 'keys must be brand ids ([A-Za-z0-9_-]{1,64})');
      if (!isId(planId)) throw invalidField(`plans.${brandId}`, 'must be a plan id ([A-Za-z0-9_-]{1,64})');
      return [brandId, planId];
    }),
  );
}

/** Validate an affiliate body for `id`. */
export function parseAffiliate(id: string, body: Json): Omit<Affiliate, keyof Stamped> {
  onlyKnown(body, AFFILIATE_FIELDS);
  const status = body.status ?? 'active';
  if (status !== 'active' && status !== 'paused' && status !== 'blocked') throw invalidField('status', 'must be active, paused or blocked');
  const parentId = str(body, 'parentId', { optional: true, max: 64 });
  if (parentId !== null) {
    checkId(parentId, 'parentId');
    if (parentId === id) throw invalidField('parentId', 'cannot be the affiliate itself');
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
    plans: planMapAt(body.plans),
  };
}

const LINK_FIELDS = ['code', 'brandId', 'affiliateId', 'campaign', 'landingUrl', 'createdAt', 'updatedAt'] as const;

/** Validate a link body for `code`. References are checked by the caller against the catalog. */
export function parseLink(code: string, body: Json): Omit<Link, keyof Stamped> {
  onlyKnown(body, LINK_FIELDS);
  const landingUrl = str(body, 'landingUrl', { max: 4096 }) as string;
  for (const m of landingUrl.matchAll(/\{([^{}]*)\}/g)) {
    if (!(LANDING_MACROS as readonly string[]).includes(m[1] as string)) {
      throw invalidField('landingUrl', `unknown macro {${m[1]}}; allowed: ${LANDING_MACROS.map((x) => `{${x}}`).join(' ')}`);
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
  if (r === undefined || r <= 0n) throw invalidField('rate', 'must be a positive decimal with at most 4 places');
  return { id, rate: toDecimalText(r) };
}
