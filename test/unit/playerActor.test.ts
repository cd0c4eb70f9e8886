import { describe, expect, it } from 'vitest';
import { handlePlayer, initialPlayerState, type BrandSettings, type ClickInfo, type PlayerEffect, type PlayerState } from '../../workers/actors/player.ts';
import { parseEvent, type PlayerEvent } from '../../schema/events.ts';
import { DEFAULT_FRAUD_RULES } from '../../schema/fraud.ts';
import { BUILTIN_RULES, ruleFor } from '../../schema/attributionRules.ts';

const T0 = Date.UTC(2026, 10, 20, 12);
const DAY = 86_400_000;
const CLICK = '01a1fb40-0efa-78a7-b23e-632c6d65b1ce';
const brand: BrandSettings = { attributionWindowDays: 30, paymentFeePct: '2.5', gamingTaxPct: '10', fraud: DEFAULT_FRAUD_RULES };
const click = (over: Partial<ClickInfo> = {}): ClickInfo => ({
  clickId: CLICK, ts: T0 - 60_000, brandId: 'b1', affiliateId: 'aff-7', code: 'L1', campaign: 'spring', sub1: 's1', country: 'DE', bot: false, geoBlocked: false, visitorId: '',
  ip: '', fraudScore: 0, flagged: false, commissionable: true, ...over,
});

let n = 0;
function ev(raw: Record<string, unknown>): PlayerEvent {
  return parseEvent({ event_id: `e${++n}`, player_id: 'p1', ts: T0 + n, ...raw }, 'b1', 'json', T0 + DAY);
}

function run(s: PlayerState, msgs: Array<PlayerEvent | [string, ClickInfo | null]>): PlayerEffect[] {
  const rule = ruleFor(BUILTIN_RULES, 'b1');
  return msgs.flatMap((m) => (Array.isArray(m) ? handlePlayer(s, { type: 'ClickResolved', clickId: m[0], click: m[1], touches: [] }, brand, rule) : handlePlayer(s, { type: 'EventReceived', event: m }, brand, rule)));
}

const applied = (effects: PlayerEffect[]) => effects.filter((e) => e.type === 'EventApplied') as Extract<PlayerEffect, { type: 'EventApplied' }>[];

describe('player actor', () => {
  it('registration with a click: resolve, then bind and apply in order, first deposit is the FTD', () => {
    const s = initialPlayerState('b1', 'p1');
    const first = run(s, [ev({ type: 'registration', click_id: CLICK })]);
    expect(first).toEqual([{ type: 'ResolveClick', clickId: CLICK, playerKey: 'b1:p1', brandId: 'b1', touches: null }]);
    // A deposit before the click is resolved waits, and is attributed once it is.
    expect(run(s, [ev({ type: 'deposit', amount: '50.00', currency: 'EUR' })])).toEqual([]);
    const out = applied(run(s, [[CLICK, click()], ev({ type: 'deposit', amount: '20', currency: 'EUR' })]));
    expect(out.map((e) => [e.event.type, e.isFtd, e.attribution.affiliateId, e.attribution.sub1])).toEqual([
      ['registration', false, 'aff-7', 's1'],
      ['deposit', true, 'aff-7', 's1'],
      ['deposit', false, 'aff-7', 's1'],
    ]);
    expect(out[1]?.revenue).toMatchObject({ fees: '1.2500', ngr: '-1.2500' });
    expect(out[0]?.attribution.rulesVersion).toBe('last-click@1');
  });

  it('organic: no click, unknown, bot, geo-blocked, other brand, expired', () => {
    const cases: Array<[ClickInfo | null | undefined, string]> = [
      [undefined, 'no_click'],
      [null, 'unknown_click'],
      [click({ bot: true }), 'bot_click'],
      [click({ geoBlocked: true }), 'geo_blocked_click'],
      [click({ brandId: 'b2' }), 'other_brand_click'],
      [click({ ts: T0 - 31 * DAY }), 'expired_click'],
    ];
    for (const [c, reason] of cases) {
      const s = initialPlayerState('b1', 'p1');
      const effects = c === undefined ? run(s, [ev({ type: 'registration' })]) : run(s, [ev({ type: 'registration', click_id: CLICK }), [CLICK, c]]);
      const [reg] = applied(effects);
      expect([reg?.attribution.attributed, reg?.attribution.reason, reg?.attribution.affiliateId]).toEqual([false, reason, '']);
    }
  });

  it('events before the registration wait for it; a second registration changes nothing', () => {
    const s = initialPlayerState('b1', 'p1');
    expect(run(s, [ev({ type: 'deposit', amount: '10', currency: 'EUR' }), ev({ type: 'kyc', status: 'approved' })])).toEqual([]);
    const out = applied(run(s, [ev({ type: 'registration', click_id: CLICK }), [CLICK, click()]]));
    expect(out.map((e) => [e.event.type, e.attribution.affiliateId, e.isFtd])).toEqual([
      ['registration', 'aff-7', false],
      ['deposit', 'aff-7', true],
      ['kyc', 'aff-7', false],
    ]);
    expect(s.kyc).toBe('approved');
    expect(run(s, [ev({ type: 'registration', click_id: CLICK })])).toEqual([]);
    // A stale or repeated resolution is ignored.
    expect(run(s, [[CLICK, click({ affiliateId: 'other' })]])).toEqual([]);
  });

  it('NGR components are exact: GGR − converted bonuses − chargebacks − fees − tax', () => {
    const s = initialPlayerState('b1', 'p1');
    const out = applied(
      run(s, [
        ev({ type: 'registration' }),
        ev({ type: 'bet', stake: '10.10', win: '0.20', currency: 'EUR' }),
        ev({ type: 'bet', stake: '1', win: '3.5', currency: 'EUR' }),
        ev({ type: 'bonus', action: 'converted', amount: '5', currency: 'EUR', bonus_id: 'x' }),
        ev({ type: 'bonus', action: 'granted', amount: '50', currency: 'EUR', bonus_id: 'y' }),
        ev({ type: 'chargeback', amount: '7.77', currency: 'EUR' }),
      ]),
    );
    expect(out.map((e) => e.revenue.ngr)).toEqual(['0.0000', '8.9100', '-2.2500', '-5.0000', '0.0000', '-7.7700']);
    expect(out[1]?.revenue).toMatchObject({ ggr: '9.9000', tax: '0.9900' });
  });
});
