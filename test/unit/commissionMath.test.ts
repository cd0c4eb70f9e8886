import { describe, expect, it } from 'vitest';
import { dayOf, nextPeriod, periodEnd, periodOf } from '../../workers/commissions/periods.ts';
import { percentOf, settlePeriod, tierFor, type Segment } from '../../workers/commissions/revshare.ts';
import { cpaOutcome } from '../../workers/commissions/cpa.ts';
import { parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import type { CarryOver, CpaTerms, RevshareTerms } from '../../schema/plans.ts';

const m = (s: string): Money => parseMoney(s) as Money;
const t = toDecimalText;
const DAY = 86_400_000;

describe('periods', () => {
  it('a period is the calendar month in the brand time zone', () => {
    const ts = Date.parse('2026-03-31T22:30:00Z');
    expect(periodOf(ts, 'UTC')).toBe('2026-03');
    expect(periodOf(ts, 'Europe/Malta')).toBe('2026-04');
    expect(periodOf(Date.parse('2026-01-01T03:00:00Z'), 'America/New_York')).toBe('2025-12');
  });

  it('ends at the first instant of the next month there, across daylight-saving changes', () => {
    // Malta: CET (+1) in winter, CEST (+2) from the last Sunday of March to the last Sunday of October.
    expect(new Date(periodEnd('2026-02', 'Europe/Malta')).toISOString()).toBe('2026-02-28T23:00:00.000Z');
    expect(new Date(periodEnd('2026-03', 'Europe/Malta')).toISOString()).toBe('2026-03-31T22:00:00.000Z');
    expect(new Date(periodEnd('2026-10', 'Europe/Malta')).toISOString()).toBe('2026-10-31T23:00:00.000Z');
    expect(new Date(periodEnd('2026-12', 'UTC')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(new Date(periodEnd('2026-06', 'Asia/Kolkata')).toISOString()).toBe('2026-06-30T18:30:00.000Z');
    expect(new Date(periodEnd('2026-06', 'Pacific/Kiritimati')).toISOString()).toBe('2026-06-30T10:00:00.000Z');
    for (const [p, tz] of [['2026-03', 'Europe/Malta'], ['2026-10', 'Europe/Malta'], ['2026-12', 'Pacific/Pago_Pago']] as const) {
      const end = periodEnd(p, tz);
      expect([periodOf(end - 1, tz), periodOf(end, tz)]).toEqual([p, nextPeriod(p)]);
    }
  });

  it('a month whose first midnight does not exist ends when the day begins (Asunción, 2023-10-01 00:00 skipped)', () => {
    const end = periodEnd('2023-09', 'America/Asuncion');
    expect(new Date(end).toISOString()).toBe('2023-10-01T04:00:00.000Z');
    expect([periodOf(end - 1, 'America/Asuncion'), periodOf(end, 'America/Asuncion')]).toEqual(['2023-09', '2023-10']);
  });

  it('next period rolls the year', () => {
    expect(nextPeriod('2026-12')).toBe('2027-01');
    expect(nextPeriod('2026-09')).toBe('2026-10');
  });
});

const terms = (tierBy: 'ngr' | 'ftds', carryOver: CarryOver = 'carry'): RevshareTerms => ({
  tierBy, carryOver,
  tiers: tierBy === 'ngr'
    ? [{ from: '0.0000', pct: '25.00' }, { from: '1000.0000', pct: '30.00' }, { from: '5000.0000', pct: '35.00' }]
    : [{ from: '0', pct: '20.00' }, { from: '10', pct: '30.00' }],
});

describe('RevShare tiers', () => {
  it('by NGR: flat, reached exactly at from', () => {
    const r = terms('ngr');
    expect(tierFor(r, m('999.9999'), 0).pct).toBe('25.00');
    expect(tierFor(r, m('1000'), 0).pct).toBe('30.00');
    expect(tierFor(r, m('4999.9999'), 0).pct).toBe('30.00');
    expect(tierFor(r, m('5000'), 0).pct).toBe('35.00');
    // A negative period takes the first tier.
    expect(tierFor(r, m('-50'), 0).pct).toBe('25.00');
  });

  it('by FTDs: the count reaches the tier at from exactly, whatever the NGR', () => {
    const r = terms('ftds');
    expect(tierFor(r, m('100000'), 9).pct).toBe('20.00');
    expect(tierFor(r, m('0'), 10).pct).toBe('30.00');
  });

  it('percentages round once, half away from zero, at 0.0001', () => {
    expect(t(percentOf(m('0.01'), '33.33'))).toBe('0.0033');
    expect(t(percentOf(m('0.0001'), '50.00'))).toBe('0.0001');
    expect(t(percentOf(m('-0.0001'), '50.00'))).toBe('-0.0001');
    expect(t(percentOf(m('100'), '33.33'))).toBe('33.3300');
    expect(t(percentOf(m('1000.0001'), '25'))).toBe('250.0000');
    expect(() => percentOf(m('1'), '33.333')).toThrow(/at most 2 places/);
  });
});

const seg = (ngr: string, r: RevshareTerms): Segment => ({ ngr: m(ngr), terms: r });

describe('closing a period', () => {
  it('carry: a negative month carries its balance until earned back', () => {
    const r = terms('ngr', 'carry');
    const m1 = settlePeriod(0n, [seg('800', r)], 0);
    expect([t(m1.lines[0]!.amount), t(m1.carryOut)]).toEqual(['200.0000', '0.0000']);
    const m2 = settlePeriod(m1.carryOut, [seg('-300.5', r)], 0);
    expect([t(m2.lines[0]!.amount), t(m2.lines[0]!.base), t(m2.carryOut)]).toEqual(['0.0000', '0.0000', '-300.5000']);
    const m3 = settlePeriod(m2.carryOut, [seg('500', r)], 0);
    expect(m3.lines[0]).toMatchObject({ base: m('199.5'), amount: m('49.875'), carryIn: m('-300.5'), carryOut: 0n, pct: '25.00' });
    // Not yet earned back: still carried, smaller.
    const m3b = settlePeriod(m2.carryOut, [seg('100', r)], 0);
    expect([t(m3b.lines[0]!.amount), t(m3b.carryOut)]).toEqual(['0.0000', '-200.5000']);
  });

  it('reset-monthly: a negative month earns nothing and the next starts from zero', () => {
    const r = terms('ngr', 'reset-monthly');
    const m2 = settlePeriod(0n, [seg('-300', r)], 0);
    expect([t(m2.lines[0]!.amount), t(m2.carryOut)]).toEqual(['0.0000', '0.0000']);
    const m3 = settlePeriod(m2.carryOut, [seg('500', r)], 0);
    expect(t(m3.lines[0]!.amount)).toBe('125.0000');
  });

  it('none: a negative month gives a negative line', () => {
    const r = terms('ngr', 'none');
    const m2 = settlePeriod(0n, [seg('-300.01', r)], 0);
    expect([t(m2.lines[0]!.amount), t(m2.carryOut)]).toEqual(['-75.0025', '0.0000']);
  });

  it('the tier is chosen by the whole period (NGR before carry-in), not by each segment', () => {
    const r = terms('ngr');
    const s = settlePeriod(0n, [seg('600', r), seg('600', r)], 0);
    expect(s.lines.map((l) => l.pct)).toEqual(['30.00', '30.00']);
    expect(s.lines.map((l) => t(l.amount))).toEqual(['180.0000', '180.0000']);
    const byFtds = settlePeriod(0n, [seg('100', terms('ftds')), seg('100', terms('ftds'))], 10);
    expect(byFtds.lines.map((l) => l.pct)).toEqual(['30.00', '30.00']);
  });

  it('segments: carry-in and negative segments are absorbed by the earliest positive segments first', () => {
    const v1 = terms('ngr', 'carry');
    const v2: RevshareTerms = { ...terms('ngr', 'carry'), tiers: [{ from: '0.0000', pct: '40.00' }] };
    const s = settlePeriod(m('-100'), [seg('150', v1), seg('-30', v2), seg('200', v2)], 0);
    // Net 220: the deficit of 130 (the carry-in and the second segment) takes 130 of the first segment's 150.
    expect(s.lines.map((l) => t(l.base))).toEqual(['20.0000', '0.0000', '200.0000']);
    expect(s.lines.map((l) => t(l.amount))).toEqual(['5.0000', '0.0000', '80.0000']);
    expect(s.lines.map((l) => [t(l.carryIn), t(l.carryOut)])).toEqual([['-100.0000', '0.0000'], ['0.0000', '0.0000'], ['0.0000', '0.0000']]);
  });

  it('a negative net follows the carry-over of the version in force at the end', () => {
    const carry = terms('ngr', 'carry');
    const none = terms('ngr', 'none');
    const toNone = settlePeriod(0n, [seg('100', carry), seg('-300', none)], 0);
    expect(toNone.lines.map((l) => t(l.base))).toEqual(['0.0000', '-200.0000']);
    expect(t(toNone.carryOut)).toBe('0.0000');
    const toCarry = settlePeriod(0n, [seg('100', none), seg('-300', carry)], 0);
    expect(toCarry.lines.map((l) => t(l.base))).toEqual(['0.0000', '0.0000']);
    expect([t(toCarry.lines[1]!.carryOut), t(toCarry.carryOut)]).toEqual(['-200.0000', '-200.0000']);
  });

  it('a third of a cent three ways stays exact: every line rounds once and the bases sum to the net', () => {
    const r: RevshareTerms = { ...terms('ngr', 'none'), tiers: [{ from: '0.0000', pct: '33.33' }] };
    const s = settlePeriod(m('-0.0001'), [seg('0.0034', r), seg('0.0033', r), seg('0.0033', r)], 0);
    expect(t(s.lines.reduce((a, l) => a + l.base, 0n))).toBe('0.0099');
    expect(s.lines.map((l) => t(l.amount))).toEqual(['0.0011', '0.0011', '0.0011']);
  });
});

const cpa = (over: Partial<CpaTerms> = {}): CpaTerms => ({ amount: '50.0000', minDeposit: '20.0000', kycRequired: true, minWagering: '100.0000', countries: ['DE', 'MT'], withinDays: 30, ...over });

describe('CPA qualification', () => {
  const reg = Date.UTC(2026, 2, 1);
  const p = { registeredAt: reg, deposits: m('20'), stakes: m('100') };
  const at = { ts: reg + DAY, kyc: 'approved', country: 'DE' };

  it('qualifies when every condition holds, exactly at the minimums', () => {
    expect(cpaOutcome(cpa(), p, at)).toBe('qualified');
    expect(cpaOutcome(cpa(), { ...p, deposits: m('19.9999') }, at)).toBe('open');
    expect(cpaOutcome(cpa(), { ...p, stakes: m('99.9999') }, at)).toBe('open');
    expect(cpaOutcome(cpa(), p, { ...at, kyc: 'pending' })).toBe('open');
    expect(cpaOutcome(cpa({ kycRequired: false }), p, { ...at, kyc: '' })).toBe('qualified');
  });

  it('countries: only those listed; an unknown country is in none; an empty list allows all', () => {
    expect(cpaOutcome(cpa(), p, { ...at, country: 'FR' })).toBe('open');
    expect(cpaOutcome(cpa(), p, { ...at, country: '' })).toBe('open');
    expect(cpaOutcome(cpa({ countries: [] }), p, { ...at, country: '' })).toBe('qualified');
  });

  it('the deadline is withinDays × 24 h after registration, inclusive; past it, never', () => {
    expect(cpaOutcome(cpa(), p, { ...at, ts: reg + 30 * DAY })).toBe('qualified');
    expect(cpaOutcome(cpa(), p, { ...at, ts: reg + 30 * DAY + 1 })).toBe('expired');
    expect(cpaOutcome(cpa(), { ...p, stakes: 0n }, { ...at, ts: reg + 30 * DAY + 1 })).toBe('expired');
    expect(cpaOutcome(cpa({ withinDays: null }), p, { ...at, ts: reg + 3650 * DAY })).toBe('qualified');
  });
});

describe('days in a time zone, remembered per quarter hour', () => {
  it('are the days Intl gives at every minute around local midnights and DST changes, quarter-hour offsets included', () => {
    for (const tz of ['Europe/Malta', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'America/St_Johns', 'Pacific/Chatham']) {
      const f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
      const direct = (ts: number) => f.format(ts);
      // Two days around the end of EU summer time, minute by minute, asked twice (remembered the second time).
      for (const pass of [1, 2]) {
        for (let ts = Date.UTC(2026, 9, 24, 12); ts < Date.UTC(2026, 9, 26, 12); ts += 60_000) {
          expect(dayOf(ts, tz), `${tz} ${new Date(ts).toISOString()} pass ${pass}`).toBe(direct(ts));
        }
      }
    }
  });
});
