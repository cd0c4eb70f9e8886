/**
 * One partition's ordered loop (DESIGN.md principle 2): every message of `ev.<p>`, in stream order,
 * routed to its actors; the effects come back as data for the host to carry out. Owns the
 * partition's actors, its position in the stream, the event-id memory that makes ingestion
 * idempotent (a (brand, event_id) already applied — or waiting in a player — is dropped), and the
 * attribution rules in force, which only a `rules` message in the stream changes.
 *
 * The fraud state of the partition (affiliate actors' windows and pauses, identity actors, network
 * totals, which forwarded batches were applied) is snapshotted with a flush every few seconds
 * ({@link PartitionLoop.takeFraudSnapshot}): the actors changed since the last one, and the
 * partition's own part, in one insert; recovery resumes the stream from that version, so windows
 * are neither lost nor counted twice. The click-flood window is rebuilt from the raw log instead.
 */
import type { ClickBatch } from '../../schema/wire.ts';
import type { ClickResolution, EventBatch, ForwardedBatch, ForwardedItem, Lift, Tick } from '../../schema/eventWire.ts';
import type { FraudAlert, FraudPause, FraudRules } from '../../schema/fraud.ts';
import { partitionOf } from '../../schema/shard.ts';
import {
  fraudSnapshot, handleAffiliate, initialAffiliateState, restoreFraud,
  type AffiliateContext, type AffiliateEffect, type AffiliateFraudSnapshot, type AffiliateMessage, type AffiliateSettings, type AffiliateState, type NetworkTotals,
} from '../actors/affiliate.ts';
import { handleIdentity, idleAfter, initialIdentityState, type IdentityMessage, type IdentityState } from '../actors/identity.ts';
import { handlePlayer, initialPlayerState, type BrandSettings, type PlayerEffect, type PlayerMessage, type PlayerState } from '../actors/player.ts';
import { WindowTable, type WindowSnapshot } from '../fraud/windowTable.ts';
import { clickRow, type ClickRow } from '../sink/clickRow.ts';
import { eventRow, type EventRow } from '../sink/eventRow.ts';
import { creditParts, creditRows, type CreditPart, type CreditRow } from '../sink/creditRow.ts';
import { BUILTIN_RULES, ruleFor, type AttributionRules } from '../../schema/attributionRules.ts';
import type { TouchWindow } from '../actors/attribution.ts';
import { CopyOnWriteSnapshot } from './copyOnWriteSnapshot.ts';
import type { SnapshotRow } from '../sink/clickhouseSink.ts';

/** How long an event id is remembered (SPEC §5: at least 7 days). */
export const DEDUPE_WINDOW_MS = 8 * 86_400_000;

/** The click-flood window: one minute in 10-second buckets. */
const FLOOD_SHAPE = { bucketMs: 10_000, buckets: 6 };
const HOUR_MS = 3_600_000;

/** A decoded partition message. */
export type PartitionInput =
  | { kind: 'clicks'; batch: ClickBatch }
  | { kind: 'events'; batch: EventBatch }
  | { kind: 'resolved'; items: ClickResolution[] }
  | { kind: 'rules'; rules: AttributionRules }
  | { kind: 'forwarded'; batch: ForwardedBatch }
  | { kind: 'tick'; tick: Tick }
  | { kind: 'lifted'; lift: Lift };

/** A click to resolve for a waiting player. */
export interface ResolveRequest {
  clickId: string;
  playerKey: string;
  brandId: string;
  /** Also fetch the visitor's touches in this window (multi-touch and first click rules). */
  touches: TouchWindow | null;
}

/** What applying one message produced. */
export interface LoopOutput {
  clicks: ClickRow[];
  events: EventRow[];
  credits: CreditRow[];
  creditParts: CreditPart[];
  /** The rules this message put in force, if it was a `rules` message. */
  rules?: AttributionRules;
  /** Alerts raised (rows, KV pauses and the alert subject are the host's to write). */
  alerts: FraudAlert[];
  /** Pauses an operator lifted, to remove from the fraud bucket (again, after a replay). */
  cleared: Array<Pick<FraudPause, 'affiliate_id' | 'sub_id' | 'action'>>;
  resolve: ResolveRequest[];
  /** Messages for actors of other partitions (or this one), by target partition. */
  forwards: Map<number, ForwardedItem[]>;
  /** Events dropped as already seen. */
  duplicates: number;
}

/** Per-brand settings the actors read. */
export interface PartitionSettings {
  affiliate: AffiliateSettings;
  partitions: number;
  brand(brandId: string): BrandSettings;
}

/** The partition's own part of its fraud state (JSON-safe), under the key ''. */
interface PartitionFraudSnapshot {
  network: Array<[string, WindowSnapshot]>;
  announced: Array<[string, NetworkTotals]>;
  forwardedFrom: Array<[number, number]>;
}

/** A row of `fraud_state`: key '' is the partition's part; `a:<affiliate>` and `i:<identity>` are actors ('' state: gone). */
export interface FraudStateRow {
  partition: number;
  key: string;
  seq: number;
  state: string;
}

/** A partition's actors and stream position. */
export class PartitionLoop {
  readonly affiliates = new Map<string, AffiliateState>();
  readonly players = new Map<string, PlayerState>();
  readonly identities = new Map<string, IdentityState>();
  /** Last message sequence applied to each player: its snapshot version. */
  readonly playerSeq = new Map<string, number>();
  /** Versions of the snapshots restored at recovery: replayed messages at or below are already in them. */
  readonly restoredSeq = new Map<string, number>();
  /** Players changed since the last snapshot. */
  readonly dirty = new Set<string>();
  /** The last player snapshot taken: its players are serialized before they change again. */
  private playerCapture: CopyOnWriteSnapshot<SnapshotRow> | undefined;
  /** `brand\u0000event_id` → when it was received, oldest first. */
  readonly seenEvents = new Map<string, number>();
  /** Clicks per affiliate and IP in the last minute (rebuilt from the raw log at recovery, not snapshotted). */
  readonly floods = new WindowTable(FLOOD_SHAPE, 1024);
  /** Per brand: this partition's registrations and unique clicks in the brand's conversion window. */
  readonly network = new Map<string, WindowTable>();
  /** Network totals per brand as last announced by a tick (the conversion-rate rule compares with them). */
  readonly announced = new Map<string, NetworkTotals>();
  /** Source partition → sequence of the last forwarded batch applied from it. */
  readonly forwardedFrom = new Map<number, number>();
  /** Player key → bonus-abuse deadline, for ticks. */
  readonly timers = new Map<string, number>();
  /** Version of the last fraud-state snapshot taken. */
  private fraudSnapshotSeq = -1;
  /** Fraud actors (`a:<affiliate>`, `i:<identity>`) changed since the last snapshot. */
  private fraudDirty = new Set<string>();
  /** The last fraud snapshot taken: its actors are serialized before they change again. */
  private fraudCapture: CopyOnWriteSnapshot<FraudStateRow> | undefined;
  /** Stream sequence of the last message applied (or already in ClickHouse at recovery). */
  lastSeq = 0;
  /** Attribution rules in force at `lastSeq`: a registration takes its brand's rule from here. */
  rules: AttributionRules = BUILTIN_RULES;
  /** Sequence of the `rules` message that put them in force (0: the built-in rules). */
  rulesSeq = 0;
  private readonly ctx: AffiliateContext;

  constructor(
    readonly partition: number,
    private readonly settings: PartitionSettings,
  ) {
    this.ctx = {
      settings: settings.affiliate,
      rules: (brandId) => this.fraudRules(brandId),
      network: (brandId) => this.announced.get(brandId) ?? null,
    };
  }

  private fraudRules(brandId: string): FraudRules {
    return this.settings.brand(brandId).fraud;
  }

  /** The affiliate actor for `id`, activated on first use. */
  affiliate(id: string): AffiliateState {
    let a = this.affiliates.get(id);
    if (!a) this.affiliates.set(id, (a = initialAffiliateState(id)));
    return a;
  }

  /** The player actor for `brand:player`, activated on first use. */
  player(brandId: string, playerId: string): PlayerState {
    const key = `${brandId}:${playerId}`;
    let p = this.players.get(key);
    if (!p) this.players.set(key, (p = initialPlayerState(brandId, playerId)));
    return p;
  }

  /** Remember an event id (recovery uses this too). */
  rememberEvent(brandId: string, eventId: string, at: number): boolean {
    const k = `${brandId}\u0000${eventId}`;
    if (this.seenEvents.has(k)) return false;
    this.seenEvents.set(k, at);
    return true;
  }

  private forget(now: number): void {
    for (const [k, at] of this.seenEvents) {
      if (at >= now - DEDUPE_WINDOW_MS) break;
      this.seenEvents.delete(k);
    }
  }

  /** The brand's network window of this partition. */
  private networkWindow(brandId: string): WindowTable {
    const hours = this.fraudRules(brandId).conversionRate.windowHours;
    let w = this.network.get(brandId);
    if (!w || w.windowMs !== hours * HOUR_MS) this.network.set(brandId, (w = new WindowTable({ bucketMs: hours * HOUR_MS / 24, buckets: 24 }, 8)));
    return w;
  }

  /** Per brand, this partition's [registrations, unique clicks] in the conversion window ending at `now`. */
  networkTotals(now: number): Map<string, [number, number]> {
    return new Map([...this.network].map(([brand, w]) => [brand, [w.sum('registrations', now), w.sum('uniques', now)]]));
  }

  /**
   * Apply the message at stream sequence `seq`. Null when the message was applied before (a
   * redelivery, or already in ClickHouse at recovery).
   */
  apply(seq: number, input: PartitionInput): LoopOutput | null {
    if (seq <= this.lastSeq) return null;
    this.lastSeq = seq;
    const out: LoopOutput = { clicks: [], events: [], credits: [], creditParts: [], alerts: [], cleared: [], resolve: [], forwards: new Map(), duplicates: 0 };
    switch (input.kind) {
      case 'clicks': {
        const b = input.batch;
        b.clicks.forEach((click, idx) => {
          const ipClicksPerMinute = this.floods.add(`${click.affiliateId}\u0000${click.ip}`, click.ts);
          for (const e of this.toAffiliate(click.affiliateId, { type: 'ClickRecorded', click, ipClicksPerMinute }, out)) {
            if (e.type !== 'ClickCounted') continue;
            if (e.unique) this.networkWindow(click.brandId).add('uniques', click.ts);
            out.clicks.push(clickRow(e.click, e, { partition: this.partition, seq, idx, edge: b.edge, batchSeq: b.seq }));
          }
        });
        break;
      }
      case 'events':
        this.forget(input.batch.receivedAt);
        for (const event of input.batch.events) {
          if (!this.rememberEvent(event.brandId, event.eventId, input.batch.receivedAt)) out.duplicates++;
          else this.deliver(seq, this.player(event.brandId, event.playerId), { type: 'EventReceived', event }, out);
        }
        break;
      case 'resolved':
        for (const r of input.items) {
          // The player id may itself contain ':'; the brand id (an id, SPEC §3) cannot.
          const playerId = r.playerKey.slice(r.brandId.length + 1);
          this.deliver(seq, this.player(r.brandId, playerId), { type: 'ClickResolved', clickId: r.clickId, click: r.click, touches: r.touches }, out);
        }
        break;
      case 'rules':
        this.rules = input.rules;
        this.rulesSeq = seq;
        out.rules = input.rules;
        break;
      case 'forwarded':
        this.applyForwarded(input.batch, out);
        break;
      case 'tick':
        this.applyTick(seq, input.tick, out);
        break;
      case 'lifted':
        this.toAffiliate(input.lift.affiliateId, { type: 'PauseLifted', subId: input.lift.subId, pauseId: input.lift.pauseId }, out);
        break;
    }
    return out;
  }

  /**
   * A fraud actor (`a:<affiliate>`, `i:<identity>`) is about to change: the snapshot being written
   * takes it as it is now, and the next snapshot will include it.
   */
  private changingFraud(key: string): void {
    this.fraudCapture?.settle(key);
    this.fraudDirty.add(key);
  }

  private toAffiliate(affiliateId: string, msg: AffiliateMessage, out: LoopOutput): AffiliateEffect[] {
    this.changingFraud(`a:${affiliateId}`);
    const effects = handleAffiliate(this.affiliate(affiliateId), msg, this.ctx);
    for (const e of effects) {
      if (e.type === 'AlertRaised') out.alerts.push(e.alert);
      else if (e.type === 'PauseCleared') out.cleared.push(e.pause);
    }
    return effects;
  }

  private applyForwarded(b: ForwardedBatch, out: LoopOutput): void {
    if (b.fromSeq <= (this.forwardedFrom.get(b.from) ?? 0)) return;
    this.forwardedFrom.set(b.from, b.fromSeq);
    for (const item of b.items) {
      if (item.actor === 'affiliate') {
        const msg = item.message as unknown as AffiliateMessage;
        if (msg.type === 'RegistrationAttributed') this.networkWindow(msg.reg.brandId).add('registrations', msg.reg.ts);
        this.toAffiliate(item.key, msg, out);
      } else {
        const msg = item.message as unknown as IdentityMessage;
        const id = msg.identifier;
        this.changingFraud(`i:${item.key}`);
        let s = this.identities.get(item.key);
        if (!s) this.identities.set(item.key, (s = initialIdentityState(id.brandId, id.kind, id.value)));
        for (const e of handleIdentity(s, msg, this.fraudRules(s.brandId))) out.alerts.push(e.alert);
      }
    }
  }

  private applyTick(seq: number, t: Tick, out: LoopOutput): void {
    for (const [brand, [registrations, uniqueClicks]] of Object.entries(t.network)) this.announced.set(brand, { registrations, uniqueClicks });
    for (const [key, deadline] of this.timers) {
      if (deadline > t.at) continue;
      const p = this.players.get(key);
      if (p) this.deliver(seq, p, { type: 'TimePassed', at: t.at }, out);
    }
    for (const [key, s] of this.identities) {
      if (idleAfter(s, this.fraudRules(s.brandId)) >= t.at) continue;
      this.changingFraud(`i:${key}`);
      this.identities.delete(key);
    }
  }

  /** The earliest bonus-abuse deadline of the partition (Infinity: none): the host ticks when it has passed. */
  nextDeadline(): number {
    let min = Infinity;
    for (const d of this.timers.values()) if (d < min) min = d;
    return min;
  }

  /** Run a player's handler unless its snapshot already includes this message; collect the effects. */
  private deliver(seq: number, p: PlayerState, msg: PlayerMessage, out: LoopOutput): void {
    if ((this.restoredSeq.get(p.key) ?? 0) >= seq) return;
    this.playerCapture?.settle(p.key);
    const effects: PlayerEffect[] = handlePlayer(p, msg, this.settings.brand(p.brandId), ruleFor(this.rules, p.brandId));
    this.dirty.add(p.key);
    this.playerSeq.set(p.key, seq);
    this.trackTimer(p);
    for (const e of effects) {
      if (e.type === 'ResolveClick') out.resolve.push({ clickId: e.clickId, playerKey: e.playerKey, brandId: e.brandId, touches: e.touches });
      else if (e.type === 'AlertRaised') out.alerts.push(e.alert);
      else if (e.type === 'Forward') {
        const to = partitionOf(e.key, this.settings.partitions);
        const list = out.forwards.get(to) ?? [];
        list.push({ actor: e.actor, key: e.key, message: e.message as unknown as Record<string, unknown> });
        out.forwards.set(to, list);
      } else {
        out.events.push(eventRow(e, p, { partition: this.partition, seq, idx: out.events.length }));
        out.credits.push(...creditRows(e, p, { partition: this.partition, seq, idx: out.credits.length }));
        out.creditParts.push(...creditParts(e));
      }
    }
  }

  /** Keep the timer index in step with a player's bonus-abuse watch. */
  trackTimer(p: PlayerState): void {
    if (p.bonusWatch) this.timers.set(p.key, p.bonusWatch.deadline);
    else this.timers.delete(p.key);
  }

  /**
   * Snapshot the players changed since the last call, and forget that they changed. Each is
   * serialized later, but as it is now (see {@link CopyOnWriteSnapshot}).
   */
  takeSnapshots(): CopyOnWriteSnapshot<SnapshotRow> {
    // The previous snapshot's players would otherwise be settled forever: finish it first.
    this.playerCapture?.rows();
    const versions = new Map([...this.dirty].map((key) => [key, this.playerSeq.get(key) ?? 0]));
    this.dirty.clear();
    this.playerCapture = new CopyOnWriteSnapshot(new Set(versions.keys()), (key) => ({
      partition: this.partition, player_key: key, seq: versions.get(key) as number, state: JSON.stringify(this.players.get(key)),
    }));
    return this.playerCapture;
  }

  /**
   * The fraud state at the current position, when the position moved since the last call (else
   * undefined): the partition's part (always, so recovery never replays further back than a
   * flush), serialized at once, and the actors changed since, serialized later but as they are now
   * (see {@link CopyOnWriteSnapshot}). Written in one insert, the rows land together or not at all.
   */
  takeFraudSnapshot(): CopyOnWriteSnapshot<FraudStateRow> | undefined {
    if (this.fraudSnapshotSeq === this.lastSeq) return undefined;
    const seq = (this.fraudSnapshotSeq = this.lastSeq);
    this.fraudCapture?.rows();
    const keys = this.fraudDirty;
    this.fraudDirty = new Set();
    keys.add('');
    this.fraudCapture = new CopyOnWriteSnapshot(keys, (key) => ({ partition: this.partition, key, seq, state: this.fraudStateOf(key) }));
    // The partition's own part changes with nearly every message.
    this.fraudCapture.settle('');
    return this.fraudCapture;
  }

  /** The snapshot text of a fraud-state key ('' for an actor that is gone). */
  private fraudStateOf(key: string): string {
    if (key === '') {
      const own: PartitionFraudSnapshot = {
        network: [...this.network].map(([brand, w]) => [brand, w.snapshot()]),
        announced: [...this.announced],
        forwardedFrom: [...this.forwardedFrom],
      };
      return JSON.stringify(own);
    }
    const id = key.slice(2);
    if (key.startsWith('a:')) {
      const actor = this.affiliates.get(id)?.fraud;
      return actor === undefined ? '' : JSON.stringify(fraudSnapshot(actor));
    }
    const actor = this.identities.get(id);
    return actor === undefined ? '' : JSON.stringify(actor);
  }

  /** Restore one row of {@link takeFraudSnapshot} (the latest version of its key). */
  restoreFraud(key: string, state: string): void {
    if (state === '') return;
    if (key === '') {
      const own = JSON.parse(state) as PartitionFraudSnapshot;
      for (const [brand, w] of own.network) this.network.set(brand, WindowTable.restore(w));
      for (const [brand, t] of own.announced) this.announced.set(brand, t);
      for (const [p, seq] of own.forwardedFrom) this.forwardedFrom.set(p, seq);
    } else if (key.startsWith('a:')) {
      this.affiliate(key.slice(2)).fraud = restoreFraud(JSON.parse(state) as AffiliateFraudSnapshot);
    } else {
      const s = JSON.parse(state) as IdentityState;
      this.identities.set(s.key, s);
    }
  }
}
