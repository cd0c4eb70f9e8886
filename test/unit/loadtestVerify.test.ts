/** The load-test verdict: report and live figures against the ledger, fraud alerts against the planted cases. */
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../loadtest/generator/ledger.ts';
import type { PlantedCase } from '../../loadtest/generator/timeline.ts';
import { compareLive, compareReport, judgeRun, scoreFraud, type ReportRow } from '../../loadtest/generator/verify.ts';

const T = Date.UTC(2026, 10, 21, 12, 0, 0);
function sample(): Ledger {
  const l = new Ledger([{ id: 'b', currency: 'EUR', restrictedCountries: [], paymentFeePct: '0', gamingTaxPct: '0', attributionWindowDays: 30, timezone: 'UTC' }], {}, { clickFloodRule: false });
  const c = l.click({ ts: T, code: 'l', brandId: 'b', affiliateId: 'a', ip: '1.1.1.1', bot: false, geoBlocked: false });
  l.event('b', { type: 'registration', event_id: 'r', player_id: 'p', ts: T }, c);
  l.event('b', { type: 'deposit', event_id: 'd', player_id: 'p', amount: '12.5', currency: 'EUR', ts: T });
  return l;
}
/** The report's JSON for the sample, as the API returns it: 64-bit counts quoted, money with 4 places. */
const reportOf = (): ReportRow[] => [
  {
    day: '2026-11-21', brand_id: 'b', affiliate_id: 'a', clicks: '1', unique_clicks: '1', bot_clicks: '0', geo_blocked_clicks: '0', registrations: '1', ftds: '1',
    ftd_amount: '12.5000', deposits: '1', deposit_amount: '12.5000', withdrawal_amount: '0.0000', ggr: '0.0000', bonus_amount: '0.0000', chargeback_amount: '0.0000', ngr: '0.0000', conversion_rate: 1, cpa: '0.0000', revshare: '0.0000', commission: '0.0000',
  },
];

describe('loadtest verdict', () => {
  it('passes a report equal to the ledger, whatever the number formatting', () => {
    const c = compareReport(sample().dailyRows(), reportOf());
    expect(c.differences).toEqual([]);
    expect(c.figures).toBe(17);
    expect(judgeRun(c, { rows: 1, figures: 10, differences: [] }, [])).toEqual({ verdict: 'PASS', reasons: [] });
  });

  it('names every differing figure, missing row and extra row', () => {
    const wrong = reportOf();
    (wrong[0] as ReportRow).deposit_amount = '12.4999';
    wrong.push({ ...(wrong[0] as ReportRow), affiliate_id: 'ghost' });
    const c = compareReport(sample().dailyRows(), wrong);
    expect(c.differences[0]).toEqual({ row: '2026-11-21 / b / a', column: 'deposit_amount', expected: '12.5000', actual: '12.4999' });
    expect(c.differences.filter((d) => d.row.endsWith('ghost') && d.expected === '(no row)')).toHaveLength(17);
    expect(compareReport(sample().dailyRows(), []).differences.every((d) => d.actual === '(no row)')).toBe(true);
    const v = judgeRun(c, { rows: 0, figures: 0, differences: [] }, ['2 redirect(s) failed']);
    expect(v.verdict).toBe('FAIL');
    expect(v.reasons).toEqual(['2 redirect(s) failed', 'affiliate-daily: 18 of 34 figures differ from the ledger']);
  });

  it('leaves revshare and commission out on a brand whose periods are in doubt (a closed period made RevShare lines)', () => {
    const closed = [{ ...(reportOf()[0] as ReportRow), revshare: '5.0000', commission: '5.0000' }];
    expect(compareReport(sample().dailyRows(), closed).differences.map((d) => d.column)).toEqual(['revshare', 'commission']);
    const c = compareReport(sample().dailyRows(), closed, new Set(['b']));
    expect([c.differences, c.figures]).toEqual([[], 15]);
  });

  it('compares live counters with the ledger day', () => {
    const l = sample();
    const expected = new Map([['a', l.live('a', '2026-11-21')]]);
    const answer = { clicks: 1, unique_clicks: 1, bot_clicks: 0, geo_blocked_clicks: 0, registrations: 1, ftds: 1, deposits: 1, ftd_amount: '12.5000', deposit_amount: '12.5000', ngr: '0.0000' };
    expect(compareLive(expected, new Map([['a', answer]])).differences).toEqual([]);
    expect(compareLive(expected, new Map([['a', { ...answer, ngr: '0.0001' }]])).differences).toEqual([{ row: 'live / a', column: 'ngr', expected: '0.0000', actual: '0.0001' }]);
    expect(judgeRun({ rows: 0, figures: 0, differences: [] }, { rows: 0, figures: 0, differences: [] }, []).verdict).toBe('FAIL');
  });

  it('scores fraud alerts: precision over alerts, recall over planted cases; "not available" without the endpoint', () => {
    const planted: PlantedCase[] = [
      { rule: 'ip_registrations', affiliateId: 'a', subId: 's1', playerIds: [] },
      { rule: 'bonus_abuse', affiliateId: 'a', subId: 's2', playerIds: ['p9'] },
      { rule: 'click_flood', affiliateId: 'b', subId: 's3', playerIds: [] },
    ];
    const score = scoreFraud(planted, [
      { rule: 'ip_registrations', affiliate_id: 'a', sub_id: 's1' },
      { rule: 'bonus_abuse', affiliate_id: 'a', player_id: 'p9' },
      { rule: 'bonus_abuse', affiliate_id: 'z', player_id: 'clean-player' },
      { rule: 'click_flood', affiliate_id: 'a', sub_id: 's1' },
    ]);
    expect(score).toMatchObject({ available: true, alerts: 4, truePositives: 2, falsePositives: 2, detected: 2, precision: 0.5, recall: 2 / 3 });
    expect(score.missed.map((c) => c.rule)).toEqual(['click_flood']);
    expect(scoreFraud(planted, undefined)).toMatchObject({ available: false, precision: null, recall: null, planted: 3 });
  });
});
