/** The load-test ledger: the ground truth every benchmark report is compared with, booked by the contract's rules. */
import { describe, expect, it } from 'vitest';
import { Ledger, type LedgerClick } from '../../loadtest/generator/ledger.ts';
import type { BrandPlan } from '../../loadtest/generator/programme.ts';

const brand: BrandPlan = { id: 'b', currency: 'EUR', restrictedCountries: ['US'], paymentFeePct: '2.5', gamingTaxPct: '15', attributionWindowDays: 30, timezone: 'UTC' };
const T = Date.UTC(2026, 10, 21, 12, 0, 0);
const click = (over: Partial<LedgerClick> = {}): LedgerClick => ({ ts: T, code: 'l1', brandId: 'b', affiliateId: 'a1', ip: '1.1.1.1', bot: false, geoBlocked: false, ...over });
const ledger = (clickFloodRule = false) => new Ledger([brand], { 'USD-EUR': '0.9234' }, { clickFloodRule });
const reg = (player: string, ts = T) => ({ type: 'registration', event_id: `r-${player}`, player_id: player, ts });

describe('loadtest ledger: clicks', () => {
  it('counts every click and only the first valid one per link, address and UTC day as unique', () => {
    const l = ledger();
    l.click(click());
    l.click(click({ ts: T + 1000 })); // same link and address: not unique
    l.click(click({ code: 'l2' })); // another link: unique
    l.click(click({ ip: '2.2.2.2', bot: true })); // bot: counted, never unique
    l.click(click({ ip: '3.3.3.3', geoBlocked: true }));
    l.click(click({ ts: T + 86_400_000 })); // next UTC day: unique again
    const [today, tomorrow] = l.dailyRows();
    expect(today?.counts).toMatchObject({ clicks: 5, unique_clicks: 2, bot_clicks: 1, geo_blocked_clicks: 1 });
    expect(tomorrow?.counts).toMatchObject({ clicks: 1, unique_clicks: 1 });
  });

  it('applies the click-flood rule only when asked: more than 30 clicks from one address to one affiliate in a minute are not unique', () => {
    const flood = (l: Ledger) => {
      for (let i = 0; i < 30; i++) l.click(click({ ts: T + i * 100 }));
      for (let k = 0; k < 5; k++) l.click(click({ ts: T + 5_000 + k, code: `x${k}` }));
      // A minute after the first clicks the window has room again.
      l.click(click({ ts: T + 70_000, code: 'late' }));
      return l.dailyRows()[0]?.counts.unique_clicks;
    };
    expect(flood(ledger(false))).toBe(7);
    expect(flood(ledger(true))).toBe(2);
  });
});

describe('loadtest ledger: players and money', () => {
  it('attributes to the quoted valid click, keeps organic players under affiliate "" and counts an event id once', () => {
    const l = ledger();
    const good = l.click(click());
    const bot = l.click(click({ ip: '9.9.9.9', bot: true }));
    l.event('b', reg('p1'), good);
    l.event('b', reg('p1'), good); // a resend
    l.event('b', reg('p2'), bot);
    l.event('b', { ...reg('p3'), event_id: 'r-p3' });
    const rows = l.dailyRows();
    expect(rows.find((r) => r.affiliate_id === 'a1')?.counts.registrations).toBe(1);
    expect(rows.find((r) => r.affiliate_id === '')?.counts.registrations).toBe(2);
    expect(l.tally).toMatchObject({ events: 3, duplicates: 1 });
  });

  it('takes the first deposit received as the FTD, holds events that came before the registration, converts and computes NGR exactly', () => {
    const l = ledger();
    const c = l.click(click());
    // Before its registration: waits, then counts (and is the FTD, being the first deposit received).
    l.event('b', { type: 'deposit', event_id: 'd1', player_id: 'p', amount: '100.00', currency: 'EUR', ts: T });
    l.event('b', reg('p'), c);
    l.event('b', { type: 'deposit', event_id: 'd2', player_id: 'p', amount: '10.00', currency: 'USD', ts: T });
    l.event('b', { type: 'bet', event_id: 'g1', player_id: 'p', stake: '10.00', win: '3.33', currency: 'EUR', ts: T });
    l.event('b', { type: 'bonus', event_id: 'o1', player_id: 'p', action: 'granted', amount: '5', currency: 'EUR', ts: T });
    l.event('b', { type: 'bonus', event_id: 'o2', player_id: 'p', action: 'converted', amount: '5', currency: 'EUR', ts: T });
    l.event('b', { type: 'chargeback', event_id: 'k1', player_id: 'p', amount: '100.00', currency: 'EUR', deposit_id: 'd1', ts: T });
    l.event('b', { type: 'withdrawal', event_id: 'w1', player_id: 'p', amount: '1.5', currency: 'EUR', ts: T });
    const [row] = l.dailyRows();
    expect(row?.counts).toMatchObject({ registrations: 1, deposits: 2, ftds: 1 });
    // 10 USD × 0.9234 = 9.234 EUR; fees 2.5% of 100 = 2.5 and of 9.234 = 0.23085 → 0.2309 (half away from zero).
    expect(row?.money).toEqual({
      ftd_amount: 1_000_000n,
      deposit_amount: 1_092_340n,
      withdrawal_amount: 15_000n,
      ggr: 66_700n,
      bonus_amount: 50_000n,
      chargeback_amount: 1_000_000n,
      // GGR 6.67 − tax 1.0005 − bonus 5 − chargeback 100 − fees 2.5 − 0.2309
      ngr: 66_700n - 10_005n - 50_000n - 1_000_000n - 25_000n - 2_309n,
      cpa: 0n,
      revshare: 0n,
      commission: 0n,
    });
  });

  it('books each event on the UTC day of its own ts and serves the live counters of one day', () => {
    const l = ledger();
    const c = l.click(click());
    l.event('b', reg('p'), c);
    l.event('b', { type: 'deposit', event_id: 'late', player_id: 'p', amount: '20', currency: 'EUR', ts: T - 86_400_000 });
    expect(l.days()).toEqual(['2026-11-20', '2026-11-21']);
    expect(l.live('a1', '2026-11-21')).toMatchObject({ clicks: 1, unique_clicks: 1, registrations: 1, deposits: 0, deposit_amount: 0n });
    expect(l.live('a1', '2026-11-20')).toMatchObject({ clicks: 0, deposits: 1, ftds: 1, deposit_amount: 200_000n });
  });

  it('books commission lines on the UTC day they were made: cpa with its reversals, every kind in commission', () => {
    const l = ledger();
    l.commission({ createdAt: T, brandId: 'b', affiliateId: 'a1', kind: 'cpa', amount: 333_300n });
    l.commission({ createdAt: T + 1000, brandId: 'b', affiliateId: 'a1', kind: 'cpa', amount: -333_300n });
    l.commission({ createdAt: T, brandId: 'b', affiliateId: 'parent', kind: 'subaffiliate', amount: 111_089n });
    l.commission({ createdAt: T + 86_400_000, brandId: 'b', affiliateId: 'a1', kind: 'revshare', amount: 25n });
    expect(l.dailyRows().map((r) => [r.day, r.affiliate_id, r.money.cpa, r.money.revshare, r.money.commission, r.counts.registrations])).toEqual([
      ['2026-11-21', 'a1', 0n, 0n, 0n, 0],
      ['2026-11-21', 'parent', 0n, 0n, 111_089n, 0],
      ['2026-11-22', 'a1', 0n, 25n, 25n, 0],
    ]);
  });

  it('refuses a currency it has no rate for instead of guessing', () => {
    const l = ledger();
    l.event('b', reg('p'));
    expect(() => l.event('b', { type: 'deposit', event_id: 'd', player_id: 'p', amount: '1', currency: 'JPY', ts: T })).toThrow(/no rate JPY-EUR/);
  });
});
