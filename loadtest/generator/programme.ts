/**
 * The casino programme a generated run plays out: brands with their NGR settings, time zones and
 * restricted countries, affiliates whose traffic follows a Zipf law, their links and sub-IDs, the
 * currency rates, and the commission plans the affiliates earn by (a few of them as sub-affiliates
 * of others). Pure data, derived from a seed and a run tag, so the harness (which creates the
 * catalog and keeps the ledgers) and the load driver (which sends the traffic) derive the same one.
 */
import type { PlanVersion } from '../../schema/mod.ts';
import { Rng, Weighted, zipfWeights } from './random.ts';

/** A brand of the programme. */
export interface BrandPlan {
  id: string;
  currency: string;
  restrictedCountries: string[];
  /** Percent of deposits, at most 2 decimals (docs/architecture.md, “Money”). */
  paymentFeePct: string;
  /** Percent of GGR, at most 2 decimals. */
  gamingTaxPct: string;
  attributionWindowDays: number;
  /** IANA time zone: RevShare periods are its calendar months. */
  timezone: string;
}

/** A tracking link. */
export interface LinkPlan {
  code: string;
  brandId: string;
  affiliateId: string;
  campaign: string;
}

/** An affiliate and the traffic it sends. */
export interface AffiliatePlan {
  id: string;
  status: 'active' | 'paused';
  /** Share of the programme's visitors (Zipf by rank). */
  weight: number;
  /** Its clean sub-IDs (`sub1`); planted fraud uses sub-IDs of its own (`fr-…`). */
  subIds: string[];
  /** Codes of its links, one per brand, plus extra ones for the click-flood plant. */
  links: string[];
  /** Its plan on the plan's own brand (`planId` of `PUT /api/v1/affiliates/{id}`), or null. */
  planId: string | null;
  /** Its plans on other brands: brand id → plan id (`plans`). */
  plans: Record<string, string>;
  /** The affiliate it is a sub-affiliate of, or null. */
  parentId: string | null;
}

/** What a plan version pays, as `PUT /api/v1/plans/{planId}` takes it (docs/commissions.md). */
export type PlanTerms = Omit<PlanVersion, 'version' | 'effectiveFrom'>;

/** A commission plan of the programme. */
export interface ProgrammePlan {
  id: string;
  brandId: string;
  currency: string;
  /** The terms from the catalog's setup on (version 1). */
  terms: PlanTerms;
  /** The terms from the middle of the run on (version 2), when the plan changes during the run. */
  midRun?: PlanTerms;
}

/** The whole programme. */
export interface Programme {
  /** Part of every id, so runs never collide. */
  tag: string;
  brands: BrandPlan[];
  affiliates: AffiliatePlan[];
  links: LinkPlan[];
  /** `FROM-TO` → rate (exact decimal text), as `PUT /api/v1/rates/{FROM}-{TO}` takes it. */
  rates: Record<string, string>;
  plans: ProgrammePlan[];
}

/** Affiliates in a programme: enough for a long Zipf tail. */
export const AFFILIATES = 40;
/** Zipf exponent: the top affiliate brings ~20% of the visitors, the last ~0.3%. */
const ZIPF_S = 1.1;
/** Links the click-flood affiliate gets beyond its one per brand: the flood spreads over them. */
export const FLOOD_EXTRA_LINKS = 5;
/** Rank (0-based) of the affiliates that carry each planted fraud case; none is paused. */
export const FRAUD_RANKS = { ipRegistrations: 2, bonusAbuse: 3, conversionRate: 4, clickFlood: 5, chargebackRate: 6, ftdCluster: 8, multiAccount: [1, 7, 10] } as const;
/** The paused affiliate (its clicks are still redirected, recorded as paused, and count as unique). */
const PAUSED_RANK = 12;

/**
 * What an affiliate earns by on a brand, one of the brand's plans: CPA qualified over the funnel
 * (`cpa`) or on the FTD alone (`cpaftd`), RevShare tiered by NGR (`rs`) or by FTDs (`rsftd`), both
 * (`hybrid`), or nothing but its sub-affiliates' share (`parent`).
 */
type PlanRole = 'cpa' | 'cpaftd' | 'rs' | 'rsftd' | 'hybrid' | 'parent';
const ROLES: readonly PlanRole[] = ['cpa', 'cpaftd', 'rs', 'rsftd', 'hybrid', 'parent'];

/** The plans every affiliate draws from on each brand (the parent-only plan goes to a parent alone). */
const DRAWN_PLAN = new Weighted<PlanRole | null>(['cpa', 'cpaftd', 'rs', 'rsftd', 'hybrid', null], [25, 10, 20, 15, 20, 10]);
/** Sub-affiliates drawn in a programme, besides the paused affiliate and the chargeback plant's. */
const DRAWN_CHILDREN = 4;
const tiers = (...pairs: [string, string][]) => pairs.map(([from, pct]) => ({ from, pct }));

/**
 * The plans of the two brands (docs/commissions.md): a CPA plan with qualification, RevShare tiered
 * by NGR and by FTDs, a hybrid, and a parent-only plan, with every carry-over mode, awkward money
 * (33.33, 0.01, one-third splits) and, on one CPA and one RevShare plan, a second version from the
 * middle of the run.
 */
const NONE = { cpa: null, revshare: null, subAffiliatePct: '0' } as const;
const BRAND_PLANS: Record<'eu' | 'uk', Record<PlanRole, PlanTerms> & { midRun: Partial<Record<PlanRole, PlanTerms>> }> = {
  eu: {
    cpa: { ...NONE, cpa: { amount: '33.33', minDeposit: '20', kycRequired: true, minWagering: '50', countries: [], withinDays: 30 }, holdDays: 30 },
    cpaftd: { ...NONE, cpa: { amount: '50', minDeposit: '20', kycRequired: false, minWagering: '0', countries: [], withinDays: 1 }, holdDays: 7 },
    rs: { ...NONE, revshare: { tierBy: 'ngr', tiers: tiers(['0', '20'], ['0.01', '25'], ['500', '30'], ['2500', '35']), carryOver: 'carry' }, holdDays: 0 },
    rsftd: { ...NONE, revshare: { tierBy: 'ftds', tiers: tiers(['0', '25'], ['3', '30'], ['10', '33.33'], ['25', '40']), carryOver: 'none' }, holdDays: 7 },
    hybrid: {
      cpa: { amount: '12.5', minDeposit: '0.01', kycRequired: false, minWagering: '0', countries: [], withinDays: 14 },
      revshare: { tierBy: 'ngr', tiers: tiers(['0', '15'], ['1000', '20']), carryOver: 'reset-monthly' },
      subAffiliatePct: '10',
      holdDays: 14,
    },
    parent: { ...NONE, subAffiliatePct: '33.33', holdDays: 0 },
    midRun: { cpa: { ...NONE, cpa: { amount: '40', minDeposit: '20', kycRequired: true, minWagering: '25', countries: [], withinDays: 30 }, holdDays: 30 } },
  },
  uk: {
    cpa: { ...NONE, cpa: { amount: '75', minDeposit: '25', kycRequired: false, minWagering: '100', countries: ['CA', 'FI', 'GB', 'NO', 'NZ'], withinDays: 7 }, holdDays: 14 },
    cpaftd: { ...NONE, cpa: { amount: '20', minDeposit: '10', kycRequired: false, minWagering: '0', countries: [], withinDays: 1 }, holdDays: 7 },
    rs: { ...NONE, revshare: { tierBy: 'ngr', tiers: tiers(['0', '25'], ['0.01', '30'], ['1000', '33.33']), carryOver: 'reset-monthly' }, holdDays: 0 },
    rsftd: { ...NONE, revshare: { tierBy: 'ftds', tiers: tiers(['0', '20'], ['2', '25'], ['5', '30'], ['15', '35']), carryOver: 'carry' }, holdDays: 7 },
    hybrid: {
      cpa: { amount: '0.01', minDeposit: '10', kycRequired: true, minWagering: '0', countries: [], withinDays: 3 },
      revshare: { tierBy: 'ngr', tiers: tiers(['0', '33.33']), carryOver: 'none' },
      subAffiliatePct: '5',
      holdDays: 14,
    },
    parent: { ...NONE, subAffiliatePct: '20', holdDays: 0 },
    midRun: { rs: { ...NONE, revshare: { tierBy: 'ngr', tiers: tiers(['0', '25'], ['0.01', '35'], ['1000', '40']), carryOver: 'none' }, holdDays: 0 } },
  },
};

/** `k` distinct elements of `list`, drawn in order. */
function drawDistinct<T>(rng: Rng, list: readonly T[], k: number): T[] {
  const left = [...list];
  return Array.from({ length: Math.min(k, left.length) }, () => left.splice(rng.int(0, left.length - 1), 1)[0] as T);
}

/**
 * Who earns by which plan (deterministic from the seed): most affiliates draw a plan per brand.
 * Two of the tail are parents — one by the parent-only plan, one by the hybrid (its own traffic
 * earns too) — of four affiliates drawn among the twenty busiest, of the paused affiliate (its
 * lines, and its parent's share of them, are held) and of the chargeback plant's (its CPA lines on
 * the FTD are reversed, and its parent's shares with them). That one earns by CPA alone: the block
 * its chargebacks bring lands at a time of its own, and would split its RevShare NGR between paid
 * and held unpredictably. Other planted fraud stays away from parents and the drawn children.
 */
function assignPlans(rng: Rng, brands: readonly BrandPlan[], ranks: number): { roles: (PlanRole | null)[][]; parents: (number | null)[] } {
  const fraud = new Set<number>(Object.values(FRAUD_RANKS).flat());
  const free = (r: number) => !fraud.has(r) && r !== PAUSED_RANK;
  const all = Array.from({ length: ranks }, (_, r) => r);
  const [byShare, byHybrid] = drawDistinct(rng, all.filter((r) => r >= 20 && free(r)), 2) as [number, number];
  const parents = new Map<number, number>([
    [PAUSED_RANK, byHybrid],
    [FRAUD_RANKS.chargebackRate, byShare],
  ]);
  drawDistinct(rng, all.filter((r) => r < 20 && free(r)), DRAWN_CHILDREN).forEach((r, i) => parents.set(r, i % 2 === 0 ? byShare : byHybrid));
  const fixed = new Map<number, PlanRole>([
    [byShare, 'parent'],
    [byHybrid, 'hybrid'],
    [PAUSED_RANK, 'hybrid'],
    [FRAUD_RANKS.chargebackRate, 'cpaftd'],
  ]);
  const roles = all.map((r) => brands.map((): PlanRole | null => fixed.get(r) ?? DRAWN_PLAN.draw(rng)));
  return { roles, parents: all.map((r) => parents.get(r) ?? null) };
}

/** The programme of run `tag`. */
export function planProgramme(tag: string, seed: number): Programme {
  const rng = new Rng(seed ^ 0x5eed);
  const eu: BrandPlan = { id: `gen-${tag}-eu`, currency: 'EUR', restrictedCountries: ['US', 'FR'], paymentFeePct: '2.5', gamingTaxPct: '15', attributionWindowDays: 30, timezone: 'Europe/Malta' };
  const uk: BrandPlan = { id: `gen-${tag}-uk`, currency: 'GBP', restrictedCountries: ['US'], paymentFeePct: '1.75', gamingTaxPct: '21', attributionWindowDays: 90, timezone: 'Europe/London' };
  const brands = [eu, uk];
  const weights = zipfWeights(AFFILIATES, ZIPF_S);
  const total = weights.reduce((a, b) => a + b, 0);
  const links: LinkPlan[] = [];
  // Plans draw from a source of their own: the traffic's draws stay what they were before plans.
  const { roles, parents } = assignPlans(new Rng(seed ^ 0xc0de), brands, AFFILIATES);
  const short = (b: BrandPlan) => (b === eu ? 'eu' : 'uk');
  const planIdOf = (b: BrandPlan, role: PlanRole) => `gen-${tag}-${short(b)}-${role}`;
  const affiliates = weights.map((w, rank): AffiliatePlan => {
    const id = `gen-${tag}-aff-${rank}`;
    const subIds = Array.from({ length: rng.int(1, 6) }, (_, k) => `s${rank}-${k}`);
    const codes: string[] = [];
    const extra = rank === FRAUD_RANKS.clickFlood ? FLOOD_EXTRA_LINKS : 0;
    for (let k = 0; k < brands.length + extra; k++) {
      const brand = brands[k % brands.length] as BrandPlan;
      const code = `gen-${tag}-l${rank}-${k}`;
      codes.push(code);
      links.push({ code, brandId: brand.id, affiliateId: id, campaign: rng.pick(['welcome', 'spring', 'highroller', 'sports-cup']) });
    }
    // Both ways of naming a plan: `planId` for one brand (the first, or the second on odd ranks), `plans` for the other.
    const named = brands.flatMap((b, i) => (roles[rank]?.[i] ? [[b.id, planIdOf(b, roles[rank]?.[i] as PlanRole)] as const] : []));
    if (rank % 2 === 1) named.reverse();
    const parent = parents[rank] ?? null;
    return {
      id, status: rank === PAUSED_RANK ? 'paused' : 'active', weight: w / total, subIds, links: codes,
      planId: named[0]?.[1] ?? null, plans: Object.fromEntries(named.slice(1)), parentId: parent === null ? null : `gen-${tag}-aff-${parent}`,
    };
  });
  const plans = brands.flatMap((b) => {
    const t = BRAND_PLANS[short(b)];
    return ROLES.map((role): ProgrammePlan => {
      const midRun = t.midRun[role];
      return { id: planIdOf(b, role), brandId: b.id, currency: b.currency, terms: t[role], ...(midRun ? { midRun } : {}) };
    });
  });
  return { tag, brands, affiliates, links, rates: { 'USD-EUR': '0.9234', 'USD-GBP': '0.7891' }, plans };
}
