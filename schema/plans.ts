/**
 * Commission plans (docs/commissions.md): what an affiliate earns on a brand. A plan is a list of
 * versions; a change (`PUT /api/v1/plans/{planId}`) appends a version that applies from its
 * `effectiveFrom` on and never before, so a commission computed once is computed the same way by
 * every replay, and records the version it used.
 *
 * Money fields are exact decimal text with 4 places (schema/money.ts); percentages are decimal
 * text with at most 2 places, so `amount × pct / 100` stays exact in 4 places before its one
 * rounding.
 */
import { AffstreamError } from './errors.ts';
import { isId } from './config.ts';
import { parseMoney, toDecimalText, UNIT } from './money.ts';
import { parseIsoWithZone } from './events.ts';
import { countriesAt, currencyAt, flagAt, invalidField, objectAt, onlyKnown, type Affiliate, type Stamped } from './catalog.ts';

/** How a RevShare tier is picked: the period's NGR or its count of FTDs. */
export type TierBy = 'ngr' | 'ftds';

/**
 * What a negative RevShare period leaves for the next ones:
 * - `carry`: the negative balance is carried into the next periods until earned back;
 * - `reset-monthly`: a negative period earns nothing and the next starts from zero;
 * - `none`: no floor at all: a negative period gives a negative RevShare line.
 */
export type CarryOver = 'none' | 'carry' | 'reset-monthly';

/** A RevShare tier: from `from` (NGR in the plan's currency, or FTDs) on, `pct` of NGR. */
export interface RevshareTier {
  /** Decimal text (4 places) for `tierBy: ngr`, an integer count as text for `ftds`. */
  from: string;
  /** Percent of NGR, decimal text with at most 2 places (`"25.00"`). */
  pct: string;
}

/** CPA: a fixed amount per qualified FTD, once per player. */
export interface CpaTerms {
  /** Decimal text, 4 places. */
  amount: string;
  /** The player's deposits must reach this (decimal text, 4 places; "0.0000": any FTD). */
  minDeposit: string;
  /** KYC must be approved. */
  kycRequired: boolean;
  /** The player's stakes must reach this (decimal text, 4 places). */
  minWagering: string;
  /** ISO 3166 alpha-2 upper case; empty: every country. */
  countries: string[];
  /** Every condition must be met within this many days of registration (null: no limit). */
  withinDays: number | null;
}

/** RevShare: a percentage of the period's NGR, tiered. */
export interface RevshareTerms {
  /** Sorted by `from`, ascending; the first starts at 0. */
  tiers: RevshareTier[];
  tierBy: TierBy;
  carryOver: CarryOver;
}

/** One version of a plan: the terms in force from `effectiveFrom` until the next version's. */
export interface PlanVersion {
  /** 1, 2, 3… in order of `effectiveFrom`. */
  version: number;
  /** ISO 8601, UTC. */
  effectiveFrom: string;
  cpa: CpaTerms | null;
  revshare: RevshareTerms | null;
  /** Percent of a sub-affiliate's commission paid to this plan's affiliate as parent (decimal text, 2 places). */
  subAffiliatePct: string;
  /** Days a new line waits before `approve-due` may approve it. */
  holdDays: number;
}

/** A commission plan, as stored in the catalog. */
export interface Plan extends Stamped {
  id: string;
  brandId: string;
  /** ISO 4217: the brand's currency. */
  currency: string;
  /** Oldest first; never edited, only appended. */
  versions: PlanVersion[];
}

/** The version of `plan` in force at `ts` (ms), or null before its first version. */
export function planVersionAt(plan: Pick<Plan, 'versions'>, ts: number): PlanVersion | null {
  let found: PlanVersion | null = null;
  for (const v of plan.versions) {
    if (Date.parse(v.effectiveFrom) <= ts) found = v;
    else break;
  }
  return found;
}

/** The parts of the catalog that say who earns what: the Catalog itself, or any maps of the same shape. */
export interface PlanCatalog {
  affiliates: ReadonlyMap<string, Affiliate>;
  plans: ReadonlyMap<string, Plan>;
}

/**
 * The plan `affiliateId` earns by on `brandId`: its `plans` entry for the brand when it has one,
 * else its `planId` when that plan is the brand's, else null (nothing is earned). A plan that is
 * gone or belongs to another brand is null too: a plan never pays in another brand's currency.
 */
export function planOf(catalog: PlanCatalog, affiliateId: string, brandId: string): Plan | null {
  const affiliate = catalog.affiliates.get(affiliateId);
  if (!affiliate) return null;
  // hasOwn: a brand may be named `constructor` or `toString`, which every object inherits.
  const planId = Object.hasOwn(affiliate.plans, brandId) ? affiliate.plans[brandId] : affiliate.planId;
  const plan = planId ? catalog.plans.get(planId) : undefined;
  return plan?.brandId === brandId ? plan : null;
}

/** The affiliate `affiliateId` is a sub-affiliate of, or null: none, or a parent no longer in the catalog. */
export function parentOf(catalog: Pick<PlanCatalog, 'affiliates'>, affiliateId: string): string | null {
  const parentId = catalog.affiliates.get(affiliateId)?.parentId ?? null;
  return parentId !== null && catalog.affiliates.has(parentId) ? parentId : null;
}

const PLAN_FIELDS = ['brandId', 'currency', 'cpa', 'revshare', 'subAffiliatePct', 'holdDays', 'effectiveFrom'] as const;
const CPA_FIELDS = ['amount', 'minDeposit', 'kycRequired', 'minWagering', 'countries', 'withinDays'] as const;
const REVSHARE_FIELDS = ['tiers', 'tierBy', 'carryOver'] as const;
const TIER_BYS: readonly TierBy[] = ['ngr', 'ftds'];
const CARRY_OVERS: readonly CarryOver[] = ['none', 'carry', 'reset-monthly'];
const MAX_TIERS = 20;

/**
 * How far in the past an `effectiveFrom` may be: the client's clock and the request's trip, not a
 * way to change terms already applied.
 */
const CLOCK_SKEW_MS = 60_000;

/** What a version says, without its number and start. */
type Terms = Omit<PlanVersion, 'version' | 'effectiveFrom'>;

/** A non-negative amount (text or JSON number, at most 4 places) as 4-place text; `positive` refuses 0. */
function moneyAt(v: unknown, path: string, positive = false): string {
  if (v === undefined || v === null) throw invalidField(path, 'is required (a decimal string with at most 4 places)');
  const m = parseMoney(v);
  if (m === undefined) throw invalidField(path, 'must be a decimal string (or number) with at most 4 places');
  if (m < 0n || (positive && m === 0n)) throw invalidField(path, positive ? 'must be above 0' : 'must not be negative');
  return toDecimalText(m);
}

/** A percentage 0–100 with at most 2 decimals (text or JSON number), as 2-place text (`"25.00"`). */
function pctAt(v: unknown, path: string): string {
  const m = parseMoney(v);
  // In 1/10,000 units, 2 places are multiples of 100.
  if (m === undefined || m < 0n || m > 100n * UNIT || m % 100n !== 0n) throw invalidField(path, 'must be a percentage from 0 to 100 with at most 2 decimals');
  return toDecimalText(m).slice(0, -2);
}

/** An integer from `min` to `max`; `dflt` when absent. */
function intAt(v: unknown, path: string, min: number, max: number, dflt?: number): number {
  const n = v ?? dflt;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw invalidField(path, `must be an integer from ${min} to ${max}`);
  return n;
}

/** One of `allowed`; `dflt` when absent (required without one). */
function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], dflt?: T): T {
  const s = v ?? dflt;
  if (!allowed.includes(s as T)) throw invalidField(path, `must be one of ${allowed.join(', ')}`);
  return s as T;
}

/** An instant given as ms since epoch or ISO 8601 with a zone; undefined when absent. */
function instantAt(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? (parseIsoWithZone(v) ?? NaN) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > Date.UTC(9999, 11, 31)) {
    throw invalidField(path, 'must be milliseconds since epoch or an ISO 8601 time with a zone (2026-12-01T00:00:00Z, …+01:00)');
  }
  return ms;
}

function cpaAt(v: unknown): CpaTerms | null {
  if (v === undefined || v === null) return null;
  const o = objectAt(v, 'cpa');
  onlyKnown(o, CPA_FIELDS, 'cpa');
  return {
    amount: moneyAt(o.amount, 'cpa.amount', true),
    minDeposit: moneyAt(o.minDeposit ?? 0, 'cpa.minDeposit'),
    kycRequired: flagAt(o.kycRequired, 'cpa.kycRequired', false),
    minWagering: moneyAt(o.minWagering ?? 0, 'cpa.minWagering'),
    // Sorted: the same set of countries is the same terms (see the idempotent PUT).
    countries: countriesAt(o.countries, 'cpa.countries').sort(),
    withinDays: o.withinDays === undefined || o.withinDays === null ? null : intAt(o.withinDays, 'cpa.withinDays', 1, 3650),
  };
}

/** A tier's `from`, as its text and as a number to order tiers by (1/10,000 units for NGR). */
function tierFromAt(v: unknown, path: string, tierBy: TierBy): { text: string; at: bigint } {
  if (tierBy === 'ngr') {
    const text = moneyAt(v, path);
    return { text, at: parseMoney(text) as bigint };
  }
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : v;
  const count = intAt(n, path, 0, 1_000_000_000);
  return { text: String(count), at: BigInt(count) };
}

function revshareAt(v: unknown): RevshareTerms | null {
  if (v === undefined || v === null) return null;
  const o = objectAt(v, 'revshare');
  onlyKnown(o, REVSHARE_FIELDS, 'revshare');
  const tierBy = oneOf(o.tierBy, 'revshare.tierBy', TIER_BYS, 'ngr');
  const carryOver = oneOf(o.carryOver, 'revshare.carryOver', CARRY_OVERS);
  if (!Array.isArray(o.tiers) || o.tiers.length === 0 || o.tiers.length > MAX_TIERS) {
    throw invalidField('revshare.tiers', `must be a list of 1 to ${MAX_TIERS} tiers {"from", "pct"}`);
  }
  let previous: { text: string; at: bigint } | null = null;
  const tiers = o.tiers.map((t: unknown, i: number): RevshareTier => {
    const path = `revshare.tiers[${i}]`;
    const tier = objectAt(t, path);
    onlyKnown(tier, ['from', 'pct'], path);
    const from = tierFromAt(tier.from, `${path}.from`, tierBy);
    if (i === 0 && from.at !== 0n) throw invalidField(`${path}.from`, 'must be 0: the first tier starts at 0');
    if (previous && from.at <= previous.at) throw invalidField(`${path}.from`, `must be above the previous tier's from (${previous.text}): tiers ascend`);
    previous = from;
    return { from: from.text, pct: pctAt(tier.pct, `${path}.pct`) };
  });
  return { tiers, tierBy, carryOver };
}

function termsAt(body: Record<string, unknown>): Terms {
  const terms: Terms = {
    cpa: cpaAt(body.cpa),
    revshare: revshareAt(body.revshare),
    subAffiliatePct: pctAt(body.subAffiliatePct ?? 0, 'subAffiliatePct'),
    holdDays: intAt(body.holdDays, 'holdDays', 0, 365, 0),
  };
  if (terms.cpa === null && terms.revshare === null && terms.subAffiliatePct === '0.00') {
    throw invalidField('cpa', 'a plan must pay: give cpa, revshare or both, or a subAffiliatePct above 0 for a plan that only pays on sub-affiliates');
  }
  return terms;
}

/** Two versions' terms compared: the fields are built in one order, so their JSON is equal when they are. */
function sameTerms(a: Terms, b: Terms): boolean {
  const key = (t: Terms) => JSON.stringify([t.cpa, t.revshare, t.subAffiliatePct, t.holdDays]);
  return key(a) === key(b);
}

/**
 * Validate a plan body for `id` and make the plan to store (docs/api.md, "Commission plans"):
 * `prior`'s versions plus one for the body, from its `effectiveFrom` (default `now`, ms). Returns
 * `prior` itself when the body changes nothing: the same terms as the latest version with no
 * `effectiveFrom` or the latest's (a retried PUT adds no version).
 *
 * Throws `invalid_field` naming the key path for a bad body, and for an `effectiveFrom` more
 * than 60 s before `now` (never retroactive) or before the latest version's; `conflict` when
 * `brandId` or `currency` differ from `prior`'s (a plan's commissions are all in one brand and
 * currency: make another plan). Whether the brand exists is the caller's to check.
 */
export function parsePlan(id: string, body: Record<string, unknown>, prior: Plan | undefined, now: number): Plan {
  onlyKnown(body, PLAN_FIELDS);
  const brandId = body.brandId;
  if (!isId(brandId)) throw invalidField('brandId', 'is required: a brand id ([A-Za-z0-9_-]{1,64})');
  const currency = currencyAt(body.currency, 'currency');
  for (const [name, was, is] of [['brandId', prior?.brandId, brandId], ['currency', prior?.currency, currency]] as const) {
    if (was !== undefined && was !== is) throw new AffstreamError('conflict', `${name}: plan ${id} is ${was}, which never changes (make another plan for ${is})`);
  }
  const terms = termsAt(body);
  const requested = instantAt(body.effectiveFrom, 'effectiveFrom');
  const latest = prior?.versions.at(-1);
  if (prior && latest && sameTerms(latest, terms) && (requested === undefined || requested === Date.parse(latest.effectiveFrom))) return prior;

  const from = requested ?? now;
  if (from < now - CLOCK_SKEW_MS) {
    throw invalidField('effectiveFrom', `must not be before now (${iso(now)}) by more than 60 s: a plan change never applies retroactively`);
  }
  if (latest && from < Date.parse(latest.effectiveFrom)) {
    throw invalidField(
      'effectiveFrom',
      requested === undefined
        ? `is required while version ${latest.version} is scheduled (effectiveFrom ${latest.effectiveFrom}, after now): give one at or after it`
        : `must not be before version ${latest.version}'s effectiveFrom ${latest.effectiveFrom}`,
    );
  }
  const versions = prior?.versions ?? [];
  return {
    id,
    brandId,
    currency,
    versions: [...versions, { version: versions.length + 1, effectiveFrom: iso(from), ...terms }],
    createdAt: prior?.createdAt ?? iso(now),
    updatedAt: iso(now),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();
