/**
 * The casino programme a generated run plays out: brands with their NGR settings and restricted
 * countries, affiliates whose traffic follows a Zipf law, their links and sub-IDs, and the
 * currency rates. Pure data, derived from a seed and a run tag, so the harness (which creates the
 * catalog and keeps the ledger) and the load driver (which sends the traffic) derive the same one.
 */
import { Rng, zipfWeights } from './random.ts';

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

/** The programme of run `tag`. */
export function planProgramme(tag: string, seed: number): Programme {
  const rng = new Rng(seed ^ 0x5eed);
  const brands: BrandPlan[] = [
    { id: `gen-${tag}-eu`, currency: 'EUR', restrictedCountries: ['US', 'FR'], paymentFeePct: '2.5', gamingTaxPct: '15', attributionWindowDays: 30 },
    { id: `gen-${tag}-uk`, currency: 'GBP', restrictedCountries: ['US'], paymentFeePct: '1.75', gamingTaxPct: '21', attributionWindowDays: 90 },
  ];
  const weights = zipfWeights(AFFILIATES, ZIPF_S);
  const total = weights.reduce((a, b) => a + b, 0);
  const links: LinkPlan[] = [];
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
    return { id, status: rank === PAUSED_RANK ? 'paused' : 'active', weight: w / total, subIds, links: codes };
  });
  return { tag, brands, affiliates, links, rates: { 'USD-EUR': '0.9234', 'USD-GBP': '0.7891' } };
}
