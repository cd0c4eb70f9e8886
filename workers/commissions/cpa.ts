/**
 * CPA qualification (docs/commissions.md): whether a player's progress meets a plan version's CPA
 * conditions, at one of the player's events.
 */
import { parseMoney, type Money } from '../../schema/money.ts';
import type { CpaTerms } from '../../schema/plans.ts';

const DAY_MS = 86_400_000;

/** A player's way towards a CPA, counted from the FTD on. */
export interface CpaProgress {
  /** Registration time (ms): the `withinDays` deadline runs from it. */
  registeredAt: number;
  /** Deposits so far, the FTD included, less chargebacks. */
  deposits: Money;
  /** Stakes of the bets since the FTD. */
  stakes: Money;
}

/** The player as one event leaves it. */
export interface CpaCheck {
  ts: number;
  /** KYC status after the event. */
  kyc: string;
  /** The player's country ('' unknown). */
  country: string;
}

/** Where a player stands: `qualified` (make the line), `expired` (never: drop the progress), or `open`. */
export type CpaOutcome = 'qualified' | 'expired' | 'open';

/**
 * The outcome under `terms` at an event: every condition holds — deposits ≥ `minDeposit`, KYC
 * approved when `kycRequired`, stakes ≥ `minWagering`, the country in `countries` (when it lists
 * any; an unknown country is in none) — and the event is at most `withinDays` × 24 h after the
 * registration. Past that deadline a player not yet qualified never will be.
 */
export function cpaOutcome(terms: CpaTerms, p: CpaProgress, at: CpaCheck): CpaOutcome {
  if (terms.withinDays !== null && at.ts > p.registeredAt + terms.withinDays * DAY_MS) return 'expired';
  const met =
    p.deposits >= (parseMoney(terms.minDeposit) as Money) &&
    (!terms.kycRequired || at.kyc === 'approved') &&
    p.stakes >= (parseMoney(terms.minWagering) as Money) &&
    (terms.countries.length === 0 || terms.countries.includes(at.country));
  return met ? 'qualified' : 'open';
}
