/**
 * The traffic of a generated run, as a timeline of actions — redirects and player events, each
 * with the moment it is due — played by the load driver and booked by the ledger.
 *
 * Visitors arrive at a constant rate and pick an affiliate by its Zipf weight, one of its links
 * and sub-IDs, a country (some restricted by the brand) and a user agent (some bots). A share of
 * them converts through the casino funnel: registration → KYC → first deposit → bets and bonuses
 * → further deposits, withdrawals, the odd chargeback. Organic players register without a click.
 * Some events are sent twice (the same event id through another transport) and some arrive late
 * (their `ts` minutes or hours before they are sent). Funnel rates are those of a real programme;
 * its delays are compressed (seconds instead of days) so a funnel fits a run.
 *
 * Clean traffic stays under every fraud rule by construction (one address and one device per
 * player, at most three clicks per address, FTD amounts to the cent, at most one chargeback per
 * sub-ID, bets after every bonus), so every alert the engine raises on it is a false positive;
 * each rule of docs/fraud.md is then planted once on a sub-ID of its own ({@link PlantedCase}).
 */
import type { AffiliatePlan, LinkPlan, Programme } from './programme.ts';
import { FLOOD_EXTRA_LINKS, FRAUD_RANKS } from './programme.ts';
import { BOTS, BROWSERS } from '../lib/traffic.ts';
import { Rng, Weighted } from './random.ts';

/** How an event reaches the edge (docs/protocol.md). */
export type Transport = 'postback' | 'json' | 'msgpack' | 'stream';

/** A redirect: `GET /c/{code}?sub1=…` from a visitor. */
export interface ClickAction {
  kind: 'click';
  /** Due at, ms after the run's start (negative: before it, see {@link WARMUP_S}; sent at once). */
  at: number;
  /** Index among the timeline's clicks: registrations quote it, the driver fills in the click id. */
  ref: number;
  code: string;
  brandId: string;
  affiliateId: string;
  sub1: string;
  /** The visitor's address, sent as `X-Forwarded-For` (the driver connects from loopback, a trusted proxy). */
  ip: string;
  /** User agent; absent = no header (a bot: docs/architecture.md, “Clicks”). */
  ua?: string;
  /** `CF-IPCountry`; absent = unknown. */
  country?: string;
  /** Sent with `Sec-Purpose: prefetch` (a bot). */
  prefetch?: boolean;
  /** What the edge must record it as. */
  bot: boolean;
  geoBlocked: boolean;
}

/** A player event (the field names of docs/protocol.md) sent by the casino platform. */
export interface EventAction {
  kind: 'event';
  at: number;
  transport: Transport;
  brandId: string;
  /** The event's fields; `click_id` is filled in by the driver from {@link clickRef}. */
  fields: Record<string, string | number | boolean>;
  /** Registration: the click it quotes. */
  clickRef?: number;
  /** A resend of an event already sent (same event id): counted once. */
  duplicate?: true;
}

/** Anything due in a run. */
export type Action = ClickAction | EventAction;

/** Rule ids of the fraud engine, as alerts name them (docs/fraud.md). */
export type FraudRule = 'ip_registrations' | 'conversion_rate' | 'bonus_abuse' | 'chargeback_rate' | 'click_flood' | 'multi_account' | 'ftd_amount_cluster';

/** One planted fraud case: an alert of `rule` on this sub-ID, or on one of these players, is a true positive. */
export interface PlantedCase {
  rule: FraudRule;
  affiliateId: string;
  subId: string;
  playerIds: string[];
}

/** Options of {@link generateTimeline}. */
export interface TimelineOptions {
  seed: number;
  /** Wall-clock start of the run, ms since epoch: events carry `ts` = start + due time. */
  startMs: number;
  durationS: number;
  /** Actions (redirects + events) per second the timeline should average. */
  rate: number;
}

/** A run's traffic. */
export interface Timeline {
  programme: Programme;
  options: TimelineOptions;
  /**
   * The actions in the order they are due (ties in generation order), generated as they are
   * consumed: memory stays bounded by what is in flight in the funnels, whatever the run's length.
   */
  actions: Iterable<Action>;
  planted: PlantedCase[];
}

/** Funnel rates and compressed delays (ms). Exported for the tests that check the generator keeps them. */
export const FUNNEL = {
  /** Visitors that are bots (crawler, script, empty or garbled UA, prefetch). */
  botShare: 0.07,
  /** Visitors sending a country header. */
  countryShare: 0.9,
  /** Visitors who click the same link again (not unique). */
  repeatShare: 0.15,
  /** Visitors who clicked another affiliate's link first (last click wins). */
  earlierClickShare: 0.03,
  /** Valid visitors who register: the network's ~4% conversion. */
  registration: 0.04,
  /** Geo-blocked visitors who register anyway (organic: a blocked click is never attributable). */
  geoRegistration: 0.03,
  /** Organic players (no click) per visitor. */
  organicPerVisitor: 0.01,
  kyc: 0.7,
  ftd: 0.45,
  /** Deposits of a depositor after the FTD: 0 to this many. */
  maxRedeposits: 4,
  /** Bets of a depositor: uniform in this range (cut at the end of the run). */
  bets: [50, 400] as const,
  bonus: 0.5,
  withdrawal: 0.2,
  /** Depositors charging back (at most one per clean sub-ID, so no clean sub-ID crosses rule 4). */
  chargeback: 0.02,
  /** Events sent twice. */
  duplicate: 0.015,
  /** Events delivered late. */
  late: 0.02,
  /** Foreign-currency deposits and withdrawals (converted at the catalog's rate). */
  usd: 0.1,
  /** A depositor's session of bets lasts this long (ms), whatever its number of bets. */
  session: [5_000, 15_000] as const,
  delays: { earlierClick: [1_000, 5_000], registration: [1_000, 6_000], kyc: [500, 5_000], ftd: [1_000, 8_000], redeposit: [1_000, 5_000] },
} as const;

const COUNTRIES = new Weighted(['DE', 'GB', 'BR', 'CA', 'FI', 'NO', 'IN', 'US', 'FR', 'NZ'], [25, 20, 10, 10, 8, 7, 5, 8, 4, 3]);
/** First octets of each country's addresses: the IP pools. */
const POOLS: Record<string, number> = { DE: 85, GB: 81, BR: 177, CA: 99, FI: 62, NO: 84, IN: 49, US: 73, FR: 90, NZ: 121, '': 100 };
const GAMES = new Weighted(
  [
    ['book-of-dead', 'slots'],
    ['starburst', 'slots'],
    ['lightning-roulette', 'live'],
    ['blackjack-classic', 'table'],
    ['champions-league', 'sports'],
    ['keno', 'other'],
  ] as const,
  [30, 25, 15, 10, 15, 5],
);
const TRANSPORTS: Record<string, Weighted<Transport>> = {
  registration: new Weighted<Transport>(['postback', 'json'], [40, 60]),
  kyc: new Weighted<Transport>(['postback', 'json'], [40, 60]),
  money: new Weighted<Transport>(['postback', 'json', 'msgpack'], [25, 50, 25]),
  play: new Weighted<Transport>(['stream', 'msgpack'], [65, 35]),
};
const HOUR = 3_600_000;

/** Builds one timeline; a class so the counters and the random source are shared by every step. */
class Builder {
  /** Actions generated and not yet due: a min-heap on (at, generation order). */
  readonly pending = new ActionHeap();
  readonly planted: PlantedCase[] = [];
  /** Actions generated so far. */
  generated = 0;
  private clicks = 0;
  private visitors = 0;
  private players = 0;
  private events = 0;
  private readonly chargedBack = new Set<string>();
  private readonly affiliates: Weighted<AffiliatePlan>;
  private readonly linkOf: Map<string, LinkPlan>;

  constructor(
    readonly p: Programme,
    readonly o: TimelineOptions,
    readonly rng: Rng,
    /** Due times at or after this are not generated (ms after the start). */
    readonly end: number,
  ) {
    this.affiliates = new Weighted(p.affiliates, p.affiliates.map((a) => a.weight));
    this.linkOf = new Map(p.links.map((l) => [l.code, l]));
  }

  private queue(a: Action): void {
    this.generated++;
    this.pending.push(a);
  }

  private link(code: string): LinkPlan {
    return this.linkOf.get(code) as LinkPlan;
  }

  /** A fresh visitor address from `country`'s pool: never shared with another visitor. */
  private address(country: string): string {
    const n = ++this.visitors;
    return `${POOLS[country] ?? 100}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  }

  /** Whether the edge redirects `visitor` to the brand's restricted URL: a bot's click is never both (its country is never sent). */
  private geoBlocked(code: string, visitor: { country?: string; bot: boolean }): boolean {
    const brand = this.p.brands.find((b) => b.id === this.link(code).brandId);
    return !visitor.bot && visitor.country !== undefined && (brand?.restrictedCountries.includes(visitor.country) ?? false);
  }

  click(at: number, code: string, sub1: string, ip: string, visitor: { ua?: string; country?: string; prefetch?: boolean; bot: boolean }): ClickAction {
    const link = this.link(code);
    const geoBlocked = this.geoBlocked(code, visitor);
    const c: ClickAction = { kind: 'click', at, ref: this.clicks++, code, brandId: link.brandId, affiliateId: link.affiliateId, sub1, ip, bot: visitor.bot, geoBlocked };
    if (visitor.ua !== undefined) c.ua = visitor.ua;
    if (visitor.country !== undefined) c.country = visitor.country;
    if (visitor.prefetch) c.prefetch = true;
    this.queue(c);
    return c;
  }

  /**
   * Schedules an event when it is due within the run (else returns undefined); maybe also its
   * resend, which shares its fields; maybe with a `ts` from before it is sent (late).
   */
  event(at: number, brandId: string, kind: keyof typeof TRANSPORTS, fields: Record<string, string | number | boolean>, opts: { clickRef?: number; mayBeLate?: boolean } = {}): EventAction | undefined {
    if (at >= this.end) return undefined;
    const f = { event_id: `${this.p.tag}-e${++this.events}`, ...fields, ts: this.o.startMs + Math.floor(at) };
    if (opts.mayBeLate && this.rng.chance(FUNNEL.late)) f.ts -= this.rng.int(60_000, 3 * HOUR);
    const transport = (TRANSPORTS[kind] as Weighted<Transport>).draw(this.rng);
    const e: EventAction = { kind: 'event', at, transport, brandId, fields: f };
    if (opts.clickRef !== undefined) e.clickRef = opts.clickRef;
    this.queue(e);
    if (this.rng.chance(FUNNEL.duplicate)) {
      const again = at + this.rng.int(500, 3_000);
      if (again < this.end) {
        const other: Transport = transport === 'postback' ? 'json' : 'postback';
        this.queue({ ...e, at: again, transport: other, duplicate: true });
      }
    }
    return e;
  }

  /** A player registers at `at` (quoting `click`, or organic) and plays the funnel. */
  player(at: number, brandId: string, ip: string, country: string, click: ClickAction | undefined, opts: { ftdAmount?: string; chargeback?: boolean; sub?: string; device?: string; noFunnel?: boolean } = {}): string {
    const playerId = `${this.p.tag}-p${++this.players}`;
    const base = { player_id: playerId };
    const reg: Record<string, string | number | boolean> = { ...base, type: 'registration', ip, device_id: opts.device ?? `${this.p.tag}-d${this.players}` };
    if (country) reg.country = country;
    if (!this.event(at, brandId, 'registration', reg, click ? { clickRef: click.ref } : {})) return playerId;
    if (opts.noFunnel) return playerId;
    const r = this.rng;
    const brandCurrency = this.p.brands.find((b) => b.id === brandId)?.currency ?? 'EUR';
    const money = (amount: string) => (r.chance(FUNNEL.usd) ? { amount, currency: 'USD' } : { amount, currency: brandCurrency });
    let t = at;
    if (r.chance(FUNNEL.kyc)) {
      const status = r.float() < 0.85 ? 'approved' : r.float() < 0.33 ? 'rejected' : 'pending';
      this.event(t + r.int(...FUNNEL.delays.kyc), brandId, 'kyc', { ...base, type: 'kyc', status }, { mayBeLate: true });
    }
    if (opts.ftdAmount === undefined && !r.chance(FUNNEL.ftd)) return playerId;
    t += r.int(...FUNNEL.delays.ftd);
    const ftd = opts.ftdAmount ?? r.amount(10, 300);
    const first = this.event(t, brandId, 'money', { ...base, type: 'deposit', amount: ftd, currency: brandCurrency });
    if (!first) return playerId;
    const ftdId = first.fields.event_id as string;
    const sub = opts.sub ?? click?.sub1 ?? '';
    if (opts.chargeback || (opts.chargeback === undefined && click && r.chance(FUNNEL.chargeback) && !this.chargedBack.has(`${click.affiliateId}/${sub}`))) {
      if (click) this.chargedBack.add(`${click.affiliateId}/${sub}`);
      this.event(t + r.int(3_000, 15_000), brandId, 'money', { ...base, type: 'chargeback', amount: ftd, currency: brandCurrency, deposit_id: ftdId });
    }
    if (opts.ftdAmount !== undefined) return playerId;
    let bonusAt = -1;
    if (r.chance(FUNNEL.bonus)) {
      bonusAt = t + r.int(200, 1_000);
      const bonusId = `${playerId}-b1`;
      const amount = r.amount(10, 100, 0);
      this.event(bonusAt, brandId, 'play', { ...base, type: 'bonus', action: 'granted', amount, currency: brandCurrency, bonus_id: bonusId, max: r.chance(0.2) });
      const outcome = r.pick(['wagered', 'converted', 'forfeited']);
      this.event(bonusAt + r.int(5_000, 20_000), brandId, 'play', { ...base, type: 'bonus', action: outcome, amount, currency: brandCurrency, bonus_id: bonusId }, { mayBeLate: true });
    }
    const bets = r.int(...FUNNEL.bets);
    const gap = r.int(...FUNNEL.session) / bets;
    let bt = Math.max(t, bonusAt) + 300;
    for (let i = 0; i < bets && bt < this.end; i++) {
      const [game, category] = GAMES.draw(r);
      const stake = r.amount(0.1, 20);
      // A return to player of ~93% (0.45 × (0.98 × 1.5 + 0.02 × 30)), as a casino's games have: the house wins on
      // average, so NGR is positive for most affiliates and RevShare pays (players who won on average never left any).
      const win = r.chance(0.55) ? '0' : r.chance(0.02) ? mulText(stake, r.int(20, 40)) : mulText(stake, r.int(1, 2));
      this.event(bt, brandId, 'play', { ...base, type: 'bet', stake, win, currency: brandCurrency, game, category }, { mayBeLate: i > 0 });
      bt += r.exp(gap);
    }
    let dt = t;
    for (let i = r.int(0, FUNNEL.maxRedeposits); i > 0; i--) {
      dt += r.int(...FUNNEL.delays.redeposit);
      this.event(dt, brandId, 'money', { ...base, type: 'deposit', ...money(r.amount(10, 500)) });
    }
    if (r.chance(FUNNEL.withdrawal)) this.event(dt + r.int(5_000, 20_000), brandId, 'money', { ...base, type: 'withdrawal', ...money(r.amount(20, 400)) }, { mayBeLate: true });
    return playerId;
  }

  /** One visitor arriving at `at`. */
  visitor(at: number): void {
    const r = this.rng;
    const aff = this.affiliates.draw(r);
    // Clean traffic only uses the affiliate's brand links, never the flood's extra ones.
    const code = aff.links[r.int(0, this.p.brands.length - 1)] as string;
    const sub1 = r.pick(aff.subIds);
    const country = r.chance(FUNNEL.countryShare) ? COUNTRIES.draw(r) : '';
    const ip = this.address(country);
    const bot = r.chance(FUNNEL.botShare);
    const visitor: { ua?: string; country?: string; prefetch?: boolean; bot: boolean } = { bot };
    if (bot) {
      const kind = r.int(0, 3);
      if (kind === 0) visitor.ua = r.pick(BOTS.filter((b): b is string => b !== undefined));
      else if (kind === 1) visitor.ua = 'Mozilla';
      else if (kind === 2) visitor.prefetch = true;
      if (kind === 2) visitor.ua = r.pick(BROWSERS);
    } else {
      visitor.ua = r.pick(BROWSERS);
      // Bots come from crawler farms without a country the brands restrict, so a click is never both.
      if (country) visitor.country = country;
    }
    // During the warm-up (before the start) only what leads to a registration is sent: the other
    // clicks of those seconds would be a burst of traffic that counts for nothing afterwards.
    const warm = at < 0;
    // Nothing is generated before `at`: actions before it may already have been handed out.
    if (!bot && r.chance(FUNNEL.earlierClickShare)) {
      const other = this.affiliates.draw(r);
      if (other !== aff) {
        const otherSub = r.pick(other.subIds);
        if (!warm) this.click(at, other.links[0] as string, otherSub, ip, visitor);
        at += r.int(...FUNNEL.delays.earlierClick);
        if (at >= this.end) return;
      }
    }
    const again = at + r.int(1_000, 10_000);
    const repeat = r.chance(FUNNEL.repeatShare);
    const organic = r.chance(FUNNEL.organicPerVisitor);
    const registers = !bot && r.chance(this.geoBlocked(code, visitor) ? FUNNEL.geoRegistration : FUNNEL.registration);
    const registerAt = at + r.int(...FUNNEL.delays.registration);
    if (organic) {
      const oc = COUNTRIES.draw(r);
      this.player(at, r.pick(this.p.brands).id, this.address(oc), oc, undefined);
    }
    if (warm && !registers) return;
    const click = this.click(at, code, sub1, ip, visitor);
    if (repeat && !warm && again < this.end) this.click(again, code, sub1, ip, visitor);
    if (registers) this.player(registerAt, click.brandId, ip, country, click);
  }

  /** A planted visitor on a fraud sub-ID: a browser, from `ip`. */
  private plantedClick(at: number, aff: AffiliatePlan, sub: string, ip: string, code = aff.links[0] as string): ClickAction {
    return this.click(at, code, sub, ip, { ua: BROWSERS[0], country: 'DE', bot: false });
  }

  /** Every fraud rule once, each on a sub-ID (or players) of its own, due within the run. */
  plantFraud(): void {
    const r = this.rng;
    const D = this.end;
    const aff = (rank: number) => this.p.affiliates[rank] as AffiliatePlan;
    const dc = (n: number) => `45.67.${(n >> 8) & 255}.${n & 255}`;
    let dcn = 0;
    const plant = (rule: FraudRule, a: AffiliatePlan, subId: string, playerIds: string[]) => this.planted.push({ rule, affiliateId: a.id, subId, playerIds });

    // 1. Seven registrations from one address on one sub-ID within a minute.
    {
      const a = aff(FRAUD_RANKS.ipRegistrations);
      const ip = dc(++dcn);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const at = 0.2 * D + i * 3_000;
        const c = this.plantedClick(at, a, 'fr-ipreg', ip);
        ids.push(this.player(at + 1_000, c.brandId, ip, 'DE', c, { noFunnel: true }));
      }
      plant('ip_registrations', a, 'fr-ipreg', ids);
    }
    // 2. A sub-ID converting 48 of 55 visitors, against the network's ~4%.
    {
      const a = aff(FRAUD_RANKS.conversionRate);
      const ids: string[] = [];
      for (let i = 0; i < 55; i++) {
        const at = 0.1 * D + (i * 0.4 * D) / 55;
        const ip = dc(++dcn);
        const c = this.plantedClick(at, a, 'fr-cr', ip);
        if (i < 48) ids.push(this.player(at + 500, c.brandId, ip, 'DE', c, { noFunnel: true }));
      }
      plant('conversion_rate', a, 'fr-cr', ids);
    }
    // 3. Bonus abuse: a deposit and the maximum bonus a day ago, no bet since; the withdrawal comes now.
    {
      const a = aff(FRAUD_RANKS.bonusAbuse);
      for (let i = 0; i < 3; i++) {
        const at = 0.3 * D + i * 2_000;
        const ip = dc(++dcn);
        const c = this.plantedClick(at, a, 'fr-bonus', ip);
        const player = this.player(at + 500, c.brandId, ip, 'DE', c, { noFunnel: true });
        const brand = this.p.brands.find((b) => b.id === c.brandId);
        const currency = brand?.currency ?? 'EUR';
        const dayAgo = this.o.startMs + at - 26 * HOUR;
        const base = { player_id: player };
        // Sent in order a second apart; their ts says they happened a day earlier.
        const late = (k: number, fields: Record<string, string | number | boolean>, ts?: number) => {
          const e = this.event(at + 500 + k * 1_000, c.brandId, 'money', fields);
          if (e && ts !== undefined) e.fields.ts = ts;
        };
        late(1, { ...base, type: 'deposit', amount: '100.00', currency }, dayAgo + 5 * 60_000);
        late(2, { ...base, type: 'bonus', action: 'granted', amount: '100.00', currency, bonus_id: `${player}-max`, max: true }, dayAgo + 10 * 60_000);
        late(3, { ...base, type: 'withdrawal', amount: '60.00', currency });
        plant('bonus_abuse', a, 'fr-bonus', [player]);
      }
    }
    // 4. Four chargebacks among twelve FTDs of one sub-ID (33% > 8%).
    {
      const a = aff(FRAUD_RANKS.chargebackRate);
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const at = 0.15 * D + i * 1_500;
        const ip = dc(++dcn);
        const c = this.plantedClick(at, a, 'fr-cb', ip);
        ids.push(this.player(at + 500, c.brandId, ip, 'DE', c, { ftdAmount: r.amount(20, 200), chargeback: i < 4, sub: 'fr-cb' }));
      }
      plant('chargeback_rate', a, 'fr-cb', ids);
    }
    // 5. A click flood: 36 clicks from one address on one link, then one on each of five more links, within 15 s
    //    of one calendar minute (fixed-window and sliding-window counting agree on it).
    {
      const a = aff(FRAUD_RANKS.clickFlood);
      const ip = dc(++dcn);
      const from = 0.25 * D;
      const boundary = Math.ceil((this.o.startMs + from) / 60_000) * 60_000 + 2_000 - this.o.startMs;
      const at0 = boundary + 15_000 < D ? boundary : from;
      for (let i = 0; i < 36; i++) this.plantedClick(at0 + i * 300, a, 'fr-flood', ip);
      for (let k = 0; k < FLOOD_EXTRA_LINKS; k++) this.plantedClick(at0 + 11_000 + k * 300, a, 'fr-flood', ip, a.links[this.p.brands.length + k]);
      plant('click_flood', a, 'fr-flood', []);
    }
    // 6. One device registering through three affiliates.
    {
      const device = `${this.p.tag}-shared-device`;
      const ids: string[] = [];
      for (const [k, rank] of FRAUD_RANKS.multiAccount.entries()) {
        const at = 0.35 * D + k * 2_000;
        const ip = dc(++dcn);
        const c = this.plantedClick(at, aff(rank), 'fr-multi', ip);
        ids.push(this.player(at + 500, c.brandId, ip, 'DE', c, { device, noFunnel: true }));
      }
      for (const rank of FRAUD_RANKS.multiAccount) plant('multi_account', aff(rank), 'fr-multi', ids);
    }
    // 7. Fourteen FTDs on one sub-ID, nine of exactly 50.00.
    {
      const a = aff(FRAUD_RANKS.ftdCluster);
      const ids: string[] = [];
      for (let i = 0; i < 14; i++) {
        const at = 0.4 * D + i * 1_000;
        const ip = dc(++dcn);
        const c = this.plantedClick(at, a, 'fr-amt', ip);
        ids.push(this.player(at + 500, c.brandId, ip, 'DE', c, { ftdAmount: i < 9 ? '50.00' : r.amount(20, 200), chargeback: false, sub: 'fr-amt' }));
      }
      plant('ftd_amount_cluster', a, 'fr-amt', ids);
    }
  }
}

/** `stake × k` as text with 2 decimals (k an integer: exact). */
function mulText(stake: string, k: number): string {
  const [w = '0', f = ''] = stake.split('.');
  const cents = (Number(w) * 100 + Number(f.padEnd(2, '0'))) * k;
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

/** A binary min-heap of actions on (at, generation order). */
class ActionHeap {
  private readonly items: { at: number; n: number; a: Action }[] = [];
  private n = 0;

  get size(): number {
    return this.items.length;
  }

  /** Due time of the earliest action (Infinity when empty). */
  peekAt(): number {
    return this.items[0]?.at ?? Infinity;
  }

  push(a: Action): void {
    const h = this.items;
    h.push({ at: a.at, n: this.n++, a });
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!less(h[i] as HeapItem, h[parent] as HeapItem)) break;
      [h[i], h[parent]] = [h[parent] as HeapItem, h[i] as HeapItem];
      i = parent;
    }
  }

  pop(): Action {
    const h = this.items;
    const top = h[0] as HeapItem;
    const last = h.pop() as HeapItem;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l] as HeapItem, h[m] as HeapItem)) m = l;
        if (r < h.length && less(h[r] as HeapItem, h[m] as HeapItem)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as HeapItem, h[i] as HeapItem];
        i = m;
      }
    }
    return top.a;
  }
}
type HeapItem = { at: number; n: number; a: Action };
const less = (x: HeapItem, y: HeapItem) => x.at < y.at || (x.at === y.at && x.n < y.n);

/** Visitors of the calibration pass. */
const PILOT_VISITORS = 5_000;

/**
 * Actions per visitor once funnels are under way (every funnel run to its end), measured on a
 * pilot of {@link PILOT_VISITORS} visitors drawn from another seed: the visitor rate that gives
 * `rate` actions/s in steady state. The first tens of seconds of a run are below it while the
 * first funnels fill up (the ramp shows in the run's chart).
 */
export function actionsPerVisitor(programme: Programme, options: TimelineOptions): number {
  const b = new Builder(programme, options, new Rng(options.seed + 1), Infinity);
  for (let i = 0; i < PILOT_VISITORS; i++) b.visitor(0);
  return b.generated / PILOT_VISITORS;
}

/**
 * Seconds of visitors before the run's start: a funnel takes up to ~30 s from click to the end of
 * its bets, so without them a run would start far below its rate and reach it half a minute in.
 * What they would have sent before the start is due at once (events keep their `ts`, in the past;
 * the driver sends that backlog first), and the run is at its rate from the start.
 */
export const WARMUP_S = 30;

/** The timeline of a run: planted fraud first in the queue, then visitors at a constant rate. */
export function createTimeline(programme: Programme, options: TimelineOptions): Timeline {
  const perVisitor = actionsPerVisitor(programme, options);
  const gap = 1000 / Math.max(0.01, options.rate / perVisitor);
  const end = options.durationS * 1000;
  const b = new Builder(programme, options, new Rng(options.seed), end);
  b.plantFraud();
  function* actions(): Generator<Action> {
    for (let at = -WARMUP_S * 1000 + b.rng.exp(gap); ; at += b.rng.exp(gap)) {
      const next = at < end ? at : Infinity;
      while (b.pending.size > 0 && b.pending.peekAt() <= next) yield b.pending.pop();
      if (next === Infinity) return;
      b.visitor(at);
    }
  }
  return { programme, options, actions: actions(), planted: b.planted };
}
