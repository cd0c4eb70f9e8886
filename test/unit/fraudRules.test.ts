/**
 * Each fraud rule of docs/fraud.md through its actor's pure handler: a case that triggers it and a
 * near miss that does not.
 */
import { clickRecorded, ofType, subs } from '../kit/actors.ts';
import { describe, expect, it } from 'vitest';
import { handleAffiliate, initialAffiliateState, type AffiliateContext, type AffiliateEffect, type AffiliateState, type Attributed } from '../../workers/actors/affiliate.ts';
import { handleIdentity, initialIdentityState } from '../../workers/actors/identity.ts';
import { handlePlayer, initialPlayerState, type BrandSettings, type PlayerEffect, type PlayerState } from '../../workers/actors/player.ts';
import { DEFAULT_FRAUD_RULES, parseFraudRules, pauseKey, pauseOf, type FraudAlert } from '../../schema/fraud.ts';
import { parseEvent } from '../../schema/events.ts';
import { ClickFlag, type ClickRecorded } from '../../schema/wire.ts';
import { BUILTIN_RULES, ruleFor } from '../../schema/attributionRules.ts';

const T0 = Date.UTC(2026, 10, 21, 12);
const MIN = 60_000;
const HOUR = 60 * MIN;
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0';
const RULE = ruleFor(BUILTIN_RULES, 'b');

function ctx(network: { registrations: number; uniqueClicks: number } | null = null): AffiliateContext {
  return { settings: { uniqueDays: 2 }, rules: () => DEFAULT_FRAUD_RULES, network: () => network };
}
const alerts = (effects: AffiliateEffect[] | PlayerEffect[]): FraudAlert[] => effects.flatMap((e) => (e.type === 'AlertRaised' ? [e.alert] : []));

let n = 0;
const attributed = (over: Partial<Attributed> = {}): Attributed => ({
  brandId: 'b', affiliateId: 'a', sub1: 's1', playerId: `p${++n}`, eventId: `e${n}`, ts: T0, ip: '198.51.100.1', amount: '', ...over,
});
const click = (over: Partial<ClickRecorded> = {}): ClickRecorded =>
  clickRecorded({ clickId: `c${++n}`, ts: T0, subs: subs('s1'), ip: `10.0.${n >> 8 & 255}.${n & 255}`, country: '', userAgent: UA, ...over });

function registrations(s: AffiliateState, count: number, over: (i: number) => Partial<Attributed>, c = ctx()): FraudAlert[] {
  return Array.from({ length: count }, (_, i) => alerts(handleAffiliate(s, { type: 'RegistrationAttributed', reg: attributed(over(i)) }, c))).flat();
}

describe('rule 1: registrations from one IP on one sub-ID', () => {
  it('5 within 10 minutes: nothing; the 6th: the sub-ID is paused, once', () => {
    const s = initialAffiliateState('a');
    expect(registrations(s, 5, (i) => ({ ts: T0 + i * MIN }))).toEqual([]);
    const [alert, ...rest] = registrations(s, 3, (i) => ({ ts: T0 + (5 + i) * MIN }));
    expect(rest).toEqual([]);
    expect(alert).toMatchObject({ rule: 'ip_registrations', action: 'pause_sub', affiliate_id: 'a', sub_id: 's1', ts: T0 + 5 * MIN });
    expect(alert?.evidence).toMatchObject({ ip: '198.51.100.1', registrations: 6 });
  });

  it('6 spread over more than the window, or over other IPs or sub-IDs: nothing', () => {
    expect(registrations(initialAffiliateState('a'), 12, (i) => ({ ts: T0 + i * 2 * MIN + 1 }))).toEqual([]);
    expect(registrations(initialAffiliateState('a'), 6, (i) => ({ ip: `198.51.100.${i}` }))).toEqual([]);
    expect(registrations(initialAffiliateState('a'), 6, (i) => ({ sub1: `s${i}` }))).toEqual([]);
  });

  it('after an operator lifts the pause, the old registrations do not fire it again', () => {
    const s = initialAffiliateState('a');
    const [alert] = registrations(s, 6, () => ({}));
    handleAffiliate(s, { type: 'PauseLifted', subId: 's1', pauseId: alert?.id as string }, ctx());
    expect(registrations(s, 5, () => ({ ts: T0 + MIN }))).toEqual([]);
    expect(registrations(s, 1, () => ({ ts: T0 + MIN }))).toHaveLength(1);
  });
});

describe('rule 2: conversion rate against the network', () => {
  const withClicks = (uniques: number) => {
    const s = initialAffiliateState('a');
    for (let i = 0; i < uniques; i++) handleAffiliate(s, { type: 'ClickRecorded', click: click({ ts: T0 - HOUR }), ipClicksPerMinute: 1 }, ctx());
    return s;
  };
  const network = { registrations: 400, uniqueClicks: 10_000 };

  it('40 registrations on 200 unique clicks (20%) while the network converts 4%: flagged once', () => {
    const found = registrations(withClicks(200), 45, (i) => ({ ip: `10.9.0.${i}` }), ctx(network));
    expect(found.map((a) => [a.rule, a.action])).toEqual([['conversion_rate', 'flag']]);
    expect(found[0]?.evidence).toMatchObject({ registrations: 40, unique_clicks: 200, rate: 0.2, network_rate: 0.04 });
  });

  it('near misses: 14.8% (40 on 270), 39 registrations, or a network that converts as well', () => {
    expect(registrations(withClicks(270), 40, (i) => ({ ip: `10.9.0.${i}` }), ctx(network))).toEqual([]);
    expect(registrations(withClicks(100), 39, (i) => ({ ip: `10.9.0.${i}` }), ctx(network))).toEqual([]);
    expect(registrations(withClicks(200), 40, (i) => ({ ip: `10.9.0.${i}` }), ctx({ registrations: 1000, uniqueClicks: 10_000 }))).toEqual([]);
  });
});

describe('rule 3: bonus abuse', () => {
  const brand: BrandSettings = { attributionWindowDays: 30, paymentFeePct: '0', gamingTaxPct: '0', fraud: DEFAULT_FRAUD_RULES };
  const ev = (raw: Record<string, unknown>) => parseEvent({ player_id: 'p1', ...raw }, 'b', 'json', T0 + 48 * HOUR);
  const play = (s: PlayerState, raws: Array<Record<string, unknown>>) => raws.flatMap((r) => handlePlayer(s, { type: 'EventReceived', event: ev(r) }, brand, RULE));
  const start = () => {
    const s = initialPlayerState('b', 'p1');
    play(s, [
      { event_id: 'r', type: 'registration', ts: T0 },
      { event_id: 'd', type: 'deposit', amount: '50', currency: 'EUR', ts: T0 + MIN },
      { event_id: 'g', type: 'bonus', action: 'granted', amount: '100', currency: 'EUR', bonus_id: 'B', max: true, ts: T0 + 2 * MIN },
    ]);
    return s;
  };

  it('deposit, maximum bonus, no bet for 24 hours: commission held, once', () => {
    const s = start();
    expect(alerts(handlePlayer(s, { type: 'TimePassed', at: T0 + 2 * MIN + 24 * HOUR - 1 }, brand, RULE))).toEqual([]);
    const [a] = alerts(handlePlayer(s, { type: 'TimePassed', at: T0 + 2 * MIN + 24 * HOUR }, brand, RULE));
    expect(a).toMatchObject({ rule: 'bonus_abuse', action: 'hold_commission', player_id: 'p1' });
    expect(s.hold?.alertId).toBe(a?.id);
    expect(alerts(handlePlayer(s, { type: 'TimePassed', at: T0 + 72 * HOUR }, brand, RULE))).toEqual([]);
    const later = play(s, [{ event_id: 'd2', type: 'deposit', amount: '10', currency: 'EUR', ts: T0 + 30 * HOUR }]);
    expect(later.find((e) => e.type === 'EventApplied')).toMatchObject({ commissionable: false });
  });

  it('a bet within the window, or a bonus that is not the maximum: nothing', () => {
    const s = start();
    play(s, [{ event_id: 'x', type: 'bet', stake: '1', win: '0', currency: 'EUR', game: 'g', category: 'slots', ts: T0 + HOUR }]);
    expect(alerts(handlePlayer(s, { type: 'TimePassed', at: T0 + 48 * HOUR }, brand, RULE))).toEqual([]);
    const t = initialPlayerState('b', 'p1');
    play(t, [
      { event_id: 'r', type: 'registration', ts: T0 },
      { event_id: 'd', type: 'deposit', amount: '50', currency: 'EUR', ts: T0 + MIN },
      { event_id: 'g', type: 'bonus', action: 'granted', amount: '10', currency: 'EUR', bonus_id: 'B', max: false, ts: T0 + 2 * MIN },
    ]);
    expect(alerts(handlePlayer(t, { type: 'TimePassed', at: T0 + 48 * HOUR }, brand, RULE))).toEqual([]);
  });
});

describe('rule 4: chargebacks against FTDs', () => {
  const run = (ftds: number, chargebacks: number) => {
    const s = initialAffiliateState('a');
    for (let i = 0; i < ftds; i++) handleAffiliate(s, { type: 'FtdAttributed', ftd: attributed({ amount: `${20 + i}.0000` }) }, ctx());
    return Array.from({ length: chargebacks }, () => alerts(handleAffiliate(s, { type: 'ChargebackAttributed', chargeback: attributed({ ts: T0 + HOUR }) }, ctx()))).flat();
  };

  it('3 chargebacks on 30 FTDs (10%): the sub-ID is blocked', () => {
    expect(run(30, 3).map((a) => [a.rule, a.action])).toEqual([['chargeback_rate', 'block_sub']]);
  });

  it('near misses: 3 on 40 FTDs (7.5%), or 2 chargebacks only', () => {
    expect(run(40, 3)).toEqual([]);
    expect(run(10, 2)).toEqual([]);
  });
});

describe('rule 5: the click stream', () => {
  it('30 clicks from one IP in a minute are fine; the 31st is flagged, not unique, and alerts once', () => {
    const s = initialAffiliateState('a');
    const out = Array.from({ length: 32 }, (_, i) => handleAffiliate(s, { type: 'ClickRecorded', click: click({ ip: '198.18.0.1', code: `l${i}` }), ipClicksPerMinute: i + 1 }, ctx()));
    const counted = out.map((e) => e.find((x) => x.type === 'ClickCounted')) as Array<Extract<AffiliateEffect, { type: 'ClickCounted' }>>;
    expect(counted.slice(0, 30).every((c) => !c.flagged && c.unique)).toBe(true);
    expect(counted.slice(30).map((c) => [c.flagged, c.unique, c.score])).toEqual([[true, false, 80], [true, false, 80]]);
    expect(out.flatMap((e) => alerts(e)).map((a) => a.rule)).toEqual(['click_flood']);
  });

  it('empty or garbled user agents are flagged; bots score 100', () => {
    const s = initialAffiliateState('a');
    const verdict = (c: ClickRecorded) => handleAffiliate(s, { type: 'ClickRecorded', click: c, ipClicksPerMinute: 1 }, ctx())[0] as Extract<AffiliateEffect, { type: 'ClickCounted' }>;
    expect(verdict(click({ userAgent: '%%%%%%%%%%%%%' }))).toMatchObject({ flagged: true, unique: false, score: 90 });
    expect(verdict(click({ userAgent: 'x' }))).toMatchObject({ flagged: true, unique: false });
    expect(verdict(click({ flags: ClickFlag.Bot, userAgent: '' }))).toMatchObject({ flagged: false, unique: false, score: 100 });
    expect(verdict(click())).toMatchObject({ flagged: false, unique: true, score: 0 });
  });
});

describe('rule 6: multi-accounting', () => {
  const reg = (affiliateId: string, playerId: string, ts: number) => ({ type: 'RegistrationShared' as const, identifier: { brandId: 'b', kind: 'device' as const, value: 'dev-1' }, reg: { affiliateId, sub1: 's', playerId, ts, eventId: `r-${playerId}` } });

  it('one device registering through two affiliates within 24 hours: both players flagged, once', () => {
    const s = initialIdentityState('b', 'device', 'dev-1');
    expect(handleIdentity(s, reg('a1', 'p1', T0), DEFAULT_FRAUD_RULES)).toEqual([]);
    const found = ofType(handleIdentity(s, reg('a2', 'p2', T0 + HOUR), DEFAULT_FRAUD_RULES), 'AlertRaised').map((e) => e.alert);
    expect(found.map((a) => [a.rule, a.player_id, a.affiliate_id])).toEqual([['multi_account', 'p2', 'a2'], ['multi_account', 'p1', 'a1']]);
    expect(found[0]?.evidence).toMatchObject({ device: 'dev-1', affiliates: ['a1', 'a2'] });
    expect(ofType(handleIdentity(s, reg('a2', 'p3', T0 + 2 * HOUR), DEFAULT_FRAUD_RULES), 'AlertRaised').map((e) => e.alert.player_id)).toEqual(['p3']);
  });

  it('with the action hold_commission, the commission actor of each flagged player is told to hold its lines', () => {
    const rules = { ...DEFAULT_FRAUD_RULES, multiAccount: { ...DEFAULT_FRAUD_RULES.multiAccount, action: 'hold_commission' as const } };
    const s = initialIdentityState('b', 'device', 'dev-1');
    handleIdentity(s, reg('a1', 'p1', T0), rules);
    const effects = handleIdentity(s, reg('a2', 'p2', T0 + HOUR), rules);
    const alertIds = ofType(effects, 'AlertRaised').map((e) => e.alert.id);
    expect(ofType(effects, 'Forward').map((f) => [f.actor, f.key, f.message])).toEqual([
      ['commission', 'a2', { type: 'PlayerHeld', brandId: 'b', playerId: 'p2', alertId: alertIds[0], at: T0 + HOUR }],
      ['commission', 'a1', { type: 'PlayerHeld', brandId: 'b', playerId: 'p1', alertId: alertIds[1], at: T0 + HOUR }],
    ]);
  });

  it('near misses: the same affiliate twice, or two affiliates more than 24 hours apart', () => {
    const s = initialIdentityState('b', 'ip', '198.51.100.9');
    expect(handleIdentity(s, reg('a1', 'p1', T0), DEFAULT_FRAUD_RULES)).toEqual([]);
    expect(handleIdentity(s, reg('a1', 'p2', T0 + HOUR), DEFAULT_FRAUD_RULES)).toEqual([]);
    expect(handleIdentity(s, reg('a2', 'p3', T0 + 26 * HOUR), DEFAULT_FRAUD_RULES)).toEqual([]);
  });
});

describe('rule 7: same-amount FTD clusters', () => {
  const run = (amounts: string[]) => {
    const s = initialAffiliateState('a');
    return amounts.flatMap((amount) => alerts(handleAffiliate(s, { type: 'FtdAttributed', ftd: attributed({ amount }) }, ctx())));
  };

  it('10 FTDs, 5 of exactly 50.00: flagged once', () => {
    const found = run([...Array(5).fill('50.0000'), '10.0000', '20.0000', '30.0000', '40.0000', '60.0000', '50.0000']);
    expect(found.map((a) => [a.rule, a.action, a.evidence.amount])).toEqual([['ftd_amount_cluster', 'flag', '50.0000']]);
  });

  it('a cluster that came first is found when a later FTD brings the sub-ID to the minimum', () => {
    const found = run([...Array(9).fill('50.0000'), '12.3400']);
    expect(found.map((a) => [a.rule, a.evidence.amount, a.evidence.same_amount_ftds, a.evidence.ftds])).toEqual([['ftd_amount_cluster', '50.0000', 9, 10]]);
  });

  it('near misses: 4 of 10 the same, or 9 FTDs all the same', () => {
    expect(run([...Array(4).fill('50.0000'), '1.0000', '2.0000', '3.0000', '4.0000', '5.0000', '6.0000'])).toEqual([]);
    expect(run(Array(9).fill('50.0000'))).toEqual([]);
  });
});

describe('per-brand rule settings', () => {
  it('merge over the defaults and name what is wrong', () => {
    const r = parseFraudRules({ ipRegistrations: { max: 3, action: 'block_sub' } });
    expect(r.ipRegistrations).toEqual({ enabled: true, max: 3, windowMinutes: 10, action: 'block_sub' });
    expect(r.clickFlood).toEqual(DEFAULT_FRAUD_RULES.clickFlood);
    expect(() => parseFraudRules({ ipRegistrations: { max: 0 } })).toThrow('fraud.ipRegistrations.max: must be an integer from 1 to 1000000');
    expect(() => parseFraudRules({ bonusAbuse: { action: 'pause_sub' } })).toThrow('fraud.bonusAbuse.action: must be one of flag, hold_commission');
    expect(() => parseFraudRules({ nope: {} })).toThrow('fraud.nope: is not a rule');
  });

  it('pause_affiliate pauses the whole affiliate, and a block replaces a pause', () => {
    const rules = parseFraudRules({ ipRegistrations: { action: 'pause_affiliate' } });
    const [a] = registrations(initialAffiliateState('a'), 6, () => ({}), { ...ctx(), rules: () => rules });
    expect(pauseOf(a as FraudAlert)).toMatchObject({ affiliate_id: 'a', sub_id: '', action: 'pause_affiliate' });
    expect(pauseKey(pauseOf(a as FraudAlert))).toBe('pause.a.a');
    expect(pauseKey({ affiliate_id: 'a', sub_id: '', action: 'pause_sub' })).toBe('pause.a.s');
    expect(pauseKey({ affiliate_id: 'a', sub_id: 'é/x', action: 'block_sub' })).toBe(`pause.a.s${Buffer.from('é/x').toString('hex')}`);

    const s = initialAffiliateState('a');
    expect(registrations(s, 6, () => ({})).map((x) => x.action)).toEqual(['pause_sub']);
    for (let i = 0; i < 30; i++) handleAffiliate(s, { type: 'FtdAttributed', ftd: attributed() }, ctx());
    const blocks = Array.from({ length: 4 }, () => alerts(handleAffiliate(s, { type: 'ChargebackAttributed', chargeback: attributed() }, ctx()))).flat();
    expect(blocks.map((x) => x.action)).toEqual(['block_sub']);
  });

  it('an empty sub-ID is a sub-ID like any other: pausing it does not pause the affiliate, and each lift finds its own', () => {
    const rules = parseFraudRules({ chargebackRate: { action: 'pause_affiliate' } });
    const c: AffiliateContext = { ...ctx(), rules: () => rules };
    const s = initialAffiliateState('a');
    const [sub] = registrations(s, 6, () => ({ sub1: '' }), c);
    expect(sub).toMatchObject({ action: 'pause_sub', sub_id: '' });
    for (let i = 0; i < 10; i++) handleAffiliate(s, { type: 'FtdAttributed', ftd: attributed({ sub1: 'x' }) }, c);
    const [wide] = Array.from({ length: 3 }, () => alerts(handleAffiliate(s, { type: 'ChargebackAttributed', chargeback: attributed({ sub1: 'x' }) }, c))).flat();
    expect(wide).toMatchObject({ action: 'pause_affiliate' });
    expect(pauseKey(pauseOf(sub as FraudAlert))).not.toBe(pauseKey(pauseOf(wide as FraudAlert)));
    expect(handleAffiliate(s, { type: 'PauseLifted', subId: '', pauseId: (wide as FraudAlert).id }, c)).toEqual([
      { type: 'PauseCleared', pause: { affiliate_id: 'a', sub_id: '', action: 'pause_affiliate' } },
    ]);
    expect([...s.fraud.actions.keys()]).toEqual(['']);
    expect(handleAffiliate(s, { type: 'PauseLifted', subId: '', pauseId: (sub as FraudAlert).id }, c)).toEqual([
      { type: 'PauseCleared', pause: { affiliate_id: 'a', sub_id: '', action: 'pause_sub' } },
    ]);
    expect(s.fraud.actions.size).toBe(0);
    // A lift of a pause no longer in force changes nothing.
    expect(handleAffiliate(s, { type: 'PauseLifted', subId: '', pauseId: (sub as FraudAlert).id }, c)).toEqual([]);
  });

  it('a disabled rule never fires', () => {
    const rules = parseFraudRules({ ipRegistrations: { enabled: false } });
    const s = initialAffiliateState('a');
    const c: AffiliateContext = { ...ctx(), rules: () => rules };
    expect(registrations(s, 10, () => ({}), c)).toEqual([]);
  });
});
