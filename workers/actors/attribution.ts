/**
 * Attribution models (docs/architecture.md, “Attribution”), pure: which clicks of a visitor are touches of a registration, and
 * what weight each touch gets under first click, linear and position-based (40/20/40) models.
 * Weights are basis points (1/100 of a percent) that always sum to 10,000, so credits and the
 * money split from them (`splitByWeights` in schema/money.ts) are exact.
 *
 * The player actor uses these at resolution; the click resolver uses {@link selectTouches} too, to
 * send no more clicks than the actor would keep.
 */
import type { ClickInfo } from '../../schema/eventWire.ts';
import type { BrandRule } from '../../schema/attributionRules.ts';

/** The whole credit of a registration, in basis points. */
export const FULL_WEIGHT = 10_000;

/**
 * Most touches a registration considers: the first one and the latest `MAX_TOUCHES - 1`. The
 * first touch keeps its place because first click and position-based models hinge on it; a
 * visitor with more valid clicks than this in the window loses middle touches, which share at
 * most the middle part of the credit anyway.
 */
export const MAX_TOUCHES = 20;

/** The time range a registration's touches must fall in: its brand's window before the registration. */
export interface TouchWindow {
  /** Earliest click time, ms (registration time − the brand's `attributionWindowDays`). */
  since: number;
  /** Latest click time, ms (the registration time). */
  until: number;
}

/**
 * The touches of a registration, oldest first: the valid clicks (same brand, not a bot, not
 * geo-blocked, within the window) among the quoted click and the visitor's other clicks, each once,
 * capped at {@link MAX_TOUCHES}. The quoted click may be later than the registration (the
 * platform's clock against the edge's), as last click has always allowed; other clicks may not.
 */
export function selectTouches(brandId: string, w: TouchWindow, quoted: ClickInfo, others: readonly ClickInfo[]): ClickInfo[] {
  const byId = new Map<string, ClickInfo>();
  for (const c of [quoted, ...others]) {
    if (c.brandId !== brandId || c.bot || c.geoBlocked || c.ts < w.since) continue;
    if (c.ts > w.until && c.clickId !== quoted.clickId) continue;
    byId.set(c.clickId, c);
  }
  const touches = [...byId.values()].sort((a, b) => a.ts - b.ts || (a.clickId < b.clickId ? -1 : a.clickId > b.clickId ? 1 : 0));
  return touches.length <= MAX_TOUCHES ? touches : [touches[0] as ClickInfo, ...touches.slice(touches.length - (MAX_TOUCHES - 1))];
}

/** `total` shared by `n` equally; the remainder goes one each to the latest shares, so ties resolve to the latest touch. */
function even(total: number, n: number): number[] {
  const base = Math.floor(total / n);
  const extra = total - base * n;
  return Array.from({ length: n }, (_, i) => base + (i >= n - extra ? 1 : 0));
}

/**
 * The weight of each of `n` touches (oldest first) under a multi-touch or first click rule, in
 * basis points summing to {@link FULL_WEIGHT}. Position-based: with three or more touches the first
 * and the last get their shares and the middle ones split theirs; with two, the middle share is
 * halved between them (40/20/40 → 50/50); one touch takes everything. Last click, weighed by
 * touches, gives the last one everything (the player actor does not weigh it: under last click the
 * quoted click binds, whatever the touches).
 */
export function touchWeights(rule: BrandRule, n: number): number[] {
  if (n < 1) return [];
  if (rule.model === 'linear') return even(FULL_WEIGHT, n);
  if (rule.model === 'first_click' || rule.model === 'last_click') return Array.from({ length: n }, (_, i) => (i === (rule.model === 'first_click' ? 0 : n - 1) ? FULL_WEIGHT : 0));
  if (n === 1) return [FULL_WEIGHT];
  const [first, middle, last] = rule.weights.map((p) => p * 100) as [number, number, number];
  if (n === 2) return [first + middle / 2, last + middle / 2];
  return [first, ...even(middle, n - 2), last];
}

/** The touch that binds the player for life: the highest weight, ties to the latest. */
export function bindingIndex(weights: readonly number[]): number {
  let best = -1;
  weights.forEach((w, i) => {
    if (best < 0 || w >= (weights[best] as number)) best = i;
  });
  return best;
}
