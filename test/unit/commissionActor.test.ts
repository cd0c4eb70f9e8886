import { describe, expect, it } from 'vitest';
import {
  handleCommission, initialCommissionState, lineId, restoreCommission, snapshotCommission, commissionDeadline, CHILD_REJECTED, NO_REASON, NOT_COMMISSIONABLE, RECENT_COMMANDS,
  type CommissionCommand, type CommissionContext, type CommissionEffect, type CommissionLine, type CommissionMessage, type CommissionState, type PlayerActivity,
} from '../../workers/actors/commission.ts';
import { revenueOf, type BrandSettings } from '../../workers/actors/player.ts';
import { percentOf } from '../../workers/commissions/revshare.ts';
import { parseEvent } from '../../schema/events.ts';
import { DEFAULT_FRAUD_RULES } from '../../schema/fraud.ts';
import { parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import type { CpaTerms, Plan, PlanVersion, RevshareTerms } from '../../schema/plans.ts';
import { ofType, run } from '../kit/actors.ts';

const DAY = 86_400_000;
const BRAND = 'casino';
const AFF = 'aff1';
const PARENT = 'parent1';
const at = (iso: string): number => Date.parse(iso);
const m = (s: string): Money => parseMoney(s) as Money;

// --- Fixtures: a world of plans, parents and pauses, and players that make activities ----------------

interface World {
  plans: Map<string, Plan>;
  parents: Map<string, string>;
  /** `affiliate\u0000sub` (sub '*': the whole affiliate) → pause. */
  pauses: Map<string, { action: string; alertId: string }>;
  tz: string;
  kycGating: boolean;
  ctx: CommissionContext;
}

function world(over: Partial<Omit<World, 'ctx'>> = {}): World {
  const w = { plans: new Map(), parents: new Map(), pauses: new Map(), tz: 'UTC', kycGating: false, ...over } as World;
  w.ctx = {
    plan: (aff, brand) => w.plans.get(`${aff}\u0000${brand}`) ?? null,
    parentOf: (aff) => w.parents.get(aff) ?? null,
    brand: () => ({ timezone: w.tz, currency: 'EUR', kycGating: w.kycGating }),
    pauseOf: (aff, sub) => w.pauses.get(`${aff}\u0000${sub}`) ?? w.pauses.get(`${aff}\u0000*`) ?? null,
  };
  return w;
}

const CPA: CpaTerms = { amount: '50.0000', minDeposit: '20.0000', kycRequired: true, minWagering: '100.0000', countries: [], withinDays: 30 };
const REVSHARE: RevshareTerms = { tiers: [{ from: '0.0000', pct: '25.00' }, { from: '1000.0000', pct: '30.00' }], tierBy: 'ngr', carryOver: 'carry' };

function plan(id: string, versions: Array<Partial<PlanVersion> & { effectiveFrom: string }>): Plan {
  return {
    id, brandId: BRAND, currency: 'EUR', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    versions: versions.map((v, i) => ({ version: i + 1, cpa: null, revshare: null, subAffiliatePct: '0.00', holdDays: 7, ...v })),
  };
}

function givePlan(w: World, p: Plan, aff = AFF): void {
  w.plans.set(`${aff}\u0000${BRAND}`, p);
}

const NO_FEES: BrandSettings = { attributionWindowDays: 30, paymentFeePct: '0', gamingTaxPct: '0', fraud: DEFAULT_FRAUD_RULES };

/** A player of the affiliate, as its player actor sees it: KYC status and FTD kept, revenue from revenueOf. */
class Player {
  kyc = '';
  private ftd = false;
  private n = 0;
  constructor(
    readonly id: string,
    readonly registeredAt: number,
    readonly opts: { country?: string; sub1?: string; commissionable?: boolean; hold?: string | null; ngr?: BrandSettings } = {},
  ) {}

  event(raw: Record<string, unknown>, ts: number): CommissionMessage {
    const e = parseEvent({ event_id: `${this.id}-e${++this.n}`, player_id: this.id, ts, currency: 'EUR', ...raw }, BRAND, 'json', ts + DAY);
    if (e.type === 'kyc') this.kyc = e.kycStatus;
    const isFtd = e.type === 'deposit' && !this.ftd;
    if (isFtd) this.ftd = true;
    const activity: PlayerActivity = {
      brandId: BRAND, affiliateId: AFF, playerId: this.id, eventId: e.eventId, eventType: e.type, ts: e.ts, clickId: `click-${this.id}`,
      sub1: this.opts.sub1 ?? 's1', registeredAt: this.registeredAt, country: this.opts.country ?? 'DE', kyc: this.kyc, amount: e.amount, isFtd,
      revenue: revenueOf(e, this.opts.ngr ?? NO_FEES), depositId: e.depositId, commissionable: this.opts.commissionable ?? true, hold: this.opts.hold ?? null,
    };
    return { type: 'PlayerActivity', activity };
  }
  deposit(amount: string, ts: number) { return this.event({ type: 'deposit', amount }, ts); }
  bet(stake: string, win: string, ts: number) { return this.event({ type: 'bet', stake, win }, ts); }
  kycApproved(ts: number) { return this.event({ type: 'kyc', status: 'approved' }, ts); }
  chargeback(amount: string, ts: number) { return this.event({ type: 'chargeback', amount }, ts); }
}

const tick = (iso: string): CommissionMessage => ({ type: 'TimePassed', at: at(iso) });

let commands = 0;
function command(action: CommissionCommand['action'], ids: string[], over: Partial<CommissionCommand> = {}): CommissionMessage {
  return { type: 'CommandReceived', command: { id: `cmd-${++commands}`, action, commissionIds: ids, reason: '', reference: '', by: 'ops', at: at('2026-06-01T00:00:00Z'), ...over } };
}

function go(w: World, messages: CommissionMessage[], state: CommissionState = initialCommissionState(AFF)) {
  return run(handleCommission, state, messages, w.ctx);
}

const linesOf = (effects: CommissionEffect[]): CommissionLine[] => ofType(effects, 'LineChanged').map((e) => e.line);
const answers = (effects: CommissionEffect[]) => ofType(effects, 'CommandAnswered').flatMap((e) => e.results);
const cpaId = (player: string, aff = AFF) => lineId('cpa', BRAND, aff, player);

/** A world with a CPA plan (KYC required, 100 of wagering, 30 days), and a player qualifying on 2026-03-05. */
function qualified(over: Partial<CpaTerms> = {}, opts: ConstructorParameters<typeof Player>[2] = {}) {
  const w = world();
  givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', cpa: { ...CPA, minWagering: '0.0000', ...over } }]));
  const p = new Player('p1', at('2026-03-01T10:00:00Z'), opts);
  const r = go(w, [p.kycApproved(at('2026-03-02T10:00:00Z')), p.deposit('25', at('2026-03-05T10:00:00Z'))]);
  return { w, p, ...r, line: linesOf(r.effects)[0] as CommissionLine };
}

// --- NGR ---------------------------------------------------------------------------------------------

describe('commission actor: RevShare NGR is exact', () => {
  it('awkward amounts: cent fees, a third of a unit, tax on 0.01 — summed exactly, one rounding per line', () => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: { ...REVSHARE, tiers: [{ from: '0.0000', pct: '33.33' }] } }]));
    const p = new Player('p1', at('2026-03-01T00:00:00Z'), { ngr: { ...NO_FEES, paymentFeePct: '2.5', gamingTaxPct: '10' } });
    const msgs = [
      p.deposit('0.01', at('2026-03-02T00:00:00Z')), // fee 0.00025 → 0.0003
      p.bet('0.01', '0', at('2026-03-02T01:00:00Z')), // GGR 0.01, tax 0.0010
      p.bet('10', '3.3333', at('2026-03-02T02:00:00Z')), // GGR 6.6667, tax 0.66667 → 0.6667
      p.event({ type: 'bonus', action: 'converted', amount: '0.3333', bonus_id: 'b' }, at('2026-03-02T03:00:00Z')),
    ];
    const perEvent = msgs.map((x) => (x.type === 'PlayerActivity' ? x.activity.revenue.ngr : ''));
    expect(perEvent).toEqual(['-0.0003', '0.0090', '6.0000', '-0.3333']);
    const { effects } = go(w, [...msgs, tick('2026-04-01T00:00:00Z')]);
    const accruals = ofType(effects, 'RevshareAccrued').map((e) => e.accrual);
    expect(accruals.map((a) => a.ngr)).toEqual(['-0.0003', '0.0087', '6.0087', '5.6754', '5.6754']);
    expect(accruals.at(-1)).toMatchObject({ closed: true, amount: '1.8916', pct: '33.33' });
    const [line] = linesOf(effects);
    expect(line).toMatchObject({ kind: 'revshare', period: '2026-03', ngr: '5.6754', amount: toDecimalText(percentOf(m('5.6754'), '33.33')), pct: '33.33', playerId: '', sourceEventId: '' });
    expect(line?.amount).toBe('1.8916');
  });

  it('tier by FTDs: the period reaches the tier at its from exactly, and it applies to all of the NGR', () => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: { tierBy: 'ftds', carryOver: 'carry', tiers: [{ from: '0', pct: '20.00' }, { from: '2', pct: '30.00' }] } }]));
    const a = new Player('a', at('2026-03-01T00:00:00Z'));
    const b = new Player('b', at('2026-03-01T00:00:00Z'));
    const { effects } = go(w, [a.deposit('10', at('2026-03-02T00:00:00Z')), a.bet('100', '0', at('2026-03-02T01:00:00Z')), b.deposit('10', at('2026-03-03T00:00:00Z')), tick('2026-04-01T00:00:00Z')]);
    expect(ofType(effects, 'RevshareAccrued').map((e) => [e.accrual.ftds, e.accrual.pct, e.accrual.amount])).toEqual([
      [1, '20.00', '0.0000'], [1, '20.00', '20.0000'], [2, '30.00', '30.0000'], [2, '30.00', '30.0000'],
    ]);
    expect(linesOf(effects).map((l) => l.amount)).toEqual(['30.0000']);
  });
});

// --- Carry-over -------------------------------------------------------------------------------------

describe('commission actor: carry-over across three months', () => {
  const months = (carryOver: RevshareTerms['carryOver']) => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: { ...REVSHARE, carryOver } }]));
    const p = new Player('p1', at('2026-01-01T00:00:00Z'));
    const { effects, state } = go(w, [
      p.bet('1000', '200', at('2026-01-10T00:00:00Z')), tick('2026-02-01T00:00:00Z'),
      p.bet('100', '400.5', at('2026-02-10T00:00:00Z')), tick('2026-03-01T00:00:00Z'),
      p.bet('600', '100', at('2026-03-10T00:00:00Z')), tick('2026-04-01T00:00:00Z'),
    ]);
    return { lines: linesOf(effects).map((l) => [l.period, l.ngr, l.carryIn, l.amount, l.carryOut]), state };
  };

  it('carry: the negative February is carried into March until earned back', () => {
    expect(months('carry').lines).toEqual([
      ['2026-01', '800.0000', '0.0000', '200.0000', '0.0000'],
      ['2026-02', '-300.5000', '0.0000', '0.0000', '-300.5000'],
      ['2026-03', '500.0000', '-300.5000', '49.8750', '0.0000'],
    ]);
  });

  it('reset-monthly: February earns nothing and March starts from zero', () => {
    expect(months('reset-monthly').lines).toEqual([
      ['2026-01', '800.0000', '0.0000', '200.0000', '0.0000'],
      ['2026-02', '-300.5000', '0.0000', '0.0000', '0.0000'],
      ['2026-03', '500.0000', '0.0000', '125.0000', '0.0000'],
    ]);
  });

  it('none: February is a negative line', () => {
    expect(months('none').lines).toEqual([
      ['2026-01', '800.0000', '0.0000', '200.0000', '0.0000'],
      ['2026-02', '-300.5000', '0.0000', '-75.1250', '0.0000'],
      ['2026-03', '500.0000', '0.0000', '125.0000', '0.0000'],
    ]);
  });

  it('a month without activity makes no line, and the carry waits for the next one', () => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE }]));
    const p = new Player('p1', at('2026-01-01T00:00:00Z'));
    const { effects } = go(w, [
      p.bet('0', '100', at('2026-01-10T00:00:00Z')), tick('2026-02-01T00:00:00Z'), tick('2026-03-01T00:00:00Z'),
      p.bet('500', '0', at('2026-03-10T00:00:00Z')), tick('2026-04-01T00:00:00Z'),
    ]);
    expect(linesOf(effects).map((l) => [l.period, l.carryIn, l.amount])).toEqual([['2026-01', '0.0000', '0.0000'], ['2026-03', '-100.0000', '100.0000']]);
  });
});

// --- CPA --------------------------------------------------------------------------------------------

describe('commission actor: CPA', () => {
  function cpaWorld(terms: Partial<CpaTerms> = {}) {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', cpa: { ...CPA, ...terms }, holdDays: 7 }]));
    return w;
  }

  it('qualification completing late (KYC after the FTD, wagering a week later) makes exactly one line, by the completing event', () => {
    const w = cpaWorld();
    const p = new Player('p1', at('2026-03-01T10:00:00Z'));
    const messages = [
      p.deposit('25', at('2026-03-02T10:00:00Z')),
      p.kycApproved(at('2026-03-03T10:00:00Z')),
      p.bet('60', '0', at('2026-03-05T10:00:00Z')),
      p.bet('40', '0', at('2026-03-10T10:00:00Z')),
      p.bet('500', '0', at('2026-03-11T10:00:00Z')),
      p.deposit('100', at('2026-03-12T10:00:00Z')),
    ];
    const { effects } = go(w, messages);
    const lines = linesOf(effects);
    expect(lines).toHaveLength(1);
    const ts = at('2026-03-10T10:00:00Z');
    expect(lines[0]).toEqual({
      id: cpaId('p1'), brandId: BRAND, affiliateId: AFF, playerId: 'p1', kind: 'cpa', period: '2026-03', amount: '50.0000', currency: 'EUR',
      status: 'pending', reason: '', planVersion: 'plan1@1', sourceEventId: 'p1-e4',
      createdAt: '2026-03-10T10:00:00.000Z', updatedAt: '2026-03-10T10:00:00.000Z', version: 1, by: 'system', at: ts, createdAtMs: ts, updatedAtMs: ts,
      holdUntil: ts + 7 * DAY, clickId: 'click-p1', sub1: 's1', reversalOf: '', ngr: '0.0000', carryIn: '0.0000', carryOut: '0.0000', pct: '',
      planId: 'plan1', planVersionNo: 1, reference: '',
    });
  });

  it('no FTD, no CPA: stakes and KYC alone never qualify', () => {
    const w = cpaWorld({ minDeposit: '0.0000', minWagering: '0.0000' });
    const p = new Player('p1', at('2026-03-01T10:00:00Z'));
    expect(linesOf(go(w, [p.kycApproved(at('2026-03-02T10:00:00Z')), p.bet('100', '0', at('2026-03-03T10:00:00Z'))]).effects)).toEqual([]);
  });

  it('the deadline passed before the last condition: no line, ever, and the progress is dropped', () => {
    const w = cpaWorld();
    const p = new Player('p1', at('2026-03-01T10:00:00Z'));
    const { effects, state } = go(w, [
      p.deposit('25', at('2026-03-02T10:00:00Z')),
      p.kycApproved(at('2026-03-03T10:00:00Z')),
      p.bet('100', '0', at('2026-03-31T10:00:00.001Z')), // 30 days and 1 ms after registration
      p.bet('100', '0', at('2026-04-01T10:00:00Z')),
    ]);
    expect(linesOf(effects)).toEqual([]);
    expect(state.players.size).toBe(0);
  });

  it('exactly at the deadline still qualifies', () => {
    const w = cpaWorld();
    const p = new Player('p1', at('2026-03-01T10:00:00Z'));
    const { effects } = go(w, [p.deposit('25', at('2026-03-02T10:00:00Z')), p.kycApproved(at('2026-03-03T10:00:00Z')), p.bet('100', '0', at('2026-03-31T10:00:00Z'))]);
    expect(linesOf(effects).map((l) => l.id)).toEqual([cpaId('p1')]);
  });

  it('a player that never comes back is forgotten by the daily sweep once its deadline passed', () => {
    const w = cpaWorld();
    const p = new Player('p1', at('2026-03-01T10:00:00Z'));
    const { state } = go(w, [p.deposit('25', at('2026-03-02T10:00:00Z'))]);
    // The actor asks for the clock at once, then once a UTC day while it keeps books.
    expect(commissionDeadline(state)).toBe(0);
    go(w, [tick('2026-03-20T00:00:00Z')], state);
    expect([state.players.size, commissionDeadline(state)]).toEqual([1, at('2026-03-21T00:00:00Z')]);
    go(w, [tick('2026-03-31T10:00:00Z'), tick('2026-04-01T00:00:00Z')], state);
    expect([state.players.size, commissionDeadline(state)]).toEqual([0, Infinity]);
  });

  it('countries: only listed countries qualify; an unknown country does not', () => {
    const w = cpaWorld({ countries: ['MT'], kycRequired: false, minWagering: '0.0000' });
    const de = new Player('de', at('2026-03-01T10:00:00Z'), { country: 'DE' });
    const unknown = new Player('xx', at('2026-03-01T10:00:00Z'), { country: '' });
    const mt = new Player('mt', at('2026-03-01T10:00:00Z'), { country: 'MT' });
    const { effects } = go(w, [de.deposit('25', at('2026-03-02T10:00:00Z')), unknown.deposit('25', at('2026-03-02T10:00:00Z')), mt.deposit('25', at('2026-03-02T10:00:00Z'))]);
    expect(linesOf(effects).map((l) => l.playerId)).toEqual(['mt']);
  });

  it('a chargeback before qualification takes the deposit back out', () => {
    const w = cpaWorld({ kycRequired: true, minWagering: '0.0000' });
    const p = new Player('p1', at('2026-03-01T10:00:00Z'));
    const { effects } = go(w, [p.deposit('25', at('2026-03-02T10:00:00Z')), p.chargeback('25', at('2026-03-03T10:00:00Z')), p.kycApproved(at('2026-03-04T10:00:00Z'))]);
    expect(linesOf(effects)).toEqual([]);
  });
});

// --- Plan versions ----------------------------------------------------------------------------------

describe('commission actor: plan versions are never retroactive', () => {
  it('a change mid-period splits the period: one line per version, tier by the whole period, each recording planId@version', () => {
    const w = world();
    givePlan(w, plan('plan1', [
      { effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE, cpa: { ...CPA, minWagering: '0.0000' } },
      { effectiveFrom: '2026-03-15T00:00:00Z', revshare: { ...REVSHARE, tiers: [{ from: '0.0000', pct: '40.00' }] }, cpa: { ...CPA, minWagering: '0.0000', amount: '80.0000' } },
    ]));
    const early = new Player('early', at('2026-03-01T00:00:00Z'));
    const late = new Player('late', at('2026-03-01T00:00:00Z'));
    const { effects } = go(w, [
      early.kycApproved(at('2026-03-02T00:00:00Z')), early.deposit('20', at('2026-03-10T00:00:00Z')), // qualifies under v1
      late.deposit('20', at('2026-03-10T00:00:00Z')), // FTD under v1, KYC under v2: qualifies under v2
      early.bet('600', '0', at('2026-03-11T00:00:00Z')),
      late.kycApproved(at('2026-03-20T00:00:00Z')),
      late.bet('600', '0', at('2026-03-21T00:00:00Z')),
      // Late activity from before the change arrives after it: still v1's.
      early.bet('10', '10', at('2026-03-12T00:00:00Z')),
      tick('2026-04-01T00:00:00Z'),
    ]);
    const lines = linesOf(effects);
    expect(lines.map((l) => [l.kind, l.playerId, l.amount, l.planVersion, l.pct, l.ngr])).toEqual([
      ['cpa', 'early', '50.0000', 'plan1@1', '', '0.0000'],
      ['cpa', 'late', '80.0000', 'plan1@2', '', '0.0000'],
      // 1200 in the period reaches v1's 30% tier; v2 has one tier.
      ['revshare', '', '180.0000', 'plan1@1', '30.00', '600.0000'],
      ['revshare', '', '240.0000', 'plan1@2', '40.00', '600.0000'],
    ]);
    expect(lines[2]?.id).toBe(lineId('revshare', BRAND, AFF, '2026-03', 'plan1@1'));
    // The CPA line made under v1 is not touched by v2.
    expect(lines.filter((l) => l.id === cpaId('early'))).toHaveLength(1);
  });
});

// --- Chargebacks ------------------------------------------------------------------------------------

describe('commission actor: chargebacks reverse CPA', () => {
  it('a new line of −amount, status reversed; the original is unchanged; once per line', () => {
    const { w, p, state, line } = qualified();
    const paid = go(w, [command('approve', [line.id]), command('pay', [line.id], { reference: 'wire-1' })], state);
    expect(linesOf(paid.effects).map((l) => l.status)).toEqual(['approved', 'paid']);
    const cb = p.chargeback('25', at('2026-04-02T10:00:00Z'));
    const cbId = cb.type === 'PlayerActivity' ? cb.activity.eventId : '';
    const { effects } = go(w, [cb, p.chargeback('25', at('2026-04-03T10:00:00Z'))], state);
    const lines = linesOf(effects);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      id: lineId('reversal', line.id, cbId), kind: 'cpa', amount: '-50.0000', status: 'reversed', reversalOf: line.id, reason: `chargeback ${cbId}`,
      sourceEventId: cbId, period: '2026-04', playerId: 'p1', planVersion: 'plan1@1', version: 1, createdAt: '2026-04-02T10:00:00.000Z',
    });
  });

  it('an unpaid reversed line can still be paid but no longer rejected: its reversal already cancels it', () => {
    const { w, p, state, line } = qualified();
    go(w, [p.chargeback('25', at('2026-03-06T10:00:00Z'))], state);
    const { effects } = go(w, [command('reject', [line.id], { reason: 'fraud' }), command('approve', [line.id])], state);
    expect(answers(effects)).toEqual([
      { commissionId: line.id, ok: false, error: { code: 'invalid_transition', message: expect.stringMatching(/reversed/) } },
      { commissionId: line.id, ok: true, status: 'approved' },
    ]);
  });

  it('a rejected line is not reversed', () => {
    const { w, p, state, line } = qualified();
    const { effects } = go(w, [command('reject', [line.id], { reason: 'fraud' }), p.chargeback('25', at('2026-03-06T10:00:00Z'))], state);
    expect(linesOf(effects).map((l) => l.status)).toEqual(['rejected']);
  });
});

// --- Sub-affiliates ---------------------------------------------------------------------------------

describe('commission actor: sub-affiliate lines', () => {
  function family() {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', cpa: { ...CPA, minWagering: '0.0000' } }]));
    w.parents.set(AFF, PARENT);
    w.parents.set(PARENT, 'grandparent');
    givePlan(w, plan('parent-plan', [{ effectiveFrom: '2026-01-01T00:00:00Z', subAffiliatePct: '10.00', holdDays: 3 }]), PARENT);
    return { w };
  }
  const forwarded = (effects: CommissionEffect[]) => ofType(effects, 'Forward');

  it('a child line is forwarded to the parent, which earns its percentage once; sub-affiliate lines go no further', () => {
    const { w } = family();
    const q = new Player('p2', at('2026-03-01T10:00:00Z'));
    const first = go(w, [q.kycApproved(at('2026-03-02T10:00:00Z')), q.deposit('25', at('2026-03-05T10:00:00Z'))]);
    const [fwd] = forwarded(first.effects);
    const childLine = linesOf(first.effects)[0] as CommissionLine;
    expect(fwd).toEqual({ type: 'Forward', actor: 'commission', key: PARENT, message: { type: 'ChildLineChanged', child: childLine, change: 'made' } });
    const parent = initialCommissionState(PARENT);
    const { effects } = run(handleCommission, parent, [fwd!.message, fwd!.message], w.ctx);
    const sub = linesOf(effects);
    expect(sub).toHaveLength(1);
    expect(sub[0]).toMatchObject({
      id: lineId('sub', childLine.id), kind: 'subaffiliate', affiliateId: PARENT, playerId: 'p2', amount: '5.0000', pct: '10.00', planVersion: 'parent-plan@1',
      status: 'pending', sourceEventId: childLine.sourceEventId, createdAtMs: childLine.createdAtMs, holdUntil: childLine.createdAtMs + 3 * DAY, clickId: '', sub1: '',
    });
    expect(forwarded(effects)).toEqual([]);
  });

  it('a child reversal reverses the sub-affiliate line; a rejected child rejects it unless paid', () => {
    const { w } = family();
    const child = initialCommissionState(AFF);
    const parent = initialCommissionState(PARENT);
    const relay = (effects: CommissionEffect[]) => run(handleCommission, parent, forwarded(effects).map((f) => f.message), w.ctx).effects;
    const a = new Player('a', at('2026-03-01T10:00:00Z'));
    const b = new Player('b', at('2026-03-01T10:00:00Z'));
    const c = new Player('c', at('2026-03-01T10:00:00Z'));
    const made = go(w, [a.kycApproved(at('2026-03-02T00:00:00Z')), a.deposit('25', at('2026-03-03T00:00:00Z')), b.kycApproved(at('2026-03-02T00:00:00Z')), b.deposit('25', at('2026-03-03T00:00:00Z')), c.kycApproved(at('2026-03-02T00:00:00Z')), c.deposit('25', at('2026-03-03T00:00:00Z'))], child);
    expect(linesOf(relay(made.effects)).map((l) => [l.playerId, l.status])).toEqual([['a', 'pending'], ['b', 'pending'], ['c', 'pending']]);

    const reversal = relay(go(w, [a.chargeback('25', at('2026-03-09T00:00:00Z'))], child).effects);
    const subA = lineId('sub', cpaId('a'));
    expect(linesOf(reversal)).toEqual([expect.objectContaining({ kind: 'subaffiliate', reversalOf: subA, amount: '-5.0000', status: 'reversed', playerId: 'a', affiliateId: PARENT })]);

    const subC = lineId('sub', cpaId('c'));
    run(handleCommission, parent, [command('approve', [subC]), command('pay', [subC], { reference: 'r' })], w.ctx);
    const rejected = relay(go(w, [command('reject', [cpaId('b'), cpaId('c')], { reason: 'bonus abuse' })], child).effects);
    expect(linesOf(rejected)).toEqual([expect.objectContaining({ id: lineId('sub', cpaId('b')), status: 'rejected', reason: CHILD_REJECTED, by: 'system', version: 2 })]);
  });

  it('a child line made held makes the sub-affiliate line held for the same reason; no plan, no line', () => {
    const { w } = family();
    const child = initialCommissionState(AFF);
    const p = new Player('p', at('2026-03-01T10:00:00Z'), { hold: 'alert-9' });
    const made = go(w, [p.kycApproved(at('2026-03-02T00:00:00Z')), p.deposit('25', at('2026-03-03T00:00:00Z'))], child);
    const [fwd] = forwarded(made.effects);
    expect(linesOf(run(handleCommission, initialCommissionState(PARENT), [fwd!.message], w.ctx).effects)).toEqual([expect.objectContaining({ status: 'held', reason: 'alert-9' })]);
    w.plans.delete(`${PARENT}\u0000${BRAND}`);
    expect(run(handleCommission, initialCommissionState(PARENT), [fwd!.message], w.ctx).effects).toEqual([]);
  });
});

// --- Holds ------------------------------------------------------------------------------------------

describe('commission actor: holds', () => {
  it('uncommissionable traffic: the line is held, and its NGR is kept apart as heldNgr', () => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE, cpa: { ...CPA, kycRequired: false, minWagering: '0.0000' } }]));
    const p = new Player('p1', at('2026-03-01T00:00:00Z'), { commissionable: false });
    const { effects } = go(w, [p.deposit('25', at('2026-03-02T00:00:00Z')), p.bet('100', '40', at('2026-03-02T01:00:00Z')), tick('2026-04-01T00:00:00Z')]);
    expect(linesOf(effects).map((l) => [l.kind, l.status, l.reason, l.amount])).toEqual([['cpa', 'held', NOT_COMMISSIONABLE, '50.0000'], ['revshare', 'pending', '', '0.0000']]);
    expect(ofType(effects, 'RevshareAccrued').at(-1)?.accrual).toMatchObject({ ngr: '0.0000', heldNgr: '60.0000', ftds: 0 });
  });

  it("a player's fraud hold on the activity, or a pause in force on the sub-ID, makes the line held with the alert id", () => {
    expect(qualified({}, { hold: 'alert-bonus' }).line).toMatchObject({ status: 'held', reason: 'alert-bonus' });
    const w = world({ pauses: new Map([[`${AFF}\u0000s1`, { action: 'pause_sub', alertId: 'alert-pause' }]]) });
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', cpa: { ...CPA, kycRequired: false, minWagering: '0.0000' } }]));
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    expect(linesOf(go(w, [p.deposit('25', at('2026-03-02T00:00:00Z'))]).effects)).toEqual([expect.objectContaining({ status: 'held', reason: 'alert-pause' })]);
  });

  it('PlayerHeld holds the unpaid line and makes future lines and NGR of the player held', () => {
    const { w, state, line } = qualified();
    const held = go(w, [{ type: 'PlayerHeld', brandId: BRAND, playerId: 'p1', alertId: 'alert-1', at: at('2026-03-06T00:00:00Z') }], state);
    expect(linesOf(held.effects)).toEqual([expect.objectContaining({ id: line.id, status: 'held', reason: 'alert-1', by: 'system', version: 2, at: at('2026-03-06T00:00:00Z') })]);

    const w2 = world();
    givePlan(w2, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE, cpa: { ...CPA, kycRequired: false, minWagering: '0.0000' } }]));
    const p = new Player('p2', at('2026-03-01T00:00:00Z'));
    const { effects } = go(w2, [{ type: 'PlayerHeld', brandId: BRAND, playerId: 'p2', alertId: 'alert-2', at: at('2026-03-01T12:00:00Z') }, p.deposit('25', at('2026-03-02T00:00:00Z')), p.bet('10', '0', at('2026-03-02T01:00:00Z'))]);
    expect(linesOf(effects)).toEqual([expect.objectContaining({ playerId: 'p2', status: 'held', reason: 'alert-2' })]);
    expect(ofType(effects, 'RevshareAccrued').at(-1)?.accrual).toMatchObject({ ngr: '0.0000', heldNgr: '10.0000' });
  });

  it('TrafficPaused holds the unpaid lines of the sub-ID (null: all of them), not the paid ones or other sub-IDs', () => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE, cpa: { ...CPA, kycRequired: false, minWagering: '0.0000' } }]));
    const s1 = new Player('s1p', at('2026-03-01T00:00:00Z'), { sub1: 's1' });
    const s1paid = new Player('s1q', at('2026-03-01T00:00:00Z'), { sub1: 's1' });
    const s2 = new Player('s2p', at('2026-03-01T00:00:00Z'), { sub1: 's2' });
    const { state } = go(w, [
      s1.deposit('25', at('2026-03-02T00:00:00Z')), s1paid.deposit('25', at('2026-03-02T00:00:00Z')), s2.deposit('25', at('2026-03-02T00:00:00Z')), tick('2026-04-01T00:00:00Z'),
      command('approve', [cpaId('s1q')]), command('pay', [cpaId('s1q')]),
    ]);
    const sub = go(w, [{ type: 'TrafficPaused', subId: 's1', action: 'pause_sub', alertId: 'alert-s1', at: at('2026-04-02T00:00:00Z') }], state);
    expect(linesOf(sub.effects).map((l) => [l.playerId, l.status, l.reason])).toEqual([['s1p', 'held', 'alert-s1']]);
    const all = go(w, [{ type: 'TrafficPaused', subId: null, action: 'pause_affiliate', alertId: 'alert-all', at: at('2026-04-03T00:00:00Z') }], state);
    expect(linesOf(all.effects).map((l) => [l.kind, l.playerId, l.reason])).toEqual([['cpa', 's2p', 'alert-all'], ['revshare', '', 'alert-all']]);
  });
});

// --- Commands ---------------------------------------------------------------------------------------

describe('commission actor: lifecycle commands', () => {
  it('hold, approve, pay; forbidden transitions and unknown ids are answered, not applied', () => {
    const { w, state, line } = qualified();
    const t = at('2026-03-20T00:00:00Z');
    const { effects } = go(w, [
      command('pay', [line.id, 'nope'], { at: t }),
      command('hold', [line.id], { at: t, reason: '  ' }),
      command('approve', [line.id], { at: t + 1 }),
      command('pay', [line.id], { at: t + 2, reference: 'wire-77' }),
      command('approve', [line.id], { at: t + 3 }),
      command('reject', [line.id], { at: t + 3, reason: 'late' }),
      command('hold', [line.id], { at: t + 3, reason: 'x' }),
    ], state);
    expect(answers(effects)).toEqual([
      { commissionId: line.id, ok: false, error: { code: 'invalid_transition', message: 'cannot pay a commission that is pending (allowed from approved)' } },
      { commissionId: 'nope', ok: false, error: { code: 'not_found', message: expect.stringContaining('nope') } },
      { commissionId: line.id, ok: true, status: 'held' },
      { commissionId: line.id, ok: true, status: 'approved' },
      { commissionId: line.id, ok: true, status: 'paid' },
      { commissionId: line.id, ok: false, error: { code: 'invalid_transition', message: expect.stringContaining('paid') } },
      { commissionId: line.id, ok: false, error: { code: 'invalid_transition', message: expect.stringContaining('paid') } },
      { commissionId: line.id, ok: false, error: { code: 'invalid_transition', message: expect.stringContaining('paid') } },
    ]);
    expect(linesOf(effects).map((l) => [l.version, l.status, l.reason, l.by, l.at, l.reference])).toEqual([
      [2, 'held', NO_REASON, 'ops', t, ''],
      [3, 'approved', '', 'ops', t + 1, ''],
      [4, 'paid', '', 'ops', t + 2, 'wire-77'],
    ]);
    expect(linesOf(effects)[2]?.updatedAt).toBe(new Date(t + 2).toISOString());
  });

  it('reject is final', () => {
    const { w, state, line } = qualified();
    const { effects } = go(w, [command('reject', [line.id], { reason: 'duplicate player' }), command('approve', [line.id])], state);
    expect(linesOf(effects).map((l) => [l.status, l.reason])).toEqual([['rejected', 'duplicate player']]);
    expect(answers(effects)[1]).toMatchObject({ ok: false, error: { code: 'invalid_transition', message: 'cannot approve a commission that is rejected (allowed from pending, held)' } });
  });

  it('a repeated command id is answered again identically and changes nothing', () => {
    const { w, state, line } = qualified();
    const approve = command('approve', [line.id]);
    const first = go(w, [approve], state);
    const again = go(w, [approve], state);
    expect(linesOf(first.effects)).toHaveLength(1);
    expect(again.effects).toEqual([{ type: 'CommandAnswered', commandId: (approve as { command: CommissionCommand }).command.id, results: [{ commissionId: line.id, ok: true, status: 'approved' }] }]);
    expect(state.lines.get(line.id)?.version).toBe(2);
  });

  it('remembers a bounded number of command ids', () => {
    const { w, state } = qualified();
    go(w, Array.from({ length: RECENT_COMMANDS + 10 }, () => command('approve', [])), state);
    expect(state.answers.size).toBe(RECENT_COMMANDS);
  });

  it('approve-due approves what is due and clean, and says why it skips the rest', () => {
    const w = world({ kycGating: true });
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', holdDays: 7, cpa: { ...CPA, kycRequired: false, minWagering: '0.0000' } }]));
    const ok = new Player('ok', at('2026-03-01T00:00:00Z'));
    const young = new Player('young', at('2026-03-01T00:00:00Z'));
    const noKyc = new Player('nokyc', at('2026-03-01T00:00:00Z'));
    const held = new Player('held', at('2026-03-01T00:00:00Z'));
    const paused = new Player('paused', at('2026-03-01T00:00:00Z'), { sub1: 'bad' });
    const { state } = go(w, [
      ok.kycApproved(at('2026-03-01T01:00:00Z')), ok.deposit('25', at('2026-03-02T00:00:00Z')),
      young.kycApproved(at('2026-03-01T01:00:00Z')), young.deposit('25', at('2026-03-09T00:00:00.001Z')),
      noKyc.deposit('25', at('2026-03-02T00:00:00Z')),
      held.kycApproved(at('2026-03-01T01:00:00Z')), held.deposit('25', at('2026-03-02T00:00:00Z')),
      paused.kycApproved(at('2026-03-01T01:00:00Z')), paused.deposit('25', at('2026-03-02T00:00:00Z')),
      { type: 'PlayerHeld', brandId: BRAND, playerId: 'held', alertId: 'alert-h', at: at('2026-03-03T00:00:00Z') },
    ]);
    w.pauses.set(`${AFF}\u0000bad`, { action: 'pause_sub', alertId: 'alert-p' });
    const ids = ['ok', 'young', 'nokyc', 'held', 'paused'].map((p) => cpaId(p));
    const { effects } = go(w, [command('approve-due', [...ids, 'missing'], { at: at('2026-03-16T00:00:00Z'), by: 'admin' })], state);
    expect(answers(effects)).toEqual([
      { commissionId: ids[0], ok: true, status: 'approved' },
      { commissionId: ids[1], ok: false, error: { code: 'invalid_transition', message: 'not due: its hold period runs until 2026-03-16T00:00:00.001Z' } },
      { commissionId: ids[2], ok: false, error: { code: 'invalid_transition', message: 'not due: the player\u2019s KYC is not approved' } },
      { commissionId: ids[3], ok: false, error: { code: 'invalid_transition', message: 'not due: the commission is held' } },
      { commissionId: ids[4], ok: false, error: { code: 'invalid_transition', message: 'not due: traffic pause_sub (alert alert-p)' } },
      { commissionId: 'missing', ok: false, error: { code: 'not_found', message: expect.any(String) } },
    ]);
    expect(linesOf(effects)).toEqual([expect.objectContaining({ id: ids[0], status: 'approved', by: 'admin' })]);
    // Without KYC gating the KYC check does not apply.
    w.kycGating = false;
    expect(answers(go(w, [command('approve-due', [ids[2] as string], { at: at('2026-03-16T00:00:00Z') })], state).effects)).toEqual([{ commissionId: ids[2], ok: true, status: 'approved' }]);
  });
});

// --- Periods ----------------------------------------------------------------------------------------

describe('commission actor: periods close in the brand time zone', () => {
  const malta = () => {
    const w = world({ tz: 'Europe/Malta' });
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE, holdDays: 10 }]));
    return w;
  };
  const END_OF_MARCH = at('2026-03-31T22:00:00Z'); // 2026-04-01 00:00 CEST: summer time began on March 29

  it('by TimePassed at the period end, not a millisecond before', () => {
    const w = malta();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const { state } = go(w, [p.bet('100', '0', at('2026-03-20T00:00:00Z'))]);
    expect(commissionDeadline(state)).toBe(END_OF_MARCH);
    expect(go(w, [{ type: 'TimePassed', at: END_OF_MARCH - 1 }], state).effects).toEqual([]);
    const { effects } = go(w, [{ type: 'TimePassed', at: END_OF_MARCH }], state);
    expect(linesOf(effects)).toEqual([expect.objectContaining({ period: '2026-03', createdAt: '2026-03-31T22:00:00.000Z', holdUntil: END_OF_MARCH + 10 * DAY, amount: '25.0000' })]);
    expect(commissionDeadline(state)).toBe(Infinity);
  });

  it('by activity of a later period; late activity of a closed period counts in the open one, never reopening it', () => {
    const w = malta();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const { effects, state } = go(w, [
      p.bet('100', '0', at('2026-03-31T21:00:00Z')), // 23:00 in Malta: March
      p.bet('40', '0', at('2026-03-31T22:30:00Z')), // 00:30 in Malta: April (still March in UTC)
      p.bet('8', '0', at('2026-03-25T00:00:00Z')), // late: March is closed
    ]);
    expect(linesOf(effects)).toEqual([expect.objectContaining({ period: '2026-03', ngr: '100.0000', createdAtMs: END_OF_MARCH })]);
    expect(ofType(effects, 'RevshareAccrued').map((e) => [e.accrual.period, e.accrual.ngr, e.accrual.closed])).toEqual([
      ['2026-03', '100.0000', false], ['2026-03', '100.0000', true], ['2026-04', '40.0000', false], ['2026-04', '48.0000', false],
    ]);
    expect(commissionDeadline(state)).toBe(at('2026-04-30T22:00:00Z'));
    const april = go(w, [tick('2026-04-30T22:00:00Z')], state);
    expect(linesOf(april.effects).map((l) => [l.period, l.ngr])).toEqual([['2026-04', '48.0000']]);
  });

  it('after a close with nothing open, late activity goes to the period of the clock', () => {
    const w = malta();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const { effects } = go(w, [p.bet('100', '0', at('2026-03-20T00:00:00Z')), tick('2026-05-10T00:00:00Z'), p.bet('5', '0', at('2026-03-21T00:00:00Z'))]);
    expect(ofType(effects, 'RevshareAccrued').at(-1)?.accrual).toMatchObject({ period: '2026-05', ngr: '5.0000', closed: false });
  });
});

// --- Revenue imports --------------------------------------------------------------------------------

let revenueMessages = 0;
/** What a merge tells the actor: `[day, imported, live]` per day, at `iso`. */
function revenue(importId: string, iso: string, days: Array<[string, string, string]>): CommissionMessage {
  return { type: 'RevenueImported', revenue: { id: `${importId}.${++revenueMessages}`, importId, brandId: BRAND, at: at(iso), days: days.map(([day, imported, live]) => ({ day, imported, live })) } };
}

const accrued = (effects: CommissionEffect[]) => ofType(effects, 'RevshareAccrued').map((e) => e.accrual);
const adjustmentId = (period: string, importId: string, n: number) => lineId('revshare', BRAND, AFF, period, 'import', importId, String(n));

describe('commission actor: revenue imports adjust RevShare', () => {
  const revshareWorld = (terms: Partial<RevshareTerms> = {}) => {
    const w = world();
    givePlan(w, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', revshare: { ...REVSHARE, ...terms } }]));
    return w;
  };

  it('open period: the day differences count in its NGR at once, and the close pays on them', () => {
    const w = revshareWorld();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const live = go(w, [p.bet('500', '0', at('2026-03-02T10:00:00Z')), p.bet('300', '0', at('2026-03-05T10:00:00Z'))]);
    const merged = go(w, [revenue('imp-1', '2026-03-10T08:00:00Z', [['2026-03-02', '650.0000', '500.0000'], ['2026-03-05', '300.0000', '300.0000']])], live.state);
    expect(linesOf(merged.effects)).toEqual([]);
    expect(accrued(merged.effects)).toEqual([expect.objectContaining({ period: '2026-03', ngr: '950.0000', amount: '237.5000', pct: '25.00', closed: false, at: at('2026-03-10T08:00:00Z') })]);
    expect(answers(merged.effects)).toEqual([]);
    const closed = go(w, [p.bet('100', '0', at('2026-03-20T10:00:00Z')), tick('2026-04-01T00:00:00Z')], live.state);
    // 1,050 reaches the 30 % tier: live 900 and the import's +150.
    expect(linesOf(closed.effects)).toEqual([expect.objectContaining({ period: '2026-03', ngr: '1050.0000', amount: '315.0000', pct: '30.00' })]);
  });

  it('closed period: one adjustment line of what the authoritative NGR pays less what the lines paid, exact to the cent', () => {
    const w = revshareWorld();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const closed = go(w, [p.bet('800', '0', at('2026-03-02T10:00:00Z')), p.bet('401.6667', '0', at('2026-03-10T10:00:00Z')), tick('2026-04-01T00:00:00Z')]);
    expect(linesOf(closed.effects).map((l) => [l.ngr, l.pct, l.amount])).toEqual([['1201.6667', '30.00', '360.5000']]);
    const merged = go(w, [revenue('imp-b', '2026-04-03T06:00:00Z', [['2026-03-02', '799.9999', '800.0000'], ['2026-03-10', '150.1234', '401.6667']])], closed.state);
    // 950.1233 is below the 30 % tier: 25 % of it is 237.530825 → 237.5308, and the line paid 360.5000.
    const [line] = linesOf(merged.effects);
    expect(linesOf(merged.effects)).toHaveLength(1);
    expect(line).toEqual(expect.objectContaining({
      id: adjustmentId('2026-03', 'imp-b', 0), kind: 'revshare', period: '2026-03', playerId: '', amount: '-122.9692', ngr: '-251.5434', pct: '25.00',
      carryIn: '0.0000', carryOut: '0.0000', status: 'pending', reason: 'revenue import imp-b', sourceEventId: 'imp-b', planVersion: 'plan1@1', version: 1,
      createdAt: '2026-04-03T06:00:00.000Z', holdUntil: at('2026-04-03T06:00:00Z') + 7 * DAY, reversalOf: '', by: 'system',
    }));
    expect(m('360.5000') + m(line!.amount)).toBe(percentOf(m('950.1233'), '25.00'));
    expect(answers(merged.effects)).toEqual([{ commissionId: line!.id, ok: true, status: 'pending' }]);
    expect(accrued(merged.effects)).toEqual([]);
    // A corrected file for the 10th: 1201.6666 is back in the 30 % tier (360.49998 → 360.5000).
    const corrected = go(w, [revenue('imp-c', '2026-04-04T06:00:00Z', [['2026-03-10', '401.6667', '401.6667']])], closed.state);
    expect(linesOf(corrected.effects).map((l) => [l.id, l.ngr, l.pct, l.amount])).toEqual([[adjustmentId('2026-03', 'imp-c', 1), '251.5433', '30.00', '122.9692']]);
  });

  it('a corrected import overwrites its days rather than adding to them; the same import again changes nothing', () => {
    const w = revshareWorld();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const first = revenue('imp-1', '2026-04-02T00:00:00Z', [['2026-03-02', '700.0000', '600.0000']]);
    const { effects, state } = go(w, [
      p.bet('600', '0', at('2026-03-02T10:00:00Z')), tick('2026-04-01T00:00:00Z'),
      first, revenue('imp-2', '2026-04-03T00:00:00Z', [['2026-03-02', '640.0000', '600.0000']]),
    ]);
    expect(linesOf(effects).map((l) => [l.id, l.ngr, l.amount, l.reason])).toEqual([
      [lineId('revshare', BRAND, AFF, '2026-03', 'plan1@1'), '600.0000', '150.0000', ''],
      [adjustmentId('2026-03', 'imp-1', 0), '100.0000', '25.0000', 'revenue import imp-1'],
      [adjustmentId('2026-03', 'imp-2', 1), '-60.0000', '-15.0000', 'revenue import imp-2'],
    ]);
    // The period pays 25 % of 640, not of 600 + 100 + 40.
    expect(linesOf(effects).reduce((n, l) => n + m(l.amount), 0n)).toBe(m('160.0000'));
    const again = go(w, [revenue('imp-2', '2026-04-05T00:00:00Z', [['2026-03-02', '640.0000', '600.0000']])], state);
    expect(again.effects).toEqual([{ type: 'CommandAnswered', commandId: expect.stringMatching(/^imp-2\./), results: [] }]);
    const open = go(w, [p.bet('10', '0', at('2026-04-02T00:00:00Z'))], state);
    const twice = go(w, [revenue('imp-3', '2026-04-05T00:00:00Z', [['2026-04-02', '20.0000', '10.0000']]), revenue('imp-3', '2026-04-05T00:00:00Z', [['2026-04-02', '20.0000', '10.0000']])], open.state);
    expect(accrued(twice.effects).map((a) => a.ngr)).toEqual(['20.0000']);
  });

  it('a closed period keeps its carry-in and carry-over rule; the carry it passed on is not recomputed, nor are later periods', () => {
    const months = (carryOver: RevshareTerms['carryOver']) => {
      const w = revshareWorld({ carryOver });
      const p = new Player('p1', at('2026-01-01T00:00:00Z'));
      const { effects } = go(w, [
        p.bet('1000', '200', at('2026-01-10T00:00:00Z')), tick('2026-02-01T00:00:00Z'),
        p.bet('100', '400.5', at('2026-02-10T00:00:00Z')), tick('2026-03-01T00:00:00Z'),
        p.bet('600', '100', at('2026-03-10T00:00:00Z')),
        // February was 99.5000 by the platform's books, not −300.5000.
        revenue('imp-feb', '2026-03-12T00:00:00Z', [['2026-02-10', '99.5000', '-300.5000']]),
        tick('2026-04-01T00:00:00Z'),
        // March had 600.0000 on the 10th, not 500.0000: its carry-in stays.
        revenue('imp-mar', '2026-04-02T00:00:00Z', [['2026-03-10', '600.0000', '500.0000']]),
      ]);
      return linesOf(effects).map((l) => [l.period, l.ngr, l.carryIn, l.amount, l.carryOut, l.reason]);
    };
    expect(months('carry')).toEqual([
      ['2026-01', '800.0000', '0.0000', '200.0000', '0.0000', ''],
      ['2026-02', '-300.5000', '0.0000', '0.0000', '-300.5000', ''],
      ['2026-02', '400.0000', '0.0000', '24.8750', '0.0000', 'revenue import imp-feb'],
      // March was opened with February's carry: it keeps it (never retroactive).
      ['2026-03', '500.0000', '-300.5000', '49.8750', '0.0000', ''],
      // 600 − 300.5 carried in = 299.5 at 25 %: 74.8750, of which 49.8750 was paid.
      ['2026-03', '100.0000', '0.0000', '25.0000', '0.0000', 'revenue import imp-mar'],
    ]);
    expect(months('none')).toEqual([
      ['2026-01', '800.0000', '0.0000', '200.0000', '0.0000', ''],
      ['2026-02', '-300.5000', '0.0000', '-75.1250', '0.0000', ''],
      ['2026-02', '400.0000', '0.0000', '100.0000', '0.0000', 'revenue import imp-feb'],
      ['2026-03', '500.0000', '0.0000', '125.0000', '0.0000', ''],
      ['2026-03', '100.0000', '0.0000', '25.0000', '0.0000', 'revenue import imp-mar'],
    ]);
    expect(months('reset-monthly').filter((l) => l[5] !== '').map((l) => l[3])).toEqual(['24.8750', '25.0000']);
  });

  it('a day counts under the version in force at its last instant, in that version\u2019s segment', () => {
    const w = world();
    givePlan(w, plan('plan1', [
      { effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE },
      { effectiveFrom: '2026-03-15T12:00:00Z', revshare: { ...REVSHARE, tiers: [{ from: '0.0000', pct: '40.00' }] } },
    ]));
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const { effects } = go(w, [
      p.bet('600', '0', at('2026-03-02T00:00:00Z')),
      revenue('imp-v', '2026-03-20T00:00:00Z', [['2026-03-14', '10.0000', '0.0000'], ['2026-03-15', '600.0000', '0.0000']]),
      tick('2026-04-01T00:00:00Z'),
    ]);
    // 1,210 in all reaches v1's 30 % tier for the 610 of v1; v2 pays its flat 40 % on the 600 of the 15th.
    expect(linesOf(effects).map((l) => [l.planVersion, l.ngr, l.pct, l.amount])).toEqual([['plan1@1', '610.0000', '30.00', '183.0000'], ['plan1@2', '600.0000', '40.00', '240.0000']]);
  });

  it('a period the books never held: over, it is closed by the import (its late live activity goes later); current, it opens', () => {
    const w = revshareWorld();
    const p = new Player('p1', at('2026-01-01T00:00:00Z'));
    const { effects, state } = go(w, [
      p.bet('100', '0', at('2026-01-10T00:00:00Z')), tick('2026-02-01T00:00:00Z'),
      revenue('imp-x', '2026-03-05T00:00:00Z', [['2026-02-15', '200.0000', '0.0000'], ['2026-03-02', '40.0000', '0.0000']]),
      p.bet('8', '0', at('2026-02-20T00:00:00Z')),
    ]);
    expect(linesOf(effects).map((l) => [l.period, l.ngr, l.amount, l.reason])).toEqual([
      ['2026-01', '100.0000', '25.0000', ''],
      ['2026-02', '200.0000', '50.0000', 'revenue import imp-x'],
    ]);
    expect(accrued(effects).slice(-2).map((a) => [a.period, a.ngr])).toEqual([['2026-03', '40.0000'], ['2026-03', '48.0000']]);
    expect(commissionDeadline(state)).toBe(at('2026-04-01T00:00:00Z'));
  });

  it('the adjustment reaches the parent like any line; no RevShare plan, no books; a pause of the affiliate makes it held', () => {
    const w = revshareWorld();
    w.parents.set(AFF, PARENT);
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const closed = go(w, [p.bet('600', '0', at('2026-03-02T10:00:00Z')), tick('2026-04-01T00:00:00Z')]);
    w.pauses.set(`${AFF}\u0000*`, { action: 'pause_affiliate', alertId: 'alert-9' });
    const { effects } = go(w, [revenue('imp-1', '2026-04-02T00:00:00Z', [['2026-03-02', '700.0000', '600.0000']])], closed.state);
    const [line] = linesOf(effects);
    expect(line).toMatchObject({ amount: '25.0000', status: 'held', reason: 'alert-9', sourceEventId: 'imp-1' });
    expect(ofType(effects, 'Forward')).toEqual([{ type: 'Forward', actor: 'commission', key: PARENT, message: { type: 'ChildLineChanged', child: line, change: 'made' } }]);

    const cpaOnly = world();
    givePlan(cpaOnly, plan('plan1', [{ effectiveFrom: '2026-01-01T00:00:00Z', cpa: CPA }]));
    const none = go(cpaOnly, [revenue('imp-1', '2026-04-02T00:00:00Z', [['2026-03-02', '700.0000', '600.0000']])]);
    expect(none.effects).toEqual([{ type: 'CommandAnswered', commandId: expect.any(String), results: [] }]);
    expect(snapshotCommission(none.state).brands).toEqual([[BRAND, expect.objectContaining({ open: null, closed: [] })]]);
  });

  it('books of an earlier version (no closed periods kept): the periods closed before are not adjusted, later ones are', () => {
    const w = revshareWorld();
    const p = new Player('p1', at('2026-03-01T00:00:00Z'));
    const closed = go(w, [p.bet('600', '0', at('2026-03-02T10:00:00Z')), tick('2026-04-01T00:00:00Z')]);
    const snap = JSON.parse(JSON.stringify(snapshotCommission(closed.state))) as ReturnType<typeof snapshotCommission>;
    for (const [, b] of snap.brands) {
      delete b.closed;
      delete b.booksFrom;
    }
    const upgraded = restoreCommission(snap);
    const march = go(w, [revenue('imp-1', '2026-04-02T00:00:00Z', [['2026-03-02', '700.0000', '600.0000']])], upgraded);
    expect(linesOf(march.effects)).toEqual([]);
    const april = go(w, [p.bet('10', '0', at('2026-04-02T00:00:00Z')), tick('2026-05-01T00:00:00Z'), revenue('imp-2', '2026-05-02T00:00:00Z', [['2026-04-02', '50.0000', '10.0000']])], upgraded);
    expect(linesOf(april.effects).map((l) => [l.period, l.amount])).toEqual([['2026-04', '2.5000'], ['2026-04', '10.0000']]);
  });
});

// --- Determinism and snapshots ----------------------------------------------------------------------

/** Every kind of message, over three months in Malta: a child affiliate with a hybrid plan. */
function scenario(): { w: World; messages: CommissionMessage[] } {
  const w = world({ tz: 'Europe/Malta', kycGating: true });
  w.parents.set(AFF, PARENT);
  givePlan(w, plan('plan1', [
    { effectiveFrom: '2026-01-01T00:00:00Z', revshare: REVSHARE, cpa: { ...CPA, minWagering: '30.0000' }, holdDays: 3 },
    { effectiveFrom: '2026-02-14T00:00:00Z', revshare: { ...REVSHARE, carryOver: 'none' }, cpa: { ...CPA, amount: '75.0000' }, holdDays: 5 },
  ]));
  const players = Array.from({ length: 6 }, (_, i) => new Player(`p${i}`, at('2026-01-03T00:00:00Z') + i * DAY, { sub1: i % 2 ? 's1' : 's2' }));
  const messages: CommissionMessage[] = [];
  players.forEach((p, i) => {
    const t0 = at('2026-01-05T00:00:00Z') + i * 7 * DAY;
    messages.push(p.deposit(`${20 + i}.01`, t0), p.kycApproved(t0 + DAY), p.bet('33.33', i % 3 ? '0' : '100', t0 + 2 * DAY));
    if (i === 2) messages.push(p.chargeback('22.01', t0 + 3 * DAY));
    if (i === 4) messages.push({ type: 'PlayerHeld', brandId: BRAND, playerId: p.id, alertId: 'alert-4', at: t0 + 4 * DAY });
    messages.push({ type: 'TimePassed', at: t0 + 5 * DAY });
  });
  messages.push(
    { type: 'TrafficPaused', subId: 's1', action: 'pause_sub', alertId: 'alert-s1', at: at('2026-02-20T00:00:00Z') },
    command('approve-due', players.map((p) => cpaId(p.id)), { at: at('2026-02-25T00:00:00Z') }),
    command('approve', [cpaId('p1'), cpaId('p3')], { at: at('2026-02-26T00:00:00Z') }),
    command('pay', [cpaId('p0'), cpaId('p1')], { at: at('2026-02-27T00:00:00Z'), reference: 'batch-1' }),
    // January closed, February open.
    revenue('imp-s1', '2026-02-27T12:00:00Z', [['2026-01-12', '500.0000', '10.0000'], ['2026-02-16', '30.0000', '0.0000']]),
    (players[0] as Player).chargeback('20.01', at('2026-03-02T00:00:00Z')),
    // February closed (by the March chargeback), March open; then a correction of February.
    revenue('imp-s2', '2026-03-05T00:00:00Z', [['2026-02-16', '10.0000', '0.0000'], ['2026-03-01', '-20.0000', '0.0000']]),
    tick('2026-04-01T00:00:00Z'),
  );
  return { w, messages };
}

describe('commission actor: determinism and snapshots', () => {
  it('the same messages twice give the same effects and state', () => {
    const { w, messages } = scenario();
    const a = go(w, messages);
    const b = go(w, messages);
    expect(linesOf(a.effects).length).toBeGreaterThan(8);
    expect(linesOf(a.effects).filter((l) => l.reason.startsWith('revenue import')).map((l) => l.period)).toEqual(['2026-01', '2026-02']);
    expect(b.effects).toEqual(a.effects);
    expect(snapshotCommission(b.state)).toEqual(snapshotCommission(a.state));
  });

  it('snapshot → JSON → restore → continue gives what running through gives', () => {
    const { w, messages } = scenario();
    const through = go(w, messages);
    for (const cut of [3, Math.floor(messages.length / 2), messages.length - 2]) {
      const first = go(w, messages.slice(0, cut));
      const restored = restoreCommission(JSON.parse(JSON.stringify(snapshotCommission(first.state))));
      const rest = go(w, messages.slice(cut), restored);
      expect([...first.effects, ...rest.effects]).toEqual(through.effects);
      expect(snapshotCommission(rest.state)).toEqual(snapshotCommission(through.state));
    }
  });
});
