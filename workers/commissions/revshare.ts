/**
 * RevShare money (docs/commissions.md): which tier a period reaches, and what a closed period
 * pays once its carry-over is applied. Amounts are exact (schema/money.ts); the one rounding is
 * {@link percentOf}'s, once per line.
 */
import { AffstreamError } from '../../schema/errors.ts';
import { multiply, parseMoney, type Money } from '../../schema/money.ts';
import type { CarryOver, RevshareTerms, RevshareTier } from '../../schema/plans.ts';

/**
 * `pct` percent of `amount`, rounded half away from zero to 0.0001. Percentages have at most two
 * decimals (the catalog checks it), so `pct / 100` is exact in 4 places and this is the only
 * rounding; a percentage with more decimals is refused rather than rounded twice.
 */
export function percentOf(amount: Money, pct: string): Money {
  const p = parseMoney(pct);
  if (p === undefined || p % 100n !== 0n) throw new AffstreamError('internal', `percentage ${JSON.stringify(pct)} is not a decimal with at most 2 places`);
  return multiply(amount, p / 100n);
}

/**
 * The tier a period reaches: the last one whose `from` is at or below the period's measure — its
 * NGR (`tierBy: ngr`) or its count of FTDs (`tierBy: ftds`). Flat, not progressive: that tier's
 * percentage applies to all of the period's NGR. Reaching `from` exactly reaches the tier; a measure
 * below every `from` (a negative NGR) takes the first tier.
 */
export function tierFor(terms: RevshareTerms, ngr: Money, ftds: number): RevshareTier {
  const first = terms.tiers[0];
  if (!first) throw new AffstreamError('internal', 'a RevShare plan without tiers');
  let found = first;
  for (const t of terms.tiers) {
    const reached = terms.tierBy === 'ngr' ? (parseMoney(t.from) as Money) <= ngr : Number(t.from) <= ftds;
    if (reached) found = t;
    else break;
  }
  return found;
}

/** One plan version's share of a period: the NGR earned while it was in force, and its terms. */
export interface Segment {
  ngr: Money;
  terms: RevshareTerms;
}

/** What one segment's line of a closed period pays. */
export interface SegmentLine {
  /** The percentage used (the tier's `pct`, as the plan writes it). */
  pct: string;
  /** The NGR the line pays on, after carry-over and netting. */
  base: Money;
  amount: Money;
  /** The period's carry-in on its first line, else 0. */
  carryIn: Money;
  /** The period's carry-out on its last line, else 0. */
  carryOut: Money;
}

/**
 * Close a period: its segments in the order their versions came into force, `carryIn` the negative
 * balance (≤ 0) carried into it, `ftds` its FTD count. Returns one line per segment and the balance
 * carried out (≤ 0).
 *
 * - The tier is chosen by the whole period's NGR (or FTDs), each segment using its own version's
 *   tiers.
 * - The period's net is carry-in + the segments' NGR. Deficits — the carry-in and negative segments —
 *   are absorbed by the positive segments, earliest first, so each segment's base is what is left
 *   of its NGR and the bases sum to the net.
 * - A negative net is handled by the carry-over of the version in force at the period's end (the
 *   last segment's): `carry` pays nothing and carries the net into the next period; `reset-monthly`
 *   pays nothing and carries nothing; `none` bills it, as a negative base on the last segment.
 */
export function settlePeriod(carryIn: Money, segments: readonly Segment[], ftds: number): { lines: SegmentLine[]; carryOut: Money } {
  const last = segments[segments.length - 1];
  if (!last) return { lines: [], carryOut: carryIn };
  const total = segments.reduce((s, x) => s + x.ngr, 0n);
  const net = carryIn + total;
  const mode: CarryOver = last.terms.carryOver;
  let deficit = -carryIn + segments.reduce((s, x) => (x.ngr < 0n ? s - x.ngr : s), 0n);
  const bases = segments.map((x) => {
    if (x.ngr <= 0n) return 0n;
    const taken = x.ngr < deficit ? x.ngr : deficit;
    deficit -= taken;
    return x.ngr - taken;
  });
  let carryOut = 0n;
  if (net < 0n) {
    if (mode === 'carry') carryOut = net;
    else if (mode === 'none') bases[bases.length - 1] = net;
  }
  const lines = segments.map((x, i): SegmentLine => {
    const pct = tierFor(x.terms, total, ftds).pct;
    const base = bases[i] as Money;
    return { pct, base, amount: percentOf(base, pct), carryIn: i === 0 ? carryIn : 0n, carryOut: i === segments.length - 1 ? carryOut : 0n };
  });
  return { lines, carryOut };
}
