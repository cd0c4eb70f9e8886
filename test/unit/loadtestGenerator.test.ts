/** The load-test traffic generator: deterministic, with the funnel's rates, clean traffic under every fraud rule, every rule planted. */
import { describe, expect, it } from 'vitest';
import { planProgramme } from '../../loadtest/generator/programme.ts';
import { createTimeline, FUNNEL, type Action, type ClickAction, type EventAction, type TimelineOptions } from '../../loadtest/generator/timeline.ts';

const options: TimelineOptions = { seed: 42, startMs: Date.UTC(2026, 10, 21, 12, 0, 0), durationS: 30, rate: 2000 };
const run = (o = options, tag = 't1') => [...createTimeline(planProgramme(tag, o.seed), o).actions];
const actions = run();
const clicks = actions.filter((a): a is ClickAction => a.kind === 'click');
const events = actions.filter((a): a is EventAction => a.kind === 'event');
const fresh = events.filter((e) => !e.duplicate);
const planted = createTimeline(planProgramme('t1', options.seed), options).planted;
const plantedPlayers = new Set(planted.flatMap((c) => c.playerIds));
const isPlanted = (c: ClickAction) => c.sub1.startsWith('fr-');

describe('loadtest generator', () => {
  it('is deterministic: the same seed gives the same actions, another seed others', () => {
    const again = run();
    expect(again.length).toBe(actions.length);
    expect(JSON.stringify(again.slice(0, 2000))).toBe(JSON.stringify(actions.slice(0, 2000)));
    expect(JSON.stringify(run({ ...options, seed: 43 }).slice(0, 200))).not.toBe(JSON.stringify(actions.slice(0, 200)));
    // Two more timelines of 30 s at 2,000 actions/s: seconds on a loaded 2-core machine.
  }, 60_000);

  it('hands the actions out in due order, within the run, at about the asked rate once under way', () => {
    // One assertion over the whole run rather than tens of thousands (each costs more than the check).
    expect(actions.findIndex((x, i) => i > 0 && x.at < (actions[i - 1] as Action).at)).toBe(-1);
    expect(Math.max(...actions.map((a) => a.at))).toBeLessThan(options.durationS * 1000);
    const steady = actions.filter((a) => a.at >= 10_000).length / (options.durationS - 10);
    expect(steady).toBeGreaterThan(options.rate * 0.6);
    expect(steady).toBeLessThan(options.rate * 1.6);
  });

  it('keeps the funnel rates: bots, conversion of valid visitors, FTDs of registered players', () => {
    const visits = clicks.filter((c) => c.at >= 0 && !isPlanted(c));
    const bots = visits.filter((c) => c.bot).length / visits.length;
    expect(bots).toBeGreaterThan(FUNNEL.botShare * 0.7);
    expect(bots).toBeLessThan(FUNNEL.botShare * 1.3);
    const valid = new Map(visits.filter((c) => !c.bot && !c.geoBlocked).map((c) => [c.ref, c]));
    const registrations = fresh.filter((e) => e.fields.type === 'registration');
    const converted = registrations.filter((e) => e.clickRef !== undefined && valid.has(e.clickRef)).length;
    // Visitors of the last seconds register after the end: count conversions of the first two thirds.
    const earlyConverted = registrations.filter((e) => e.clickRef !== undefined && (valid.get(e.clickRef)?.at ?? Infinity) < 20_000).length;
    expect(converted).toBeGreaterThan(0);
    // Repeat clicks of one visitor share a visitor: conversions per distinct address.
    const visitors = new Set([...valid.values()].filter((c) => c.at < 20_000).map((c) => c.ip)).size;
    expect(earlyConverted / visitors).toBeGreaterThan(FUNNEL.registration * 0.75);
    expect(earlyConverted / visitors).toBeLessThan(FUNNEL.registration * 1.25);
    // FTD: a deposit within the run, for registrations early enough for their FTD (≤ 8 s later) to be in it.
    const depositors = new Set(fresh.filter((e) => e.fields.type === 'deposit').map((e) => e.fields.player_id));
    const regs = registrations.filter((e) => e.at < 15_000 && !plantedPlayers.has(String(e.fields.player_id)));
    const ftdRate = regs.filter((e) => depositors.has(e.fields.player_id)).length / regs.length;
    expect(ftdRate).toBeGreaterThan(FUNNEL.ftd * 0.75);
    expect(ftdRate).toBeLessThan(FUNNEL.ftd * 1.25);
  });

  it('sends some events twice (same id, another transport) and some late, never a click id of its own', () => {
    const dups = events.filter((e) => e.duplicate);
    expect(dups.length).toBeGreaterThan(0);
    const byId = new Map(fresh.map((e) => [e.fields.event_id, e]));
    for (const d of dups) {
      const original = byId.get(d.fields.event_id);
      expect(original?.transport).not.toBe(d.transport);
      expect(d.at).toBeGreaterThan(original?.at ?? Infinity);
    }
    expect(fresh.some((e) => (e.fields.ts as number) < options.startMs + e.at - 60_000)).toBe(true);
    expect(events.some((e) => 'click_id' in e.fields)).toBe(false);
  });

  it('keeps clean traffic under every fraud rule by construction', () => {
    const clean = clicks.filter((c) => !isPlanted(c));
    const perIpMinute = new Map<string, number>();
    for (const c of clean) perIpMinute.set(`${c.ip}/${Math.floor(c.at / 60_000)}`, (perIpMinute.get(`${c.ip}/${Math.floor(c.at / 60_000)}`) ?? 0) + 1);
    expect(Math.max(...perIpMinute.values())).toBeLessThanOrEqual(3);
    const regs = fresh.filter((e) => e.fields.type === 'registration' && !plantedPlayers.has(String(e.fields.player_id)));
    expect(new Set(regs.map((e) => e.fields.ip)).size).toBe(regs.length);
    expect(new Set(regs.map((e) => e.fields.device_id)).size).toBe(regs.length);
    const clickOf = new Map(clicks.map((c) => [c.ref, c]));
    const chargebacks = new Map<string, number>();
    const playerSub = new Map(regs.map((e) => [e.fields.player_id, e.clickRef === undefined ? '' : `${clickOf.get(e.clickRef)?.affiliateId}/${clickOf.get(e.clickRef)?.sub1}`]));
    for (const e of fresh) {
      const sub = playerSub.get(e.fields.player_id);
      if (e.fields.type === 'chargeback' && sub) chargebacks.set(sub, (chargebacks.get(sub) ?? 0) + 1);
    }
    expect(Math.max(0, ...chargebacks.values())).toBeLessThanOrEqual(1);
  });

  it('plants every fraud rule (docs/fraud.md) on sub-IDs of their own', () => {
    expect(new Set(planted.map((c) => c.rule))).toEqual(new Set(['ip_registrations', 'conversion_rate', 'bonus_abuse', 'chargeback_rate', 'click_flood', 'multi_account', 'ftd_amount_cluster']));
    const floodClicks = clicks.filter((c) => c.sub1 === 'fr-flood');
    expect(floodClicks.length).toBeGreaterThan(30);
    expect(new Set(floodClicks.map((c) => c.ip)).size).toBe(1);
    expect(Math.max(...floodClicks.map((c) => c.at)) - Math.min(...floodClicks.map((c) => c.at))).toBeLessThan(60_000);
    const amounts = fresh.filter((e) => e.fields.type === 'deposit' && planted.find((c) => c.rule === 'ftd_amount_cluster')?.playerIds.includes(String(e.fields.player_id)));
    expect(amounts.filter((e) => e.fields.amount === '50.00').length / amounts.length).toBeGreaterThanOrEqual(0.5);
  });
});
