import { describe, expect, it } from 'vitest';
import { parseMoney, type Money } from '../../schema/money.ts';
import type { AppliedEvent } from '../../loadtest/generator/ledger.ts';
import type { BrandPlan } from '../../loadtest/generator/programme.ts';
import { exceedsThreshold, liveLayer, PlayerDays, revenueActivity, revenueCsv, revenueFiles, type PlayerDay } from '../../loadtest/generator/revenueFile.ts';

const $ = (text: string) => parseMoney(text) as Money;
const BRAND: BrandPlan = { id: 'rb', currency: 'EUR', restrictedCountries: [], paymentFeePct: '2.5', gamingTaxPct: '15', attributionWindowDays: 30, timezone: 'Europe/Malta' };
const DAYS = ['2026-11-18', '2026-11-19', '2026-11-20'];
const AFFILIATES = ['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => ({ id, code: `L-${id}` }));
const players = () => revenueActivity({ tag: 'rf', seed: 7, brand: BRAND, affiliates: AFFILIATES, days: DAYS, playersPerAffiliate: 4 });
const live = () => liveLayer(BRAND, players(), Date.parse('2026-11-21T12:00:00Z'));

describe('reconciliation threshold', () => {
  it('flags a difference above the percent of the imported NGR, exactly, and any difference from 0', () => {
    expect(exceedsThreshold($('99.5'), $('100'), '0.5')).toBe(false); // 0.5 of 100: exactly the threshold
    expect(exceedsThreshold($('99.4999'), $('100'), '0.5')).toBe(true);
    expect(exceedsThreshold($('100.5'), $('100'), '0.5')).toBe(false);
    expect(exceedsThreshold($('100.5001'), $('100'), '0.5')).toBe(true);
    expect(exceedsThreshold($('-100.5001'), $('-100'), '0.5')).toBe(true); // the base is |imported|
    expect(exceedsThreshold($('0.0001'), $('0'), '0.5')).toBe(true);
    expect(exceedsThreshold($('0'), $('0'), '0.5')).toBe(false);
    expect(exceedsThreshold($('90'), $('100'), '10')).toBe(false);
    expect(exceedsThreshold($('100.0001'), $('100'), '0')).toBe(true);
  });
});

describe('live layer per player and brand day', () => {
  it('books GGR, converted bonuses and NGR on the day of the brand zone', () => {
    const book = new PlayerDays({ rb: 'Europe/Malta' });
    const ev = (ts: string, over: Partial<AppliedEvent>): AppliedEvent => ({
      brandId: 'rb', affiliateId: 'a1', playerId: 'p1', eventId: ts, type: 'bet', ts: Date.parse(ts), registeredAt: 0, country: '', kyc: '',
      amount: 0n, isFtd: false, ngr: 0n, ggr: 0n, bonus: 0n, commissionable: true, sub1: '', ...over,
    });
    book.add(ev('2026-11-20T22:59:00Z', { ggr: $('10'), ngr: $('8.5') })); // 23:59 in Malta
    book.add(ev('2026-11-20T23:01:00Z', { ggr: $('4'), ngr: $('3.4') })); // 00:01 the next day
    book.add(ev('2026-11-21T10:00:00Z', { type: 'bonus', bonus: $('5'), ngr: $('-5') }));
    book.add(ev('2026-11-21T11:00:00Z', { type: 'registration' })); // no money: no day
    expect(book.list()).toEqual([
      { brandId: 'rb', day: '2026-11-20', playerId: 'p1', affiliateId: 'a1', ggr: $('10'), bonuses: 0n, ngr: $('8.5') },
      { brandId: 'rb', day: '2026-11-21', playerId: 'p1', affiliateId: 'a1', ggr: $('4'), bonuses: $('5'), ngr: $('-1.6') },
    ]);
  });

  it('generates play on the brand days, the first and last bets a minute from local midnight', () => {
    const days = live();
    expect(new Set(days.map((d) => d.day))).toEqual(new Set(DAYS));
    const p = players()[0];
    const bets = p?.events.filter((e) => e.type === 'bet').map((e) => new Date(Number(e.ts)).toISOString()) ?? [];
    expect(bets[0]).toMatch(/T23:00:30\.000Z$/); // 00:00:30 in Malta (UTC+1)
    expect(bets).toContainEqual(expect.stringMatching(/T22:59:00\.000Z$/)); // 23:59:00
    // Deposit fees and gaming tax make NGR differ from GGR − bonuses.
    expect(days.some((d) => d.ngr !== d.ggr - d.bonuses)).toBe(true);
  });
});

describe('revenue files with known differences', () => {
  it('flags exactly the late bets, the lost day and the missing player, with the players that explain them', () => {
    const layer = live();
    const truth = revenueFiles(layer, { brandId: 'rb', thresholdPct: '0.5' });
    expect(truth.plants.map((p) => p.kind).sort()).toEqual(['corrected_resend', 'late_bets', 'lost_day', 'missing_player', 'rounding']);
    expect(new Set(truth.plants.map((p) => `${p.affiliateId}/${p.day}`)).size).toBe(5);
    const plantOf = (kind: string) => truth.plants.find((p) => p.kind === kind);

    expect(truth.flagged.map((r) => r.plant).sort()).toEqual(['late_bets', 'lost_day', 'missing_player']);
    const explained = (kind: string) => [...truth.flagged, ...truth.unflagged].find((r) => r.plant === kind)?.players;
    expect(explained('late_bets')).toEqual([{ playerId: plantOf('late_bets')?.playerId, presence: 'differs' }]);
    expect(explained('lost_day')).toEqual([{ playerId: plantOf('lost_day')?.playerId, presence: 'imported_only' }]);
    expect(explained('missing_player')).toEqual([{ playerId: plantOf('missing_player')?.playerId, presence: 'live_only' }]);
    // The rounding difference is explained and not flagged; the corrected day matches.
    expect(explained('rounding')).toEqual([{ playerId: plantOf('rounding')?.playerId, presence: 'differs' }]);
    expect(explained('corrected_resend')).toEqual([]);
    const rounding = truth.unflagged.find((r) => r.plant === 'rounding');
    expect(rounding && rounding.importedNgr - rounding.liveNgr).toBe(1n);
    for (const r of truth.unflagged.filter((x) => x.plant === null)) expect({ players: r.players, diff: r.importedNgr - r.liveNgr }).toEqual({ players: [], diff: 0n });
    // Every live row is expected, and its live NGR is the live layer's.
    const rowNgr = new Map<string, Money>();
    for (const d of layer) rowNgr.set(`${d.affiliateId}/${d.day}`, (rowNgr.get(`${d.affiliateId}/${d.day}`) ?? 0n) + d.ngr);
    for (const [k, ngr] of rowNgr) expect([...truth.flagged, ...truth.unflagged].find((r) => `${r.affiliateId}/${r.day}` === k)?.liveNgr).toBe(ngr);
  });

  it('re-sends the last day whole and right; the first file has it wrong', () => {
    const layer = live();
    const truth = revenueFiles(layer, { brandId: 'rb', thresholdPct: '0.5' });
    const [whole, corrected] = truth.files;
    const last = DAYS[2] as string;
    const asLines = (ds: PlayerDay[]) => ds.map((d) => ({ playerId: d.playerId, day: d.day, ggr: d.ggr, bonuses: d.bonuses, ngr: d.ngr }));
    expect(corrected?.lines).toEqual(asLines(layer.filter((d) => d.day === last)));
    const wrong = truth.plants.find((p) => p.kind === 'corrected_resend');
    const inFirst = whole?.lines.find((l) => l.day === last && l.playerId === wrong?.playerId);
    const right = layer.find((d) => d.day === last && d.playerId === wrong?.playerId);
    expect(inFirst && right && inFirst.ngr - right.ngr).toBeGreaterThan(100n * 10_000n);
    const missing = truth.plants.find((p) => p.kind === 'missing_player');
    expect(whole?.lines.some((l) => l.playerId === missing?.playerId && l.day === missing?.day)).toBe(false);
    expect(layer.some((d) => d.playerId === missing?.playerId && d.day === missing?.day)).toBe(true);
  });

  it('writes CSV the import reads, and the same files from the same seed', () => {
    const truth = revenueFiles(live(), { brandId: 'rb', thresholdPct: '0.5' });
    const csv = revenueCsv(truth.files[1] as never).split('\n');
    expect(csv[0]).toBe('player_id,day,ggr,bonuses,ngr');
    expect(csv[1]).toMatch(/^rf-p\d+,2026-11-20,-?\d+\.\d{4},\d+\.\d{4},-?\d+\.\d{4}$/);
    expect(revenueFiles(live(), { brandId: 'rb', thresholdPct: '0.5' })).toEqual(truth);
  });
});
