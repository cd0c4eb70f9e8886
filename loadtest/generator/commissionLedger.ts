/**
 * The ground truth of a run's commissions (docs/commissions.md): the lines the cluster must make
 * and the running figures of its open RevShare periods, booked from the events the daily ledger
 * applies (ledger.ts {@link AppliedEvent}: attribution, order, KYC, amounts and NGR already
 * settled there) by the contract's rules — computed here again, never through the workers' code, so
 * a mistake there shows as a difference.
 *
 * - Plans are read as the catalog stored them: an affiliate's `plans` entry for the brand, else its
 *   `planId` when that plan is the brand's; the version in force at an event is the latest whose
 *   `effectiveFrom` is at or before the event's `ts` (none before the first: nothing is earned).
 * - **CPA**, one line per player ever. A player starts towards it with an FTD made under a version
 *   with CPA terms; from then on its deposits (less chargebacks) and stakes count. At each of its
 *   events the CPA terms of the version in force then are checked: deposits ≥ `minDeposit`, KYC
 *   approved after the event when `kycRequired`, stakes ≥ `minWagering`, the player's country in
 *   `countries` when it lists any (unknown is in none), the event at most `withinDays` × 24 h after
 *   the registration. The event that meets them all makes the line (the version's `cpa.amount`,
 *   `planId@version`); an event past the deadline ends the attempt for good.
 * - **Chargebacks**: a chargeback of a player whose CPA line exists and is not yet reversed makes
 *   a reversal, a line of the same kind and the opposite amount (status `reversed`).
 * - **Sub-affiliates**: every line of an affiliate with a parent (reversals included, not the
 *   parent's own shares: one level) gives the parent, when its plan on the line's brand (the
 *   version at the line's creation) has a `subAffiliatePct`, a `subaffiliate` line of that percent of
 *   the line — `multiply`, half away from zero at 4 places, none when it comes to 0; a reversal of a
 *   child line reverses the parent's share of it.
 * - **RevShare** accrues per (brand, affiliate, period `YYYY-MM` in the brand's time zone, plan
 *   version in force at the event). NGR of commissionable activity counts, that of a paused
 *   affiliate's traffic is held NGR apart; so are FTDs. The period's tier is the last one whose
 *   `from` the whole period's NGR (or FTD count) reaches, flat over its NGR; a negative period pays
 *   nothing under `carry` and `reset-monthly` and is billed (a negative amount, on its last segment)
 *   under `none`; with two versions in one period each pays its own tier's percent of what is left
 *   of its NGR once the negative segments are taken from the earliest positive ones.
 * - **Holds** change no amount. A line made for a paused affiliate's traffic is held, and so is a
 *   parent's share of a line made held. The lines of a sub-ID a fraud rule paused or blocked end held
 *   whenever the pause landed (the unpaid lines it touches move to held), so their final status is
 *   known once the pauses in force are ({@link CommissionLedger.lineGroups}); a parent's share of
 *   one is not: it keeps the status its child line was made with, held only when the pause came
 *   first. The run holds no player: the planted bonus abusers' deposits predate every plan.
 */
import { type CommissionKind, type Money, multiply, parseMoney, type Plan, type PlanVersion, type RevshareTerms } from '../../schema/mod.ts';
import { dayIn } from './calendar.ts';
import type { AppliedEvent } from './ledger.ts';

const DAY = 86_400_000;

/** An affiliate as the commissions see it: its plans and its parent. */
export interface CommissionAffiliate {
  id: string;
  planId: string | null;
  plans: Readonly<Record<string, string>>;
  parentId: string | null;
}

/** What the commission ledger books by: the catalog's plans (as stored, versions and all), affiliates and brand time zones. */
export interface CommissionCatalog {
  plans: readonly Plan[];
  affiliates: readonly CommissionAffiliate[];
  /** Brand id → IANA time zone (periods are its calendar months). */
  timezones: Readonly<Record<string, string>>;
}

/** A line's kind as the comparison groups lines: reversals apart from the lines they reverse. */
export type LineKind = CommissionKind | 'cpa reversal' | 'subaffiliate reversal';

/** One expected line. */
export interface ExpectedLine {
  brandId: string;
  affiliateId: string;
  playerId: string;
  kind: CommissionKind;
  /** The line it reverses, for a reversal. */
  reverses?: ExpectedLine;
  /** The child line a parent's share is of. */
  of?: ExpectedLine;
  /** `planId@version`. */
  planVersion: string;
  amount: Money;
  /** Made held: its traffic was not commissionable (or, a parent's share, its child line was made held). */
  madeHeld: boolean;
  /** The binding click's sub-ID ('' for a parent's share). */
  sub1: string;
  sourceEventId: string;
  /** ms: the event that made it. */
  createdAt: number;
}

/** The expected lines of one brand, affiliate, kind and plan version. */
export interface LineGroup {
  brandId: string;
  affiliateId: string;
  kind: LineKind;
  planVersion: string;
  lines: number;
  amount: Money;
  /** Lines whose status ends `held`; null when that depends on when a pause landed (a parent's share of a paused sub-ID's line). */
  held: number | null;
}

/** An open RevShare period's expected running figures for one plan version. */
export interface ExpectedAccrual {
  brandId: string;
  affiliateId: string;
  period: string;
  planVersion: string;
  ngr: Money;
  heldNgr: Money;
  ftds: number;
  /** The reached tier's percent, as the plan writes it. */
  pct: string;
  amount: Money;
}

/** One plan version's part of a period. */
interface Segment {
  brandId: string;
  affiliateId: string;
  period: string;
  planVersion: string;
  /** The version's `effectiveFrom` (ms) and plan id: segments settle in this order. */
  from: number;
  planId: string;
  terms: RevshareTerms;
  ngr: Money;
  heldNgr: Money;
  ftds: number;
}

interface PlayerBook {
  /** Deposits (less chargebacks) and stakes since the FTD, until the CPA is decided (null then). */
  progress: { deposits: Money; stakes: Money } | null;
  cpa: ExpectedLine | null;
}

const money = (text: string): Money => parseMoney(text) as Money;
/** `pct` percent of `amount`: a 2-place percentage over 100 is an exact 4-place rate, so `multiply`'s is the one rounding. */
const percentOf = (amount: Money, pct: string): Money => multiply(amount, money(pct) / 100n);

/** `YYYY-MM` of `ts` in time zone `tz`. */
export function periodIn(ts: number, tz: string): string {
  return dayIn(ts, tz).slice(0, 7);
}

/** The tier `terms` reach with a period's NGR (or FTDs): the last whose `from` is reached, else the first. */
function tierPct(terms: RevshareTerms, ngr: Money, ftds: number): string {
  let pct = terms.tiers[0]?.pct ?? '0';
  for (const t of terms.tiers) if (terms.tierBy === 'ngr' ? money(t.from) <= ngr : Number(t.from) <= ftds) pct = t.pct;
  return pct;
}

/** What a period's segments (in the order their versions came into force) pay: pct and amount each. */
function settle(segments: readonly Segment[]): { pct: string; amount: Money }[] {
  const total = segments.reduce((s, x) => s + x.ngr, 0n);
  const ftds = segments.reduce((n, x) => n + x.ftds, 0);
  let deficit = segments.reduce((s, x) => (x.ngr < 0n ? s - x.ngr : s), 0n);
  const bases = segments.map((x) => {
    if (x.ngr <= 0n) return 0n;
    const taken = x.ngr < deficit ? x.ngr : deficit;
    deficit -= taken;
    return x.ngr - taken;
  });
  if (total < 0n && segments[segments.length - 1]?.terms.carryOver === 'none') bases[bases.length - 1] = total;
  return segments.map((x, i) => {
    const pct = tierPct(x.terms, total, ftds);
    return { pct, amount: percentOf(bases[i] as Money, pct) };
  });
}

/** The commission ledger of one run: feed it every {@link AppliedEvent}, in the order the daily ledger applies them. */
export class CommissionLedger {
  private readonly plans: Map<string, Plan>;
  private readonly affiliates: Map<string, CommissionAffiliate>;
  private readonly players = new Map<string, PlayerBook>();
  private readonly made: ExpectedLine[] = [];
  /** A line → the parent's share of it. */
  private readonly shares = new Map<ExpectedLine, ExpectedLine>();
  private readonly reversed = new Set<ExpectedLine>();
  private readonly segments = new Map<string, Segment>();

  constructor(private readonly catalog: CommissionCatalog) {
    this.plans = new Map(catalog.plans.map((p) => [p.id, p]));
    this.affiliates = new Map(catalog.affiliates.map((a) => [a.id, a]));
  }

  /** The plan `affiliateId` earns by on `brandId`, or null. */
  private planOf(affiliateId: string, brandId: string): Plan | null {
    const a = this.affiliates.get(affiliateId);
    const id = a ? (Object.hasOwn(a.plans, brandId) ? a.plans[brandId] : a.planId) : null;
    const plan = id ? this.plans.get(id) : undefined;
    return plan?.brandId === brandId ? plan : null;
  }

  /** The version of `plan` in force at `ts`. */
  private static versionAt(plan: Plan, ts: number): PlanVersion | null {
    return plan.versions.filter((v) => Date.parse(v.effectiveFrom) <= ts).at(-1) ?? null;
  }

  /** Books one applied event of an attributed player. */
  book(e: AppliedEvent): void {
    const plan = this.planOf(e.affiliateId, e.brandId);
    const version = plan ? CommissionLedger.versionAt(plan, e.ts) : null;
    if (plan && version?.revshare) this.accrue(e, plan, version, version.revshare);
    this.bookCpa(e, plan, version);
  }

  private accrue(e: AppliedEvent, plan: Plan, version: PlanVersion, terms: RevshareTerms): void {
    const period = periodIn(e.ts, this.catalog.timezones[e.brandId] ?? 'UTC');
    const planVersion = `${plan.id}@${version.version}`;
    const key = [e.brandId, e.affiliateId, period, planVersion].join('\u0000');
    let seg = this.segments.get(key);
    if (!seg) {
      seg = { brandId: e.brandId, affiliateId: e.affiliateId, period, planVersion, from: Date.parse(version.effectiveFrom), planId: plan.id, terms, ngr: 0n, heldNgr: 0n, ftds: 0 };
      this.segments.set(key, seg);
    }
    if (!e.commissionable) seg.heldNgr += e.ngr;
    else {
      seg.ngr += e.ngr;
      if (e.isFtd) seg.ftds++;
    }
  }

  private bookCpa(e: AppliedEvent, plan: Plan | null, version: PlanVersion | null): void {
    const key = `${e.brandId}\u0000${e.playerId}`;
    let book = this.players.get(key);
    if (e.type === 'chargeback' && book) {
      if (book.progress) book.progress.deposits -= e.amount;
      if (book.cpa && !this.reversed.has(book.cpa)) this.reverse(book.cpa, e);
    }
    if (e.isFtd && plan && version?.cpa) this.players.set(key, (book = { progress: { deposits: 0n, stakes: 0n }, cpa: null }));
    const progress = book?.progress;
    if (!book || !progress) return;
    if (e.type === 'deposit') progress.deposits += e.amount;
    else if (e.type === 'bet') progress.stakes += e.amount;
    const terms = version?.cpa;
    if (!plan || !version || !terms) return;
    if (terms.withinDays !== null && e.ts > e.registeredAt + terms.withinDays * DAY) {
      book.progress = null;
      return;
    }
    const qualified =
      progress.deposits >= money(terms.minDeposit) &&
      (!terms.kycRequired || e.kyc === 'approved') &&
      progress.stakes >= money(terms.minWagering) &&
      (terms.countries.length === 0 || terms.countries.includes(e.country));
    if (!qualified) return;
    book.progress = null;
    book.cpa = this.make({
      brandId: e.brandId, affiliateId: e.affiliateId, playerId: e.playerId, kind: 'cpa', planVersion: `${plan.id}@${version.version}`, amount: money(terms.amount),
      madeHeld: !e.commissionable, sub1: e.sub1, sourceEventId: e.eventId, createdAt: e.ts,
    });
  }

  /** The reversal of `line` for chargeback `e`. */
  private reverse(line: ExpectedLine, e: Pick<AppliedEvent, 'eventId' | 'ts'>): void {
    this.reversed.add(line);
    this.make({ ...line, reverses: line, amount: -line.amount, madeHeld: false, sourceEventId: e.eventId, createdAt: e.ts });
  }

  /** Records `line`, and the parent's share of it (or, of a reversal, the reversal of that share). */
  private make(line: ExpectedLine): ExpectedLine {
    this.made.push(line);
    const parentId = this.affiliates.get(line.affiliateId)?.parentId;
    if (line.kind === 'subaffiliate' || !parentId || !this.affiliates.has(parentId)) return line;
    if (line.reverses) {
      const share = this.shares.get(line.reverses);
      if (share && !this.reversed.has(share)) this.reverse(share, { eventId: line.sourceEventId, ts: line.createdAt });
      return line;
    }
    const plan = this.planOf(parentId, line.brandId);
    const version = plan ? CommissionLedger.versionAt(plan, line.createdAt) : null;
    if (!plan || !version) return line;
    const amount = percentOf(line.amount, version.subAffiliatePct);
    if (amount === 0n) return line;
    const share: ExpectedLine = {
      brandId: line.brandId, affiliateId: parentId, playerId: line.playerId, kind: 'subaffiliate', planVersion: `${plan.id}@${version.version}`, amount,
      madeHeld: line.madeHeld, of: line, sub1: '', sourceEventId: line.sourceEventId, createdAt: line.createdAt,
    };
    this.shares.set(line, share);
    this.made.push(share);
    return line;
  }

  /** Every line made, in the order made. */
  lines(): readonly ExpectedLine[] {
    return this.made;
  }

  /**
   * The lines per brand, affiliate, kind and plan version; `paused(affiliate, sub1)` tells the
   * pauses and blocks in force at the end (their lines end held, whenever they landed).
   */
  lineGroups(paused: (affiliateId: string, subId: string) => boolean = () => false): LineGroup[] {
    const groups = new Map<string, LineGroup>();
    for (const l of this.made) {
      const kind: LineKind = l.reverses ? (`${l.kind} reversal` as LineKind) : l.kind;
      const key = [l.brandId, l.affiliateId, kind, l.planVersion].join('\u0000');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { brandId: l.brandId, affiliateId: l.affiliateId, kind, planVersion: l.planVersion, lines: 0, amount: 0n, held: 0 }));
      g.lines++;
      g.amount += l.amount;
      if (l.reverses || g.held === null) continue;
      const source = l.of ?? l;
      const pausedSub = paused(source.affiliateId, source.sub1);
      if (l.madeHeld || (pausedSub && !l.of)) g.held++;
      else if (pausedSub) g.held = null;
    }
    return [...groups.values()].sort((a, b) => a.brandId.localeCompare(b.brandId) || a.affiliateId.localeCompare(b.affiliateId) || a.kind.localeCompare(b.kind) || a.planVersion.localeCompare(b.planVersion));
  }

  /** Every open period's figures per plan version, as they stand after the events booked so far. */
  accruals(): ExpectedAccrual[] {
    const periods = new Map<string, Segment[]>();
    for (const s of this.segments.values()) {
      const key = [s.brandId, s.affiliateId, s.period].join('\u0000');
      periods.set(key, [...(periods.get(key) ?? []), s]);
    }
    const out: ExpectedAccrual[] = [];
    for (const segs of periods.values()) {
      segs.sort((a, b) => a.from - b.from || a.planId.localeCompare(b.planId));
      settle(segs).forEach((r, i) => {
        const s = segs[i] as Segment;
        out.push({ brandId: s.brandId, affiliateId: s.affiliateId, period: s.period, planVersion: s.planVersion, ngr: s.ngr, heldNgr: s.heldNgr, ftds: s.ftds, ...r });
      });
    }
    return out.sort((a, b) => a.brandId.localeCompare(b.brandId) || a.affiliateId.localeCompare(b.affiliateId) || a.period.localeCompare(b.period) || a.planVersion.localeCompare(b.planVersion));
  }

  /**
   * Brands whose accrued activity is not all in the period `now` falls in (the brand's time zone):
   * a run at a month's turn there, or late events from the month before. The cluster may have
   * closed a period or counted late activity in the open one, so those brands' accruals can only be
   * judged summed over periods, and their RevShare lines not at all.
   */
  periodsInDoubt(now: number): Set<string> {
    const out = new Set<string>();
    for (const s of this.segments.values()) if (s.period !== periodIn(now, this.catalog.timezones[s.brandId] ?? 'UTC')) out.add(s.brandId);
    return out;
  }
}
