import { clickRecorded } from '../kit/actors.ts';
import { describe, expect, it } from 'vitest';
import { handleAffiliate, initialAffiliateState, utcDay } from '../../workers/actors/affiliate.ts';
import { DEFAULT_FRAUD_RULES } from '../../schema/fraud.ts';
import { ClickFlag, type ClickRecorded } from '../../schema/wire.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20, 12);

const click = (over: Partial<ClickRecorded>): ClickRecorded => clickRecorded({ clickId: 'id', ts: T0, code: 'l1', ...over });

function run(clicks: ClickRecorded[], uniqueDays = 2): boolean[] {
  const s = initialAffiliateState('a');
  return clicks.map((c) => {
    const [e] = handleAffiliate(s, { type: 'ClickRecorded', click: c, ipClicksPerMinute: 1 }, { settings: { uniqueDays }, rules: () => DEFAULT_FRAUD_RULES, network: () => null });
    if (e?.type !== 'ClickCounted') throw new Error(`expected ClickCounted, got ${e?.type}`);
    return e.unique;
  });
}

describe('affiliate actor: unique clicks', () => {
  it('first valid click per IP, link and UTC day', () => {
    expect(run([click({}), click({}), click({ ip: '2.2.2.2' }), click({ code: 'l2' }), click({ ts: T0 + DAY })])).toEqual([true, false, true, true, true]);
  });

  it('bots and geo-blocked clicks are never unique and do not use up the IP', () => {
    expect(run([click({ flags: ClickFlag.Bot }), click({ flags: ClickFlag.GeoBlocked }), click({})])).toEqual([false, false, true]);
  });

  it('day boundaries are UTC', () => {
    const late = Date.UTC(2026, 10, 20, 23, 59, 59, 999);
    expect(utcDay(late) + 1).toBe(utcDay(late + 1));
    expect(run([click({ ts: late }), click({ ts: late + 1 })])).toEqual([true, true]);
  });

  it('remembers uniqueDays days for late clicks, and counts older late clicks as not unique', () => {
    expect(run([click({ ts: T0 }), click({ ts: T0 + DAY }), click({ ts: T0 }), click({ ts: T0 - 5 * DAY, ip: '9.9.9.9' })], 2)).toEqual([true, true, false, false]);
  });

  it('replaying the same clicks gives the same answers (deterministic)', () => {
    const input = Array.from({ length: 500 }, (_, i) => click({ ip: `10.0.0.${i % 37}`, ts: T0 + (i % 3) * DAY, flags: i % 11 === 0 ? ClickFlag.Bot : 0 }));
    expect(run(input)).toEqual(run(input));
  });
});
