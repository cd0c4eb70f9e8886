import { describe, expect, it } from 'vitest';
import { parentOf, parsePlan, planOf, planVersionAt, type Plan } from '../../schema/plans.ts';
import { parseAffiliate, type Affiliate } from '../../schema/catalog.ts';
import { refusal } from '../kit/errors.ts';

const NOW = Date.parse('2026-11-01T12:00:00Z');
const base = { brandId: 'b1', currency: 'EUR' };
const revshare = { tiers: [{ from: 0, pct: 25 }], carryOver: 'carry' };

const plan = (body: Record<string, unknown>, prior?: Plan, now = NOW) => parsePlan('p1', body, prior, now);

describe('parsePlan: terms', () => {
  it('normalizes money to 4 places and percentages to 2, from text or JSON numbers', () => {
    const p = plan({
      ...base,
      currency: 'eur',
      cpa: { amount: 0.01, minDeposit: '20', kycRequired: true, minWagering: '0.5', countries: ['mt', 'DE', 'MT'], withinDays: 30 },
      revshare: { tiers: [{ from: '0', pct: '33.33' }, { from: 1000.5, pct: 40 }, { from: '5000', pct: 0.5 }], tierBy: 'ngr', carryOver: 'reset-monthly' },
      subAffiliatePct: '5',
      holdDays: 14,
    });
    expect(p).toMatchObject({ id: 'p1', brandId: 'b1', currency: 'EUR', createdAt: '2026-11-01T12:00:00.000Z', updatedAt: '2026-11-01T12:00:00.000Z' });
    expect(p.versions).toEqual([
      {
        version: 1,
        effectiveFrom: '2026-11-01T12:00:00.000Z',
        cpa: { amount: '0.0100', minDeposit: '20.0000', kycRequired: true, minWagering: '0.5000', countries: ['DE', 'MT'], withinDays: 30 },
        revshare: {
          tiers: [
            { from: '0.0000', pct: '33.33' },
            { from: '1000.5000', pct: '40.00' },
            { from: '5000.0000', pct: '0.50' },
          ],
          tierBy: 'ngr',
          carryOver: 'reset-monthly',
        },
        subAffiliatePct: '5.00',
        holdDays: 14,
      },
    ]);
  });

  it('fills defaults: CPA conditions off, tiers by NGR, no hold, no sub-affiliate share', () => {
    const v = plan({ ...base, cpa: { amount: '50' }, revshare }).versions[0];
    expect(v).toMatchObject({
      cpa: { amount: '50.0000', minDeposit: '0.0000', kycRequired: false, minWagering: '0.0000', countries: [], withinDays: null },
      revshare: { tierBy: 'ngr', carryOver: 'carry' },
      subAffiliatePct: '0.00',
      holdDays: 0,
    });
  });

  it('takes CPA alone, RevShare alone, both, or only a sub-affiliate share; never nothing', () => {
    expect(plan({ ...base, cpa: { amount: 10 } }).versions[0]?.revshare).toBeNull();
    expect(plan({ ...base, revshare, cpa: null }).versions[0]?.cpa).toBeNull();
    expect(plan({ ...base, subAffiliatePct: '10' }).versions[0]).toMatchObject({ cpa: null, revshare: null, subAffiliatePct: '10.00' });
    expect(refusal(() => plan({ ...base }))).toMatch(/^invalid_field cpa: a plan must pay/);
    expect(refusal(() => plan({ ...base, cpa: null, revshare: null, subAffiliatePct: 0 }))).toMatch(/^invalid_field cpa: /);
  });

  it('counts FTD tiers as integers', () => {
    const v = plan({ ...base, revshare: { tiers: [{ from: 0, pct: 20 }, { from: '10', pct: 25 }, { from: 50, pct: 30 }], tierBy: 'ftds', carryOver: 'none' } }).versions[0];
    expect(v?.revshare?.tiers.map((t) => t.from)).toEqual(['0', '10', '50']);
    expect(refusal(() => plan({ ...base, revshare: { tiers: [{ from: 0, pct: 20 }, { from: 10.5, pct: 25 }], tierBy: 'ftds', carryOver: 'none' } }))).toMatch(
      /^invalid_field revshare\.tiers\[1\]\.from: must be an integer/,
    );
  });

  it('wants tiers from 0, strictly ascending', () => {
    const tiers = (...t: Array<[unknown, unknown]>) => ({ ...base, revshare: { carryOver: 'carry', tiers: t.map(([from, pct]) => ({ from, pct })) } });
    expect(refusal(() => plan(tiers([100, 25])))).toMatch(/^invalid_field revshare\.tiers\[0\]\.from: must be 0/);
    expect(refusal(() => plan(tiers([0, 25], [1000, 30], [1000, 35])))).toMatch(/^invalid_field revshare\.tiers\[2\]\.from: must be above the previous tier's from \(1000\.0000\)/);
    expect(refusal(() => plan(tiers([0, 25], [1000, 30], [500, 35])))).toMatch(/^invalid_field revshare\.tiers\[2\]\.from/);
    expect(refusal(() => plan(tiers()))).toMatch(/^invalid_field revshare\.tiers: must be a list of 1 to/);
    expect(plan(tiers([0, 25], ['0.0001', 30])).versions[0]?.revshare?.tiers[1]).toEqual({ from: '0.0001', pct: '30.00' });
  });

  it('names the key path of every refusal', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ currency: 'EUR', revshare }, /^invalid_field brandId: is required/],
      [{ ...base, brandId: 'b 1', revshare }, /^invalid_field brandId: /],
      [{ brandId: 'b1', revshare }, /^invalid_field currency: is required/],
      [{ ...base, currency: 'EURO', revshare }, /^invalid_field currency: must be an ISO 4217 code/],
      [{ ...base, cpa: 'x' }, /^invalid_field cpa: must be an object/],
      [{ ...base, cpa: {} }, /^invalid_field cpa\.amount: is required/],
      [{ ...base, cpa: { amount: 0 } }, /^invalid_field cpa\.amount: must be above 0/],
      [{ ...base, cpa: { amount: '1.00001' } }, /^invalid_field cpa\.amount: must be a decimal/],
      [{ ...base, cpa: { amount: '1e3' } }, /^invalid_field cpa\.amount: /],
      [{ ...base, cpa: { amount: 1, minDeposit: '-5' } }, /^invalid_field cpa\.minDeposit: must not be negative/],
      [{ ...base, cpa: { amount: 1, minWagering: 'lots' } }, /^invalid_field cpa\.minWagering: /],
      [{ ...base, cpa: { amount: 1, kycRequired: 'yes' } }, /^invalid_field cpa\.kycRequired: must be true or false/],
      [{ ...base, cpa: { amount: 1, countries: ['MLT'] } }, /^invalid_field cpa\.countries: must be a list of ISO 3166 alpha-2 codes/],
      [{ ...base, cpa: { amount: 1, countries: 'MT' } }, /^invalid_field cpa\.countries: /],
      [{ ...base, cpa: { amount: 1, withinDays: 0 } }, /^invalid_field cpa\.withinDays: must be an integer from 1/],
      [{ ...base, cpa: { amount: 1, withinDays: 7.5 } }, /^invalid_field cpa\.withinDays: /],
      [{ ...base, cpa: { amount: 1, within: 7 } }, /^invalid_field cpa\.within: is not a field; allowed: amount, minDeposit, kycRequired, minWagering, countries, withinDays$/],
      [{ ...base, revshare: [] }, /^invalid_field revshare: must be an object/],
      [{ ...base, revshare: { ...revshare, tierBy: 'ggr' } }, /^invalid_field revshare\.tierBy: must be one of ngr, ftds/],
      [{ ...base, revshare: { tiers: revshare.tiers } }, /^invalid_field revshare\.carryOver: must be one of none, carry, reset-monthly/],
      [{ ...base, revshare: { ...revshare, tiers: 'all' } }, /^invalid_field revshare\.tiers: /],
      [{ ...base, revshare: { ...revshare, tiers: [5] } }, /^invalid_field revshare\.tiers\[0\]: must be an object/],
      [{ ...base, revshare: { ...revshare, tiers: [{ from: 0 }] } }, /^invalid_field revshare\.tiers\[0\]\.pct: must be a percentage from 0 to 100 with at most 2 decimals/],
      [{ ...base, revshare: { ...revshare, tiers: [{ from: 0, pct: '100.01' }] } }, /^invalid_field revshare\.tiers\[0\]\.pct: /],
      [{ ...base, revshare: { ...revshare, tiers: [{ from: 0, pct: '12.345' }] } }, /^invalid_field revshare\.tiers\[0\]\.pct: /],
      [{ ...base, revshare: { ...revshare, tiers: [{ from: 0, pct: -1 }] } }, /^invalid_field revshare\.tiers\[0\]\.pct: /],
      [{ ...base, revshare: { ...revshare, tiers: [{ from: 0, pct: 10, upTo: 5 }] } }, /^invalid_field revshare\.tiers\[0\]\.upTo: is not a field; allowed: from, pct$/],
      [{ ...base, revshare: { ...revshare, tiers: [{ from: 'zero', pct: 10 }] } }, /^invalid_field revshare\.tiers\[0\]\.from: /],
      [{ ...base, revshare: { ...revshare, cap: 1 } }, /^invalid_field revshare\.cap: is not a field; allowed: tiers, tierBy, carryOver$/],
      [{ ...base, revshare, subAffiliatePct: 0.001 }, /^invalid_field subAffiliatePct: must be a percentage/],
      [{ ...base, revshare, subAffiliatePct: 101 }, /^invalid_field subAffiliatePct: /],
      [{ ...base, revshare, holdDays: 366 }, /^invalid_field holdDays: must be an integer from 0 to 365/],
      [{ ...base, revshare, holdDays: '7' }, /^invalid_field holdDays: /],
      [{ ...base, revshare, effectiveFrom: '2026-12-01' }, /^invalid_field effectiveFrom: must be milliseconds since epoch or an ISO 8601 time with a zone/],
      [{ ...base, revshare, effectiveFrom: '2026-12-01T00:00:00' }, /^invalid_field effectiveFrom: /],
      [{ ...base, revshare, effectiveFrom: NOW + 0.5 }, /^invalid_field effectiveFrom: /],
      [{ ...base, revshare, tiers: [] }, /^invalid_field tiers: is not a field; allowed: brandId, currency, cpa, revshare, subAffiliatePct, holdDays, effectiveFrom$/],
    ];
    for (const [body, want] of cases) expect(refusal(() => plan(body)), JSON.stringify(body)).toMatch(want);
  });
});

describe('parsePlan: versions', () => {
  const v1 = plan({ ...base, revshare });

  it('appends a version per change, from now by default', () => {
    const later = NOW + 3_600_000;
    const p = plan({ ...base, revshare: { ...revshare, tiers: [{ from: 0, pct: 30 }] } }, v1, later);
    expect(p.versions.map((v) => [v.version, v.effectiveFrom, v.revshare?.tiers[0]?.pct])).toEqual([
      [1, '2026-11-01T12:00:00.000Z', '25.00'],
      [2, '2026-11-01T13:00:00.000Z', '30.00'],
    ]);
    expect(p.versions[0]).toBe(v1.versions[0]);
    expect(p.createdAt).toBe(v1.createdAt);
    expect(p.updatedAt).toBe('2026-11-01T13:00:00.000Z');
  });

  it('schedules a version at a later effectiveFrom, given as ISO 8601 with a zone or as ms', () => {
    const p = plan({ ...base, revshare, holdDays: 7, effectiveFrom: '2026-12-01T00:00:00+01:00' }, v1);
    expect(p.versions[1]?.effectiveFrom).toBe('2026-11-30T23:00:00.000Z');
    expect(planVersionAt(p, NOW + 1)?.holdDays).toBe(0);
    expect(planVersionAt(p, Date.parse('2026-11-30T23:00:00Z'))?.holdDays).toBe(7);
    const q = plan({ ...base, revshare, holdDays: 7, effectiveFrom: NOW + 5000 }, v1);
    expect(q.versions[1]?.effectiveFrom).toBe('2026-11-01T12:00:05.000Z');
  });

  it('is never retroactive: 60 s of clock skew at most, and never before the latest version', () => {
    const changed = { ...base, revshare, holdDays: 3 };
    expect(plan({ ...changed, effectiveFrom: NOW }, v1, NOW + 60_000).versions[1]?.effectiveFrom).toBe('2026-11-01T12:00:00.000Z');
    expect(refusal(() => plan({ ...changed, effectiveFrom: NOW - 60_001 }, undefined))).toMatch(/^invalid_field effectiveFrom: must not be before now .* by more than 60 s: a plan change never applies retroactively/);
    const scheduled = plan({ ...changed, effectiveFrom: '2026-12-01T00:00:00Z' }, v1);
    expect(refusal(() => plan({ ...base, revshare, holdDays: 5, effectiveFrom: '2026-11-15T00:00:00Z' }, scheduled))).toMatch(
      /^invalid_field effectiveFrom: must not be before version 2's effectiveFrom 2026-12-01T00:00:00.000Z/,
    );
    // Without effectiveFrom the change would start now, before the scheduled version.
    expect(refusal(() => plan({ ...base, revshare, holdDays: 5 }, scheduled))).toMatch(/^invalid_field effectiveFrom: is required while version 2 is scheduled/);
    // At the scheduled instant itself the new version supersedes it.
    const replaced = plan({ ...base, revshare, holdDays: 5, effectiveFrom: '2026-12-01T00:00:00Z' }, scheduled);
    expect(planVersionAt(replaced, Date.parse('2026-12-01T00:00:00Z'))?.version).toBe(3);
  });

  it('an identical PUT adds no version and gives back the stored plan', () => {
    const again = plan({ ...base, revshare: { tiers: [{ from: '0.00', pct: '25' }], tierBy: 'ngr', carryOver: 'carry' }, subAffiliatePct: 0, holdDays: 0 }, v1, NOW + 86_400_000);
    expect(again).toBe(v1);
    // The same countries in another order are the same terms.
    const cpa = plan({ ...base, cpa: { amount: 5, countries: ['MT', 'DE'] } });
    expect(plan({ ...base, cpa: { amount: '5.0', countries: ['de', 'mt'] } }, cpa, NOW + 1000)).toBe(cpa);
    // A retried PUT naming the latest version's effectiveFrom is as identical, even once it is past.
    const scheduled = plan({ ...base, revshare, holdDays: 2, effectiveFrom: NOW + 10_000 }, v1);
    expect(plan({ ...base, revshare, holdDays: 2, effectiveFrom: NOW + 10_000 }, scheduled, NOW + 3_600_000)).toBe(scheduled);
    // The same terms from another instant are a new version; so are other terms.
    expect(plan({ ...base, revshare, effectiveFrom: NOW + 10_000 }, v1).versions).toHaveLength(2);
    expect(plan({ ...base, revshare, subAffiliatePct: '0.01' }, v1).versions).toHaveLength(2);
  });

  it('refuses a change of brand or currency as a conflict', () => {
    expect(refusal(() => plan({ ...base, brandId: 'b2', revshare }, v1))).toMatch(/^conflict brandId: plan p1 is b1, which never changes/);
    expect(refusal(() => plan({ ...base, currency: 'USD', revshare }, v1))).toMatch(/^conflict currency: plan p1 is EUR/);
  });
});

describe('planOf and parentOf', () => {
  const mkPlan = (id: string, brandId: string): Plan => parsePlan(id, { brandId, currency: 'EUR', revshare }, undefined, NOW);
  const mkAffiliate = (id: string, body: Record<string, unknown>): Affiliate => ({ ...parseAffiliate(id, { name: id, ...body }), createdAt: '', updatedAt: '' });
  const plans = new Map([mkPlan('pb1', 'b1'), mkPlan('pb2', 'b2'), mkPlan('constructorPlan', 'constructor')].map((p) => [p.id, p]));
  const affiliates = new Map(
    [
      mkAffiliate('a1', { planId: 'pb1', plans: { b2: 'pb2' } }),
      mkAffiliate('a2', { planId: 'pb1', parentId: 'a1' }),
      mkAffiliate('a3', { plans: { b1: 'gone' }, planId: 'pb1', parentId: 'nobody' }),
      mkAffiliate('a4', { planId: 'constructorPlan' }),
    ].map((a) => [a.id, a]),
  );
  const catalog = { affiliates, plans };

  it("takes the brand's plans entry, else planId when it is the brand's, else null", () => {
    expect(planOf(catalog, 'a1', 'b1')?.id).toBe('pb1');
    expect(planOf(catalog, 'a1', 'b2')?.id).toBe('pb2');
    expect(planOf(catalog, 'a2', 'b2')).toBeNull();
    expect(planOf(catalog, 'a1', 'b3')).toBeNull();
    expect(planOf(catalog, 'nobody', 'b1')).toBeNull();
    // An entry naming a plan that is gone pays nothing rather than falling back to planId.
    expect(planOf(catalog, 'a3', 'b1')).toBeNull();
    // A brand named like an inherited property is looked up as a key like any other.
    expect(planOf(catalog, 'a4', 'constructor')?.id).toBe('constructorPlan');
  });

  it('names a parent only when it is in the catalog', () => {
    expect(parentOf(catalog, 'a2')).toBe('a1');
    expect(parentOf(catalog, 'a1')).toBeNull();
    expect(parentOf(catalog, 'a3')).toBeNull();
    expect(parentOf(catalog, 'nobody')).toBeNull();
  });
});
