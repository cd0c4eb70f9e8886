/** The load-test commission ledger: the ground truth of CPA, reversals, sub-affiliate shares and RevShare accruals, hand-computed. */
import { describe, expect, it } from 'vitest';
import { parseMoney, type Money } from '../../schema/money.ts';
import { parsePlan, type CpaTerms, type Plan } from '../../schema/plans.ts';
import { CommissionLedger, periodIn, type CommissionAffiliate } from '../../loadtest/generator/commissionLedger.ts';
import { Ledger, type AppliedEvent } from '../../loadtest/generator/ledger.ts';
import { planProgramme, type PlanTerms } from '../../loadtest/generator/programme.ts';
import { compareCommissions, judgeRun, type AccrualRow, type LineGroupRow } from '../../loadtest/generator/verify.ts';

const $ = (text: string): Money => parseMoney(text) as Money;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
/** Every plan here starts a minute before T0. */
const FROM = T0 - 60_000;

function plan(id: string, terms: Partial<PlanTerms>, brandId = 'b', from = FROM): Plan {
  return parsePlan(id, { brandId, currency: 'EUR', ...terms, effectiveFrom: from }, undefined, from);
}
/** `prior` with a second version from `from`. */
function changed(prior: Plan, terms: Partial<PlanTerms>, from: number): Plan {
  return parsePlan(prior.id, { brandId: prior.brandId, currency: prior.currency, ...terms, effectiveFrom: from }, prior, FROM);
}
const cpa = (over: Partial<CpaTerms> = {}): Partial<PlanTerms> => ({ cpa: { amount: '33.33', minDeposit: '20', kycRequired: false, minWagering: '0', countries: [], withinDays: 30, ...over } });
const affiliate = (id: string, planId: string | null, parentId: string | null = null): CommissionAffiliate => ({ id, planId, plans: {}, parentId });
const book = (plans: Plan[], affiliates: CommissionAffiliate[], timezones: Record<string, string> = { b: 'UTC' }) => new CommissionLedger({ plans, affiliates, timezones });

let seq = 0;
/** An applied event of player `p` of affiliate `a`, registered at T0, in Germany. */
function ev(over: Partial<AppliedEvent>): AppliedEvent {
  return {
    brandId: 'b', affiliateId: 'a', playerId: 'p', eventId: `e${++seq}`, type: 'bet', ts: T0, registeredAt: T0, country: 'DE', kyc: '',
    amount: 0n, isFtd: false, ngr: 0n, ggr: 0n, bonus: 0n, commissionable: true, sub1: 's1', ...over,
  };
}
const ftd = (amount: string, over: Partial<AppliedEvent> = {}) => ev({ type: 'deposit', amount: $(amount), isFtd: true, ...over });
const bet = (stake: string, over: Partial<AppliedEvent> = {}) => ev({ type: 'bet', amount: $(stake), ...over });
const kyc = (status: string, over: Partial<AppliedEvent> = {}) => ev({ type: 'kyc', kyc: status, ...over });
const lineSummary = (l: CommissionLedger) => l.lines().map((x) => ({ affiliate: x.affiliateId, kind: x.kind, reversal: x.reverses !== undefined, amount: x.amount, source: x.sourceEventId, plan: x.planVersion }));

describe('commission ledger: CPA qualification', () => {
  it('qualifies on the KYC a day after the FTD: the KYC event makes the line, at the version amount', () => {
    const l = book([plan('pa', cpa({ kycRequired: true }))], [affiliate('a', 'pa')]);
    l.book(ftd('25.00'));
    expect(l.lines()).toHaveLength(0);
    const k = kyc('approved', { ts: T0 + DAY });
    l.book(k);
    expect(lineSummary(l)).toEqual([{ affiliate: 'a', kind: 'cpa', reversal: false, amount: $('33.33'), source: k.eventId, plan: 'pa@1' }]);
    // One line per player, ever.
    l.book(bet('100', { kyc: 'approved', ts: T0 + 2 * DAY }));
    expect(l.lines()).toHaveLength(1);
  });

  it('qualifies on the bet that brings the stakes to minWagering; stakes before the FTD do not count', () => {
    const l = book([plan('pa', cpa({ minWagering: '50' }))], [affiliate('a', 'pa')]);
    l.book(bet('30'));
    l.book(ftd('20.00'));
    l.book(bet('20'));
    l.book(bet('29.99'));
    expect(l.lines()).toHaveLength(0);
    const third = bet('0.01');
    l.book(third);
    expect(lineSummary(l)).toEqual([expect.objectContaining({ source: third.eventId, amount: $('33.33') })]);
  });

  it('never qualifies once an event falls past withinDays of the registration, even if the conditions are met later', () => {
    const l = book([plan('pa', cpa({ kycRequired: true, withinDays: 1 }))], [affiliate('a', 'pa')]);
    l.book(ftd('25.00'));
    l.book(kyc('approved', { ts: T0 + DAY + 1 }));
    l.book(bet('1', { kyc: 'approved', ts: T0 + DAY + 2 }));
    expect(l.lines()).toHaveLength(0);
    // Exactly at the deadline is still within it.
    const m = book([plan('pa', cpa({ kycRequired: true, withinDays: 1 }))], [affiliate('a', 'pa')]);
    m.book(ftd('25.00'));
    m.book(kyc('approved', { ts: T0 + DAY }));
    expect(m.lines()).toHaveLength(1);
  });

  it('pays only players of the listed countries: unknown is in none', () => {
    const l = book([plan('pa', cpa({ countries: ['GB', 'NO'] }))], [affiliate('a', 'pa')]);
    l.book(ftd('50', { playerId: 'de', country: 'DE' }));
    l.book(ftd('50', { playerId: 'unknown', country: '' }));
    l.book(ftd('50', { playerId: 'gb', country: 'GB' }));
    expect(l.lines().map((x) => x.playerId)).toEqual(['gb']);
  });

  it('counts deposits together and less chargebacks, and needs an FTD under a version with CPA terms', () => {
    const l = book([plan('pa', cpa({ minDeposit: '100' }))], [affiliate('a', 'pa')]);
    l.book(ftd('60', { playerId: 'p1' }));
    l.book(ev({ playerId: 'p1', type: 'chargeback', amount: $('60') }));
    l.book(ev({ playerId: 'p1', type: 'deposit', amount: $('90') }));
    expect(l.lines()).toHaveLength(0); // 60 − 60 + 90 = 90 < 100
    l.book(ev({ playerId: 'p1', type: 'deposit', amount: $('10') }));
    expect(l.lines()).toHaveLength(1);
    // An FTD before the plan's first version: the player never starts towards a CPA.
    l.book(ftd('500', { playerId: 'early', ts: FROM - 1, registeredAt: FROM - 1 }));
    l.book(ev({ playerId: 'early', type: 'deposit', amount: $('500'), ts: T0 }));
    expect(l.lines()).toHaveLength(1);
  });

  it('takes the amount and the terms of the version in force at the completing event', () => {
    const v2 = changed(plan('pa', cpa({ kycRequired: true })), cpa({ amount: '40', kycRequired: true }), T0 + DAY);
    const l = book([v2], [affiliate('a', 'pa')]);
    l.book(ftd('25', { playerId: 'early' }));
    l.book(kyc('approved', { playerId: 'early', ts: T0 + 1 }));
    l.book(ftd('25', { playerId: 'late' }));
    l.book(kyc('approved', { playerId: 'late', ts: T0 + DAY }));
    expect(lineSummary(l).map((x) => [x.plan, x.amount])).toEqual([
      ['pa@1', $('33.33')],
      ['pa@2', $('40')],
    ]);
  });
});

describe('commission ledger: reversals and sub-affiliates', () => {
  it('reverses a CPA line once on a chargeback, and the parent’s share of it', () => {
    const l = book([plan('pa', cpa()), plan('pp', { subAffiliatePct: '33.33' })], [affiliate('a', 'pa', 'P'), affiliate('P', 'pp')]);
    l.book(ftd('20'));
    const cb = ev({ type: 'chargeback', amount: $('20') });
    l.book(cb);
    l.book(ev({ type: 'chargeback', amount: $('20') }));
    // 33.33 × 33.33% = 11.108889 → 11.1089 (half away from zero at 4 places).
    expect(lineSummary(l)).toEqual([
      expect.objectContaining({ affiliate: 'a', kind: 'cpa', reversal: false, amount: $('33.33') }),
      expect.objectContaining({ affiliate: 'P', kind: 'subaffiliate', reversal: false, amount: $('11.1089') }),
      expect.objectContaining({ affiliate: 'a', kind: 'cpa', reversal: true, amount: $('-33.33'), source: cb.eventId }),
      expect.objectContaining({ affiliate: 'P', kind: 'subaffiliate', reversal: true, amount: $('-11.1089'), source: cb.eventId }),
    ]);
    expect(l.lineGroups().map((g) => [g.affiliateId, g.kind, g.lines, g.amount])).toEqual([
      ['a', 'cpa', 1, $('33.33')],
      ['a', 'cpa reversal', 1, $('-33.33')],
      ['P', 'subaffiliate', 1, $('11.1089')],
      ['P', 'subaffiliate reversal', 1, $('-11.1089')],
    ]);
  });

  it('rounds shares half away from zero, makes none that comes to 0, and goes one level only', () => {
    const l = book(
      [plan('p1', cpa({ amount: '0.0015' })), plan('p2', cpa({ amount: '0.0001' })), plan('half', { subAffiliatePct: '50' }), plan('tenth', { subAffiliatePct: '10' })],
      [affiliate('a1', 'p1', 'H'), affiliate('a2', 'p2', 'X'), affiliate('H', 'half', 'G'), affiliate('X', 'tenth'), affiliate('G', 'half')],
    );
    l.book(ftd('20', { affiliateId: 'a1', playerId: 'q1' }));
    l.book(ftd('20', { affiliateId: 'a2', playerId: 'q2' }));
    // 0.0015 × 50% = 0.00075 → 0.0008; 0.0001 × 10% = 0.00001 → 0: no line; H's share is not shared with G.
    expect(lineSummary(l).map((x) => [x.affiliate, x.kind, x.amount])).toEqual([
      ['a1', 'cpa', $('0.0015')],
      ['H', 'subaffiliate', $('0.0008')],
      ['a2', 'cpa', $('0.0001')],
    ]);
  });

  it('takes the parent’s plan on the line’s brand, at the line’s time; no plan there, no share', () => {
    const parent = changed(plan('pp', { subAffiliatePct: '10' }), { subAffiliatePct: '20' }, T0 + DAY);
    const l = book(
      [plan('pa', cpa({ amount: '100' })), parent, plan('pc', cpa({ amount: '100' }), 'c')],
      [{ id: 'a', planId: 'pa', plans: { c: 'pc' }, parentId: 'P' }, affiliate('P', 'pp')],
      { b: 'UTC', c: 'UTC' },
    );
    l.book(ftd('20', { playerId: 'p1' }));
    l.book(ftd('20', { playerId: 'p2', ts: T0 + DAY }));
    l.book(ftd('20', { playerId: 'p3', brandId: 'c' }));
    expect(lineSummary(l).filter((x) => x.kind === 'subaffiliate').map((x) => [x.plan, x.amount])).toEqual([
      ['pp@1', $('10')],
      ['pp@2', $('20')],
    ]);
  });

  it('holds the lines of paused traffic and their shares; a paused sub-ID ends its lines held but leaves its shares’ status unknown', () => {
    const l = book([plan('pa', cpa()), plan('pp', { subAffiliatePct: '50' })], [affiliate('a', 'pa', 'P'), affiliate('P', 'pp')]);
    l.book(ftd('20', { playerId: 'paused', commissionable: false }));
    l.book(ftd('20', { playerId: 'clean', sub1: 's1' }));
    expect(l.lineGroups().map((g) => [g.affiliateId, g.held])).toEqual([
      ['a', 1],
      ['P', 1],
    ]);
    l.book(ftd('20', { playerId: 'blocked', sub1: 'fr-cb' }));
    const groups = l.lineGroups((aff, sub) => aff === 'a' && sub === 'fr-cb');
    expect(groups.map((g) => [g.affiliateId, g.lines, g.held])).toEqual([
      ['a', 3, 2],
      ['P', 3, null],
    ]);
  });
});

describe('commission ledger: RevShare accruals', () => {
  const rs = (tiers: [string, string][], carryOver: 'none' | 'carry' | 'reset-monthly' = 'none', tierBy: 'ngr' | 'ftds' = 'ngr'): Partial<PlanTerms> => ({
    revshare: { tierBy, carryOver, tiers: tiers.map(([from, pct]) => ({ from, pct })) },
  });
  const accrue = (p: Plan, events: Partial<AppliedEvent>[]) => {
    const l = book([p], [affiliate('a', p.id)]);
    for (const e of events) l.book(ev({ type: 'bet', ...e }));
    return l.accruals();
  };

  it('applies the tier the whole period reaches, flat: reaching `from` exactly reaches it', () => {
    const p = plan('pr', rs([['0', '20'], ['0.01', '25'], ['500', '30']]));
    const at500 = accrue(p, [{ ngr: $('300') }, { ngr: $('200') }]);
    expect(at500).toEqual([expect.objectContaining({ period: '2026-12', planVersion: 'pr@1', ngr: $('500'), pct: '30.00', amount: $('150') })]);
    // 499.9999 × 25% = 124.999975 → 125.0000.
    expect(accrue(p, [{ ngr: $('499.9999') }])[0]).toMatchObject({ pct: '25.00', amount: $('125') });
    expect(accrue(p, [{ ngr: $('0') }])[0]).toMatchObject({ pct: '20.00', amount: 0n });
  });

  it('bills a negative period under none, pays nothing under carry and reset-monthly', () => {
    const tiers: [string, string][] = [['0', '33.33']];
    const events = [{ ngr: $('-10.01') }];
    expect(accrue(plan('n', rs(tiers, 'none')), events)[0]).toMatchObject({ ngr: $('-10.01'), amount: $('-3.3363') }); // −3.336333 → −3.3363
    expect(accrue(plan('c', rs(tiers, 'carry')), events)[0]).toMatchObject({ amount: 0n });
    expect(accrue(plan('r', rs(tiers, 'reset-monthly')), events)[0]).toMatchObject({ amount: 0n });
  });

  it('tiers by FTD count; uncommissionable activity is held NGR and its FTDs do not count', () => {
    const p = plan('pf', rs([['0', '25'], ['3', '30']], 'none', 'ftds'));
    const two = [{ isFtd: true, ngr: $('-1') }, { isFtd: true, ngr: $('101') }, { isFtd: true, ngr: $('-1'), commissionable: false }, { ngr: $('50'), commissionable: false }];
    expect(accrue(p, two)[0]).toMatchObject({ ftds: 2, ngr: $('100'), heldNgr: $('49'), pct: '25.00', amount: $('25') });
    expect(accrue(p, [...two, { isFtd: true, ngr: 0n }])[0]).toMatchObject({ ftds: 3, pct: '30.00', amount: $('30') });
  });

  it('splits a period by the version in force at each event: tier by the total, deficits taken from the earliest positive segment', () => {
    const p = changed(plan('pr', rs([['0', '10'], ['100', '20']])), rs([['0', '30'], ['100', '40']], 'carry'), T0 + 1000);
    const [v1, v2] = accrue(p, [{ ngr: $('150') }, { ngr: $('-30'), ts: T0 + 1000 }]);
    // Total 120 reaches the 100 tier of each version; v1 pays 20% of 150 − 30, v2 nothing.
    expect(v1).toMatchObject({ planVersion: 'pr@1', ngr: $('150'), pct: '20.00', amount: $('24') });
    expect(v2).toMatchObject({ planVersion: 'pr@2', ngr: $('-30'), pct: '40.00', amount: 0n });
    // A negative total under the last version's `none`: billed on the last segment.
    const q = changed(plan('pq', rs([['0', '10']], 'carry')), rs([['0', '50']], 'none'), T0 + 1000);
    expect(accrue(q, [{ ngr: $('10') }, { ngr: $('-30'), ts: T0 + 1000 }]).map((x) => x.amount)).toEqual([0n, $('-10')]);
  });

  it('names periods in the brand’s time zone and knows when the run’s activity is not all in the current one', () => {
    expect(periodIn(Date.UTC(2026, 10, 30, 23, 30), 'Europe/Malta')).toBe('2026-12');
    expect(periodIn(Date.UTC(2026, 10, 30, 23, 30), 'UTC')).toBe('2026-11');
    const p = plan('pr', rs([['0', '10']]), 'b', Date.UTC(2026, 10, 1));
    const l = book([p], [affiliate('a', 'pr')], { b: 'Europe/Malta' });
    l.book(ev({ ngr: $('1'), ts: Date.UTC(2026, 10, 30, 22, 30) }));
    l.book(ev({ ngr: $('2'), ts: Date.UTC(2026, 10, 30, 23, 30) }));
    expect(l.accruals().map((x) => [x.period, x.ngr])).toEqual([
      ['2026-11', $('1')],
      ['2026-12', $('2')],
    ]);
    expect(l.periodsInDoubt(Date.UTC(2026, 11, 3))).toEqual(new Set(['b']));
  });

  it('books from the daily ledger: NGR per event, FTDs, and a paused affiliate’s traffic held', () => {
    const p = plan('pr', rs([['0', '50']]));
    const l = book([p], [affiliate('a', 'pr'), affiliate('z', 'pr')]);
    const daily = new Ledger([{ id: 'b', currency: 'EUR', restrictedCountries: [], paymentFeePct: '2.5', gamingTaxPct: '10', attributionWindowDays: 30, timezone: 'UTC' }], {}, {
      clickFloodRule: false,
      onApplied: (e) => l.book(e),
    });
    const active = daily.click({ ts: T0, code: 'l', brandId: 'b', affiliateId: 'a', ip: '1.1.1.1', bot: false, geoBlocked: false, sub1: 's1' });
    const paused = daily.click({ ts: T0, code: 'm', brandId: 'b', affiliateId: 'z', ip: '2.2.2.2', bot: false, geoBlocked: false, paused: true });
    for (const [player, click] of [['p', active], ['q', paused]] as const) {
      daily.event('b', { type: 'registration', event_id: `r-${player}`, player_id: player, ts: T0 }, click);
      daily.event('b', { type: 'deposit', event_id: `d-${player}`, player_id: player, amount: '100', currency: 'EUR', ts: T0 });
      daily.event('b', { type: 'bet', event_id: `g-${player}`, player_id: player, stake: '10', win: '0', currency: 'EUR', ts: T0 });
    }
    // Fee 2.5 of 100; GGR 10 less 10% tax = 9: NGR 6.5.
    expect(l.accruals().map((x) => [x.affiliateId, x.ngr, x.heldNgr, x.ftds, x.amount])).toEqual([
      ['a', $('6.5'), 0n, 1, $('3.25')],
      ['z', 0n, $('6.5'), 0, 0n],
    ]);
  });
});

describe('commission verdict', () => {
  const l = book([plan('pa', cpa()), plan('pr', { revshare: { tierBy: 'ngr', carryOver: 'none', tiers: [{ from: '0', pct: '25' }] } }, 'c')], [{ id: 'a', planId: 'pa', plans: { c: 'pr' }, parentId: null }], { b: 'UTC', c: 'UTC' });
  l.book(ftd('20'));
  l.book(ev({ brandId: 'c', ngr: $('10.01') }));
  const expected = { lines: l.lineGroups(), accruals: l.accruals() };
  const lines: LineGroupRow[] = [{ brand_id: 'b', affiliate_id: 'a', kind: 'cpa', plan_version: 'pa@1', lines: 1, amount: '33.3300', held: 0 }];
  const accruals: AccrualRow[] = [{ brand_id: 'c', affiliate_id: 'a', period: '2026-12', plan_version: 'pr@1', ngr: '10.0100', held_ngr: '0.0000', ftds: 0, pct: '25', amount: '2.5025', closed: false }];

  it('passes exact figures, whatever the number formatting', () => {
    const c = compareCommissions(expected, { lines, accruals });
    expect([c.lines.differences, c.accruals.differences]).toEqual([[], []]);
    expect([c.lines.figures, c.accruals.figures]).toEqual([3, 6]);
    expect(judgeRun({ rows: 1, figures: 1, differences: [] }, { rows: 1, figures: 1, differences: [] }, [], c).verdict).toBe('PASS');
  });

  it('names a differing sum, a missing and an extra group, and a period the cluster closed', () => {
    const c = compareCommissions(expected, {
      lines: [{ ...(lines[0] as LineGroupRow), amount: '33.3299' }, { brand_id: 'b', affiliate_id: 'a', kind: 'cpa reversal', plan_version: 'pa@1', lines: 1, amount: '-33.3300', held: 0 }],
      accruals: [{ ...(accruals[0] as AccrualRow), closed: true }],
    });
    expect(c.lines.differences).toEqual([
      { row: 'b / a / cpa / pa@1', column: 'amount', expected: '33.3300', actual: '33.3299' },
      ...['lines', 'amount', 'held'].map((column) => expect.objectContaining({ row: 'b / a / cpa reversal / pa@1', column, expected: '(no row)' })),
    ]);
    expect(c.accruals.differences).toEqual([{ row: 'c / a / 2026-12 / pr@1', column: 'closed', expected: 'false', actual: 'true' }]);
    expect(compareCommissions(expected, { lines: [], accruals }).lines.differences.every((d) => d.actual === '(no row)')).toBe(true);
    const v = judgeRun({ rows: 1, figures: 1, differences: [] }, { rows: 1, figures: 1, differences: [] }, [], c);
    expect(v.reasons).toEqual(['commission lines: 4 of 6 figures differ from the commission ledger', 'RevShare accruals: 1 of 6 figures differ from the commission ledger']);
  });

  it('sums accruals over periods on a brand in doubt, and leaves its closed periods’ RevShare lines out', () => {
    const split: AccrualRow[] = [
      { ...(accruals[0] as AccrualRow), period: '2026-11', ngr: '4.0000', amount: '1.0000', closed: true },
      { ...(accruals[0] as AccrualRow), ngr: '6.0100', amount: '1.5025' },
    ];
    const revshareLine: LineGroupRow = { brand_id: 'c', affiliate_id: 'a', kind: 'revshare', plan_version: 'pr@1', lines: 1, amount: '1.0000', held: 0 };
    const c = compareCommissions(expected, { lines: [...lines, revshareLine], accruals: split }, new Set(['c']));
    expect([c.lines.differences, c.accruals.differences, c.notJudged]).toEqual([[], [], 1]);
    expect(compareCommissions(expected, { lines, accruals: split }).accruals.differences.length).toBeGreaterThan(0);
  });

  it('does not judge a held count the ledger cannot know', () => {
    const withUnknown = { lines: expected.lines.map((g) => ({ ...g, held: null })), accruals: expected.accruals };
    const c = compareCommissions(withUnknown, { lines: [{ ...(lines[0] as LineGroupRow), held: 1 }], accruals });
    expect(c.lines.differences).toEqual([]);
    expect(c.lines.figures).toBe(2);
  });
});

describe('programme plans', () => {
  const p = planProgramme('t1', 42);

  it('are valid plans (version 2 from the middle of the run where given), every affiliate’s plan exists on its brand', () => {
    for (const x of p.plans) {
      const v1 = parsePlan(x.id, { brandId: x.brandId, currency: x.currency, ...x.terms }, undefined, T0);
      if (x.midRun) expect(parsePlan(x.id, { brandId: x.brandId, currency: x.currency, ...x.midRun, effectiveFrom: T0 + 1000 }, v1, T0).versions).toHaveLength(2);
    }
    expect(p.plans.filter((x) => x.midRun).length).toBeGreaterThanOrEqual(2);
    const byId = new Map(p.plans.map((x) => [x.id, x]));
    for (const a of p.affiliates) {
      if (a.planId !== null) expect(byId.has(a.planId)).toBe(true);
      for (const [brand, id] of Object.entries(a.plans)) expect(byId.get(id)?.brandId).toBe(brand);
    }
    const kinds = new Set(p.plans.map((x) => [x.terms.cpa ? 'cpa' : '', x.terms.revshare ? `rs-${x.terms.revshare.tierBy}-${x.terms.revshare.carryOver}` : '', x.terms.subAffiliatePct !== '0' ? 'sub' : ''].join('|')));
    expect([...kinds].some((k) => k.startsWith('cpa|rs-'))).toBe(true);
    for (const mode of ['none', 'carry', 'reset-monthly']) expect([...kinds].some((k) => k.includes(`-${mode}`))).toBe(true);
    expect(kinds.has('||sub')).toBe(true);
  });

  it('gives most affiliates a plan and a few a parent who earns on their brands, the same for the same seed', () => {
    const planned = p.affiliates.filter((a) => a.planId !== null || Object.keys(a.plans).length > 0);
    expect(planned.length).toBeGreaterThan(p.affiliates.length * 0.75);
    const children = p.affiliates.filter((a) => a.parentId !== null);
    expect(children.length).toBeGreaterThanOrEqual(3);
    expect(children.length).toBeLessThanOrEqual(8);
    for (const c of children) {
      const parent = p.affiliates.find((a) => a.id === c.parentId);
      expect(parent?.parentId).toBeNull();
      expect(parent?.planId).not.toBeNull();
    }
    expect(JSON.stringify(planProgramme('t1', 42))).toBe(JSON.stringify(p));
    expect(JSON.stringify(planProgramme('t1', 43).affiliates.map((a) => a.planId))).not.toBe(JSON.stringify(p.affiliates.map((a) => a.planId)));
  });
});
