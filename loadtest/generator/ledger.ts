/**
 * The ground truth of a run: what `affiliate-daily` and the live API must show, booked from the
 * traffic as it is sent, by the rules of the contract rather than by the code under test.
 *
 * - A click is counted on the UTC day it is sent, under its link's brand and affiliate. It is unique
 *   when it is the first valid one (not a bot, not geo-blocked, not flagged by the click-flood rule)
 *   from its address on its link that day.
 * - The click-flood rule (docs/fraud.md, rule 5): a click is flagged when its
 *   address has sent more than {@link CLICK_FLOOD_LIMIT} clicks to the affiliate within the minute
 *   up to it.
 * - A (brand, event id) counts once, whatever transport repeated it. A player's first registration
 *   binds it for life: to its click's affiliate when the click is valid, of the brand and within the
 *   brand's window (last click: the click the registration quotes), else organic (affiliate '').
 *   Events before the registration wait for it; each is counted on the UTC day of its own `ts`.
 * - The FTD is the player's first deposit in the order the events were sent.
 * - Money is exact (bigint 1/10,000): amounts in another currency converted at the catalog's rate;
 *   NGR per event = GGR − converted bonuses − chargebacks − payment fee % of deposits − gaming tax %
 *   of GGR, each percentage rounded half away from zero to 4 places per event (docs/architecture.md).
 * - Every event applied to an attributed player is also handed, with its NGR, to
 *   {@link LedgerOptions.onApplied}: the commission ledger (commissionLedger.ts) books from it.
 *   A click of a paused affiliate attributes, but its player's activity earns nothing. The lines
 *   that ledger makes come back ({@link Ledger.commission}) as the rows' `cpa` (reversals
 *   included), `revshare` and `commission` (every kind), on the UTC day each line was made.
 */
import { type CommissionKind, type Money, multiply, parseMoney } from '../../schema/mod.ts';
import type { BrandPlan } from './programme.ts';

/** Clicks per address and affiliate within a minute above which the fraud engine flags them. */
export const CLICK_FLOOD_LIMIT = 30;
const MINUTE = 60_000;
const DAY = 86_400_000;

/** Count columns of `affiliate-daily`. */
export const COUNT_COLUMNS = ['clicks', 'unique_clicks', 'bot_clicks', 'geo_blocked_clicks', 'registrations', 'ftds', 'deposits'] as const;
/** Money columns of `affiliate-daily` (the last three: commission lines, {@link Ledger.commission}). */
export const MONEY_COLUMNS = ['ftd_amount', 'deposit_amount', 'withdrawal_amount', 'ggr', 'bonus_amount', 'chargeback_amount', 'ngr', 'cpa', 'revshare', 'commission'] as const;
/** The live API's counters (GET /api/v1/live/affiliates/{id}). */
export const LIVE_COLUMNS = ['clicks', 'unique_clicks', 'bot_clicks', 'geo_blocked_clicks', 'registrations', 'ftds', 'deposits', 'ftd_amount', 'deposit_amount', 'ngr'] as const;

/** One `affiliate-daily` row as the ledger expects it. */
export interface DailyRow {
  day: string;
  brand_id: string;
  affiliate_id: string;
  counts: Record<(typeof COUNT_COLUMNS)[number], number>;
  money: Record<(typeof MONEY_COLUMNS)[number], Money>;
}

/** A click as the ledger books it. */
export interface LedgerClick {
  /** When it was sent, ms since epoch. */
  ts: number;
  code: string;
  brandId: string;
  affiliateId: string;
  ip: string;
  bot: boolean;
  geoBlocked: boolean;
  /** Its `sub1` ('' or absent: none). */
  sub1?: string;
  /** The visitor's country as the click's header gave it ('' or absent: unknown). */
  country?: string;
  /** Its affiliate is paused: the click is recorded as paused traffic, attributable but not commissionable. */
  paused?: boolean;
}

/** An event applied to an attributed player, with what its commissions are computed from. */
export interface AppliedEvent {
  brandId: string;
  affiliateId: string;
  playerId: string;
  eventId: string;
  type: string;
  ts: number;
  /** The player's registration time (ms). */
  registeredAt: number;
  /** The registration's country, else the click's ('' unknown). */
  country: string;
  /** The player's KYC status after this event ('' before any). */
  kyc: string;
  /** In the brand's currency: a deposit's, withdrawal's, bonus's or chargeback's amount, a bet's stake; 0 otherwise. */
  amount: Money;
  isFtd: boolean;
  /** The event's NGR, exactly as the daily rows book it. */
  ngr: Money;
  /** Its GGR (a bet's stake − win) and converted bonus, as the daily rows book them: NGR's parts a revenue file gives. */
  ggr: Money;
  bonus: Money;
  /** Attributed through an active affiliate's click. */
  commissionable: boolean;
  /** The binding click's `sub1`. */
  sub1: string;
}

/** Options of the {@link Ledger}. */
export interface LedgerOptions {
  /** Apply the click-flood rule (the fraud engine is running). */
  clickFloodRule: boolean;
  /** Called with every event applied to an attributed player, in the player's order. */
  onApplied?: (e: AppliedEvent) => void;
}

interface Player {
  affiliateId: string | null;
  hadDeposit: boolean;
  pending: { fields: Record<string, string | number | boolean> }[];
  /** What the binding gives the player's commissions (set with `affiliateId`). */
  registeredAt: number;
  country: string;
  kyc: string;
  commissionable: boolean;
  sub1: string;
}

const utcDay = (ts: number) => new Date(ts).toISOString().slice(0, 10);

/** The ground-truth ledger of one run. */
export class Ledger {
  private readonly rows = new Map<string, DailyRow>();
  private readonly clicks: (LedgerClick & { valid: boolean })[] = [];
  private readonly seen = new Set<string>();
  private readonly recent = new Map<string, number[]>();
  private readonly events = new Set<string>();
  private readonly players = new Map<string, Player>();
  private readonly brands: Map<string, BrandPlan>;
  /** Events booked once (duplicates excluded) and events dropped as duplicates. */
  readonly tally = { events: 0, duplicates: 0, clicks: 0 };

  constructor(
    brands: readonly BrandPlan[],
    private readonly rates: Readonly<Record<string, string>>,
    private readonly options: LedgerOptions,
  ) {
    this.brands = new Map(brands.map((b) => [b.id, b]));
  }

  private row(day: string, brandId: string, affiliateId: string): DailyRow {
    const key = `${day}\u0000${brandId}\u0000${affiliateId}`;
    let r = this.rows.get(key);
    if (!r) {
      r = {
        day,
        brand_id: brandId,
        affiliate_id: affiliateId,
        counts: Object.fromEntries(COUNT_COLUMNS.map((c) => [c, 0])) as DailyRow['counts'],
        money: Object.fromEntries(MONEY_COLUMNS.map((c) => [c, 0n])) as DailyRow['money'],
      };
      this.rows.set(key, r);
    }
    return r;
  }

  /** Books a click; returns its index, for the registration that quotes it. */
  click(c: LedgerClick): number {
    this.tally.clicks++;
    const window = this.recent.get(`${c.ip}\u0000${c.affiliateId}`) ?? [];
    while (window.length > 0 && (window[0] as number) <= c.ts - MINUTE) window.shift();
    window.push(c.ts);
    this.recent.set(`${c.ip}\u0000${c.affiliateId}`, window);
    const flooded = this.options.clickFloodRule && window.length > CLICK_FLOOD_LIMIT;
    const valid = !c.bot && !c.geoBlocked && !flooded;
    const day = utcDay(c.ts);
    const r = this.row(day, c.brandId, c.affiliateId);
    r.counts.clicks++;
    if (c.bot) r.counts.bot_clicks++;
    if (c.geoBlocked) r.counts.geo_blocked_clicks++;
    const key = `${day}\u0000${c.code}\u0000${c.ip}`;
    if (valid && !this.seen.has(key)) {
      this.seen.add(key);
      r.counts.unique_clicks++;
    }
    this.clicks.push({ ...c, valid });
    return this.clicks.length - 1;
  }

  /** Books an event of `brandId` in the order sent; `clickRef` is what {@link click} returned for the click a registration quotes. */
  event(brandId: string, fields: Record<string, string | number | boolean>, clickRef?: number): void {
    const id = `${brandId}\u0000${String(fields.event_id)}`;
    if (this.events.has(id)) {
      this.tally.duplicates++;
      return;
    }
    this.events.add(id);
    const key = `${brandId}\u0000${String(fields.player_id)}`;
    let p = this.players.get(key);
    if (!p) this.players.set(key, (p = { affiliateId: null, hadDeposit: false, pending: [], registeredAt: 0, country: '', kyc: '', commissionable: false, sub1: '' }));
    if (fields.type === 'registration') {
      if (p.affiliateId !== null) return;
      const click = this.binding(brandId, Number(fields.ts), clickRef);
      p.affiliateId = click?.affiliateId ?? '';
      p.registeredAt = Number(fields.ts);
      p.country = String(fields.country ?? '') || (click?.country ?? '');
      p.commissionable = click !== undefined && !click.paused;
      p.sub1 = click?.sub1 ?? '';
      this.apply(brandId, p, fields);
      for (const e of p.pending) this.apply(brandId, p, e.fields);
      p.pending = [];
      return;
    }
    if (p.affiliateId === null) p.pending.push({ fields });
    else this.apply(brandId, p, fields);
  }

  /** The click a registration binds to, undefined for organic (docs/architecture.md, “Attribution”). */
  private binding(brandId: string, registeredAt: number, clickRef: number | undefined): LedgerClick | undefined {
    const c = clickRef === undefined ? undefined : this.clicks[clickRef];
    if (!c || !c.valid || c.brandId !== brandId) return undefined;
    const windowDays = this.brands.get(brandId)?.attributionWindowDays ?? 30;
    return registeredAt - c.ts > windowDays * DAY ? undefined : c;
  }

  /** `amount` of `fields` in the brand's currency. */
  private inBrandCurrency(brand: BrandPlan | undefined, fields: Record<string, string | number | boolean>, name: string): Money {
    const amount = parseMoney(fields[name] ?? '0') ?? 0n;
    const currency = String(fields.currency ?? brand?.currency ?? '');
    if (!brand || currency === brand.currency) return amount;
    const rate = this.rates[`${currency}-${brand.currency}`];
    if (rate === undefined) throw new Error(`ledger: no rate ${currency}-${brand.currency}`);
    return multiply(amount, parseMoney(rate) as Money);
  }

  private apply(brandId: string, p: Player, fields: Record<string, string | number | boolean>): void {
    this.tally.events++;
    const brand = this.brands.get(brandId);
    const r = this.row(utcDay(Number(fields.ts)), brandId, p.affiliateId as string);
    const percent = (text: string | undefined) => (parseMoney(text ?? '0') as Money) / 100n;
    const m = r.money;
    let ngr = 0n;
    let ggr = 0n;
    let bonus = 0n;
    let amount = 0n;
    let isFtd = false;
    switch (fields.type) {
      case 'registration':
        r.counts.registrations++;
        break;
      case 'kyc':
        p.kyc = String(fields.status);
        break;
      case 'deposit': {
        amount = this.inBrandCurrency(brand, fields, 'amount');
        r.counts.deposits++;
        m.deposit_amount += amount;
        if (!p.hadDeposit) {
          p.hadDeposit = isFtd = true;
          r.counts.ftds++;
          m.ftd_amount += amount;
        }
        ngr -= multiply(amount, percent(brand?.paymentFeePct));
        break;
      }
      case 'withdrawal':
        amount = this.inBrandCurrency(brand, fields, 'amount');
        m.withdrawal_amount += amount;
        break;
      case 'bet': {
        amount = this.inBrandCurrency(brand, fields, 'stake');
        ggr = amount - this.inBrandCurrency(brand, fields, 'win');
        m.ggr += ggr;
        ngr += ggr - multiply(ggr, percent(brand?.gamingTaxPct));
        break;
      }
      case 'bonus':
        amount = this.inBrandCurrency(brand, fields, 'amount');
        if (fields.action === 'converted') {
          bonus = amount;
          m.bonus_amount += amount;
          ngr -= amount;
        }
        break;
      case 'chargeback': {
        amount = this.inBrandCurrency(brand, fields, 'amount');
        m.chargeback_amount += amount;
        ngr -= amount;
        break;
      }
    }
    m.ngr += ngr;
    if (p.affiliateId !== '' && this.options.onApplied) {
      this.options.onApplied({
        brandId, affiliateId: p.affiliateId as string, playerId: String(fields.player_id), eventId: String(fields.event_id), type: String(fields.type),
        ts: Number(fields.ts), registeredAt: p.registeredAt, country: p.country, kyc: p.kyc, amount, isFtd, ngr, ggr, bonus, commissionable: p.commissionable, sub1: p.sub1,
      });
    }
  }

  /** Books a commission line on the UTC day it was made: `cpa` (a reversal too), `revshare`, and `commission` for every kind. */
  commission(line: { createdAt: number; brandId: string; affiliateId: string; kind: CommissionKind; amount: Money }): void {
    const m = this.row(utcDay(line.createdAt), line.brandId, line.affiliateId).money;
    if (line.kind === 'cpa') m.cpa += line.amount;
    else if (line.kind === 'revshare') m.revshare += line.amount;
    m.commission += line.amount;
  }

  /** Every expected row, sorted like the report (day, brand, affiliate). */
  dailyRows(): DailyRow[] {
    return [...this.rows.values()].sort((a, b) => a.day.localeCompare(b.day) || a.brand_id.localeCompare(b.brand_id) || a.affiliate_id.localeCompare(b.affiliate_id));
  }

  /** What `GET /api/v1/live/affiliates/{id}` must show on `day`: the affiliate's rows of that day over every brand. */
  live(affiliateId: string, day: string): Record<(typeof LIVE_COLUMNS)[number], number | Money> {
    const out: Record<string, number | Money> = {};
    for (const c of LIVE_COLUMNS) out[c] = (COUNT_COLUMNS as readonly string[]).includes(c) ? 0 : 0n;
    for (const r of this.rows.values()) {
      if (r.affiliate_id !== affiliateId || r.day !== day) continue;
      for (const c of COUNT_COLUMNS) if (c in out) out[c] = (out[c] as number) + r.counts[c];
      for (const c of MONEY_COLUMNS) if (c in out) out[c] = (out[c] as Money) + r.money[c];
    }
    return out as Record<(typeof LIVE_COLUMNS)[number], number | Money>;
  }

  /** Days the ledger has rows on. */
  days(): string[] {
    return [...new Set([...this.rows.values()].map((r) => r.day))].sort();
  }
}
