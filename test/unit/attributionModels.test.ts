/**
 * Attribution models (docs/architecture.md, “Attribution”): touch selection, weights, binding, and
 * the player actor under each rule.
 */
import { DEFAULT_FRAUD_RULES } from '../../schema/fraud.ts';
import { describe, expect, it } from 'vitest';
import { bindingIndex, FULL_WEIGHT, MAX_TOUCHES, selectTouches, touchWeights } from '../../workers/actors/attribution.ts';
import { handlePlayer, initialPlayerState, type BrandSettings, type ClickInfo, type PlayerEffect } from '../../workers/actors/player.ts';
import { parseRules, ruleFor, type BrandRule } from '../../schema/attributionRules.ts';
import { parseEvent } from '../../schema/events.ts';
import { creditParts } from '../../workers/sink/creditRow.ts';
import { toDecimalText } from '../../schema/money.ts';

const T0 = Date.UTC(2026, 10, 20, 12);
const DAY = 86_400_000;
const W = { since: T0 - 30 * DAY, until: T0 };
const rule = (model: string, weights?: number[]): BrandRule => ruleFor(parseRules(JSON.stringify({ version: 'v', brands: { b1: { model, weights } } }), 't'), 'b1');
const touch = (i: number, over: Partial<ClickInfo> = {}): ClickInfo => ({
  clickId: `01a1fb40-0efa-78a7-b23e-${String(i).padStart(12, '0')}`, ts: T0 - (100 - i) * 60_000, brandId: 'b1', affiliateId: `a${i}`, code: `L${i}`, campaign: '', sub1: `s${i}`,
  country: 'DE', bot: false, geoBlocked: false, visitorId: 'v', ip: '', fraudScore: 0, flagged: false, commissionable: true, ...over,
});
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('touch weights', () => {
  it('sum to 10,000 basis points for every model and touch count', () => {
    for (const r of [rule('first_click'), rule('linear'), rule('position'), rule('position', [50, 0, 50]), rule('position', [10, 70, 20])]) {
      for (let n = 1; n <= MAX_TOUCHES; n++) {
        const w = touchWeights(r, n);
        expect(w).toHaveLength(n);
        expect(sum(w)).toBe(FULL_WEIGHT);
        expect(w.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
      }
    }
  });

  it('position 40/20/40: one touch all, two 50/50, three 40/20/40, more share the middle 20%', () => {
    const p = rule('position');
    expect(touchWeights(p, 1)).toEqual([10_000]);
    expect(touchWeights(p, 2)).toEqual([5000, 5000]);
    expect(touchWeights(p, 3)).toEqual([4000, 2000, 4000]);
    expect(touchWeights(p, 4)).toEqual([4000, 1000, 1000, 4000]);
    // 2000 over three middles: 666, 667, 667 — the odd basis points to the latest.
    expect(touchWeights(p, 5)).toEqual([4000, 666, 667, 667, 4000]);
    // Custom shares; with two touches the middle share is halved between first and last.
    expect(touchWeights(rule('position', [10, 70, 20]), 2)).toEqual([4500, 5500]);
  });

  it('linear: equal, the remainder to the latest; first click: the first takes all', () => {
    expect(touchWeights(rule('linear'), 3)).toEqual([3333, 3333, 3334]);
    expect(touchWeights(rule('linear'), 7)).toEqual([1428, 1428, 1428, 1429, 1429, 1429, 1429]);
    expect(touchWeights(rule('first_click'), 3)).toEqual([10_000, 0, 0]);
  });

  it('binds the heaviest touch, ties to the latest', () => {
    expect(bindingIndex([4000, 2000, 4000])).toBe(2);
    expect(bindingIndex([5000, 5000])).toBe(1);
    expect(bindingIndex([10_000, 0, 0])).toBe(0);
    expect(bindingIndex([6000, 1000, 3000])).toBe(0);
    expect(bindingIndex([10_000])).toBe(0);
  });
});

describe('touch selection', () => {
  it('keeps valid clicks of the brand within the window, each once, oldest first', () => {
    const quoted = touch(9);
    const others = [
      touch(3), touch(1), touch(3), // a repeat (written twice) counts once
      touch(4, { bot: true }), touch(5, { geoBlocked: true }), touch(6, { brandId: 'b2' }),
      touch(7, { ts: W.since - 1 }), // a millisecond before the window
      touch(8, { ts: W.since }), // the window's first millisecond
      touch(10, { ts: W.until + 1 }), // after the registration
      quoted,
    ];
    expect(selectTouches('b1', W, quoted, others).map((c) => c.affiliateId)).toEqual(['a8', 'a1', 'a3', 'a9']);
  });

  it('keeps the quoted click even when the edge dated it after the registration (clock skew), as last click does', () => {
    const quoted = touch(2, { ts: W.until + 5000 });
    expect(selectTouches('b1', W, quoted, [touch(1)]).map((c) => c.affiliateId)).toEqual(['a1', 'a2']);
    expect(selectTouches('b1', W, touch(2, { bot: true }), [])).toEqual([]);
  });

  it('caps at the first touch and the latest 19', () => {
    const clicks = Array.from({ length: 30 }, (_, i) => touch(i + 1));
    const kept = selectTouches('b1', W, clicks[29] as ClickInfo, clicks);
    expect(kept).toHaveLength(MAX_TOUCHES);
    expect(kept.map((c) => c.affiliateId)).toEqual(['a1', ...Array.from({ length: 19 }, (_, i) => `a${i + 12}`)]);
  });
});

describe('player actor under each rule', () => {
  const brand: BrandSettings = { attributionWindowDays: 30, paymentFeePct: '0', gamingTaxPct: '0', fraud: DEFAULT_FRAUD_RULES };
  const CLICK = touch(3).clickId;
  const ev = (raw: Record<string, unknown>) => parseEvent({ player_id: 'p1', ts: T0, ...raw }, 'b1', 'json', T0);
  const applied = (effects: PlayerEffect[]) => effects.filter((e) => e.type === 'EventApplied') as Extract<PlayerEffect, { type: 'EventApplied' }>[];

  function attribute(r: BrandRule, quoted: ClickInfo | null, touches: ClickInfo[]) {
    const s = initialPlayerState('b1', 'p1');
    const [ask] = handlePlayer(s, { type: 'EventReceived', event: ev({ event_id: 'r1', type: 'registration', click_id: CLICK }) }, brand, r);
    // The rule in force afterwards does not matter: the registration keeps its own.
    const [reg] = applied(handlePlayer(s, { type: 'ClickResolved', clickId: CLICK, click: quoted, touches }, brand, rule('last_click')));
    return { ask, reg: reg as Extract<PlayerEffect, { type: 'EventApplied' }>, s };
  }

  it('asks for touches in the brand window under multi-touch rules only', () => {
    expect(attribute(rule('position'), touch(3), []).ask).toMatchObject({ type: 'ResolveClick', touches: W });
    expect(attribute(rule('last_click'), touch(3), []).ask).toMatchObject({ type: 'ResolveClick', touches: null });
  });

  it('position: credits 40/20/40, binds the last touch, records the rules version', () => {
    const { reg } = attribute(rule('position'), touch(3), [touch(1), touch(2, { bot: true }), touch(2)]);
    expect(reg.credits.map((c) => [c.affiliateId, c.weightBp])).toEqual([['a1', 4000], ['a2', 2000], ['a3', 4000]]);
    expect(reg.attribution).toMatchObject({ attributed: true, reason: 'click', affiliateId: 'a3', clickId: CLICK, sub1: 's3', rulesVersion: 'position@v' });
  });

  it('first click binds the first valid touch, whole; last click the quoted click whatever the touches', () => {
    const first = attribute(rule('first_click'), touch(3), [touch(2), touch(1, { geoBlocked: true })]).reg;
    expect([first.attribution.affiliateId, first.attribution.rulesVersion, first.credits.map((c) => [c.affiliateId, c.weightBp])]).toEqual(['a2', 'first-click@v', [['a2', 10_000]]]);
    const last = attribute(rule('last_click'), touch(3), [touch(1)]).reg;
    expect([last.attribution.affiliateId, last.attribution.rulesVersion, last.credits.map((c) => [c.affiliateId, c.weightBp])]).toEqual(['a3', 'last-click@v', [['a3', 10_000]]]);
  });

  it('organic when no touch is valid: the quoted click’s own reason, no credits', () => {
    for (const [quoted, reason] of [[null, 'unknown_click'], [touch(3, { bot: true }), 'bot_click'], [touch(3, { geoBlocked: true }), 'geo_blocked_click'], [touch(3, { ts: W.since - 1 }), 'expired_click']] as const) {
      const { reg } = attribute(rule('linear'), quoted, []);
      expect([reg.attribution.attributed, reg.attribution.reason, reg.attribution.rulesVersion, reg.credits]).toEqual([false, reason, 'linear@v', []]);
    }
    // A bot quoted click, but an earlier valid touch of the same visitor: that touch takes it.
    const { reg } = attribute(rule('linear'), touch(3, { bot: true }), [touch(1)]);
    expect([reg.attribution.affiliateId, reg.credits.map((c) => c.weightBp)]).toEqual(['a1', [10_000]]);
  });

  it('shares every later event exactly between the credits: parts sum to the whole', () => {
    const { s } = attribute(rule('linear'), touch(3), [touch(1), touch(2)]);
    const [dep] = applied(handlePlayer(s, { type: 'EventReceived', event: ev({ event_id: 'd1', type: 'deposit', amount: '0.0100', currency: 'EUR' }) }, brand, rule('last_click')));
    const parts = creditParts(dep as Extract<PlayerEffect, { type: 'EventApplied' }>);
    expect(parts.map((p) => [p.affiliate_id, p.ftds_bp, toDecimalText(p.ftd_amount), toDecimalText(p.deposit_amount), p.rules_version])).toEqual([
      ['a1', 3333, '0.0033', '0.0033', 'linear@v'],
      ['a2', 3333, '0.0033', '0.0033', 'linear@v'],
      ['a3', 3334, '0.0034', '0.0034', 'linear@v'],
    ]);
    const [bet] = applied(handlePlayer(s, { type: 'EventReceived', event: ev({ event_id: 'b1', type: 'bet', stake: '0', win: '0.0002', currency: 'EUR' }) }, brand, rule('last_click')));
    // A loss of 0.0002 over 3333/3333/3334: 0, 0, 0 units and 2 left, to the largest remainders, ties to the later.
    expect(creditParts(bet as Extract<PlayerEffect, { type: 'EventApplied' }>).map((p) => toDecimalText(p.ngr))).toEqual(['0.0000', '-0.0001', '-0.0001']);
  });
});
