/**
 * One partition's ordered loop (docs/architecture.md, “One ordered input per partition”): every message of `ev.<p>`, in stream order,
 * routed to its actors; the effects come back as data for the host to carry out. Owns the
 * partition's actors, its position in the stream, the event-id memory that makes ingestion
 * idempotent (a (brand, event_id) already applied — or waiting in a player — is dropped), and the
 * attribution rules in force, which only a `rules` message in the stream changes.
 *
 * The actors are of the kinds of the registry (workers/runtime/actorKinds.ts). All of them —
 * players, affiliates' windows and pauses, identities, commission books — go with the partition's
 * own part (network totals, which forwarded batches were applied) into its snapshot
 * ({@link PartitionLoop.takeFraudSnapshot}): the actors changed since the last one, in one insert;
 * recovery resumes the stream from that version, so nothing is lost or counted twice. The
 * click-flood window is rebuilt from the raw log instead.
 */
import type { ClickBatch } from '../../schema/wire.ts';
import type { ClickResolution, EventBatch, ForwardedBatch, ForwardedItem, Lift, Tick } from '../../schema/eventWire.ts';
import type { FraudAlert, FraudPause, FraudRules } from '../../schema/fraud.ts';
import { partitionOf } from '../../schema/shard.ts';
import { rememberClick, type AffiliateContext, type AffiliateSettings, type NetworkTotals } from '../actors/affiliate.ts';
import type { BrandSettings, PlayerState } from '../actors/player.ts';
import { WindowTable, type WindowSnapshot } from '../fraud/windowTable.ts';
import { clickRow, type StreamPosition } from '../sink/clickRow.ts';
import { eventRow } from '../sink/eventRow.ts';
import { creditParts, creditRows, type CreditPart } from '../sink/creditRow.ts';
import { noRawRows, type AccrualRow, type FraudStateRow, type RawRows } from '../sink/tables.ts';
import { BUILTIN_RULES, ruleFor, type AttributionRules } from '../../schema/attributionRules.ts';
import type { TouchWindow } from '../actors/attribution.ts';
import type { CommissionContext, CommissionLine, CommissionMessage } from '../actors/commission.ts';
import type { CommandAnswer, CommandBatch, PostbackJob, RevenueBatch } from '../../schema/commissions.ts';
import { accrualRow, ledgerRow } from '../sink/commissionRow.ts';
import type { OutboxItem } from '../sink/outbox.ts';
import { CopyOnWriteSnapshot } from './copyOnWriteSnapshot.ts';
import { ACTOR_KINDS, isKind, KIND_NAMES, kindOfPrefix, type ActorEffect, type KindTypes, type PartitionEnv, type RegisteredKind } from './actorKinds.ts';

/** How long an event id is remembered (docs/protocol.md: duplicates are recognized for at least 7 days). */
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
  | { kind: 'lifted'; lift: Lift }
  | { kind: 'commands'; batch: CommandBatch }
  | { kind: 'revenue'; batch: RevenueBatch };

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
  /** Rows of the raw tables. */
  raw: RawRows;
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
  /** When the edge accepted each conversion (registration or deposit) applied, ms: the host observes how long it took. */
  conversions: number[];
  /** Running RevShare figures. */
  accruals: AccrualRow[];
  /** What goes out once the message's rows are committed: postbacks, answers to commands. */
  outbox: OutboxItem[];
}

/** Per-brand settings the actors read. */
export interface PartitionSettings {
  affiliate: AffiliateSettings;
  partitions: number;
  brand(brandId: string): BrandSettings;
  /** Plans, parents and brand settings of commissions (the pauses in force the loop knows itself). */
  commission: Omit<CommissionContext, 'pauseOf'>;
}

/** The partition's own part of its fraud state (JSON-safe), under the key ''. */
interface PartitionFraudSnapshot {
  network: Array<[string, WindowSnapshot]>;
  announced: Array<[string, NetworkTotals]>;
  forwardedFrom: Array<[number, number]>;
}

/** Where a click being counted sits on the stream: its row's position. */
type ClickAt = Omit<StreamPosition, 'partition'>;

/** The outbound postback of a line's change (docs/commissions.md, “Outbound postbacks”). */
function postbackJob(line: CommissionLine): PostbackJob {
  return {
    id: `${line.id}.${line.version}`, commissionId: line.id, version: line.version, brandId: line.brandId, affiliateId: line.affiliateId, playerId: line.playerId,
    kind: line.kind, status: line.status, event: line.reversalOf ? 'reversal' : line.kind, payout: line.amount, currency: line.currency,
    txid: line.sourceEventId || line.id, clickId: line.clickId, sub1: line.sub1, at: line.at,
  };
}

/** The output of a message before anything was applied. */
export function emptyOutput(): LoopOutput {
  return { raw: noRawRows(), creditParts: [], alerts: [], cleared: [], resolve: [], forwards: new Map(), duplicates: 0, conversions: [], accruals: [], outbox: [] };
}

/** The compiler names an effect type or message kind a switch forgot. */
function unhandled(x: never): never {
  throw new Error(`not handled: ${JSON.stringify(x)}`);
}

/** A partition's actors and stream position. */
export class PartitionLoop {
  /** The actors of each kind, by key. */
  readonly actors: { [K in RegisteredKind]: Map<string, KindTypes[K]['state']> } = { player: new Map(), affiliate: new Map(), identity: new Map(), commission: new Map() };
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
  /** `kind\u0000key` → the event time the actor wants the clock at (see `ActorKind.deadline`). */
  readonly deadlines = new Map<string, number>();
  /** Version of the last fraud-state snapshot taken. */
  private fraudSnapshotSeq = -1;
  /** Actors kept in the partition's snapshot (`<prefix>:<key>`) changed since the last one. */
  private fraudDirty = new Set<string>();
  /** The last fraud snapshot taken: its actors are serialized before they change again. */
  private fraudCapture: CopyOnWriteSnapshot<FraudStateRow> | undefined;
  /** Stream sequence of the last message applied (or already in ClickHouse at recovery). */
  lastSeq = 0;
  /** Attribution rules in force at `lastSeq`: a registration takes its brand's rule from here. */
  rules: AttributionRules = BUILTIN_RULES;
  /** Sequence of the `rules` message that put them in force (0: the built-in rules). */
  rulesSeq = 0;
  private readonly env: PartitionEnv;
  /** The click being counted, while its affiliate's effects are carried out. */
  private clickAt: ClickAt | undefined;
  /** Where the commands being applied are answered. */
  private replyTo: string | undefined;

  constructor(
    readonly partition: number,
    private readonly settings: PartitionSettings,
  ) {
    const affiliate: AffiliateContext = {
      settings: settings.affiliate,
      rules: (brandId) => this.fraudRules(brandId),
      network: (brandId) => this.announced.get(brandId) ?? null,
    };
    this.env = {
      brand: (brandId) => settings.brand(brandId),
      rule: (brandId) => ruleFor(this.rules, brandId),
      fraudRules: (brandId) => this.fraudRules(brandId),
      affiliate,
      commission: {
        ...settings.commission,
        pauseOf: (affiliateId, subId) => {
          const actions = this.actors.affiliate.get(affiliateId)?.fraud.actions;
          const a = (subId === null ? undefined : actions?.get(subId)) ?? actions?.get(null);
          return a ? { action: a.action, alertId: a.alertId } : null;
        },
      },
    };
  }

  /** The player actors, by `brand:player_id`. */
  get players(): Map<string, PlayerState> {
    return this.actors.player;
  }

  private fraudRules(brandId: string): FraudRules {
    return this.settings.brand(brandId).fraud;
  }

  /** The actor `key` of kind `kind`, activated on first use. */
  actor<K extends RegisteredKind>(kind: K, key: string): KindTypes[K]['state'] {
    const actors = this.actors[kind] as Map<string, KindTypes[K]['state']>;
    let a = actors.get(key);
    if (a === undefined) actors.set(key, (a = ACTOR_KINDS[kind].initial(key) as KindTypes[K]['state']));
    return a;
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
   * Every message of this partition up to stream sequence `seq` has been applied (its consumer
   * delivered them all, in order): the position moves there even when none of them was this
   * partition's, so snapshots and checkpoints say so and a restart does not replay from further back.
   */
  advanceTo(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq;
  }

  /**
   * Apply the message at stream sequence `seq`. Null when the message was applied before (a
   * redelivery, or already in ClickHouse at recovery).
   */
  apply(seq: number, input: PartitionInput): LoopOutput | null {
    if (seq <= this.lastSeq) return null;
    this.lastSeq = seq;
    const out = emptyOutput();
    switch (input.kind) {
      case 'clicks': {
        const b = input.batch;
        b.clicks.forEach((click, idx) => {
          const ipClicksPerMinute = this.floods.add(`${click.affiliateId}\u0000${click.ip}`, click.ts);
          this.clickAt = { seq, idx, edge: b.edge, batchSeq: b.seq };
          this.deliver('affiliate', click.affiliateId, { type: 'ClickRecorded', click, ipClicksPerMinute }, seq, out);
        });
        this.clickAt = undefined;
        break;
      }
      case 'events':
        this.forget(input.batch.receivedAt);
        for (const event of input.batch.events) {
          if (!this.rememberEvent(event.brandId, event.eventId, input.batch.receivedAt)) out.duplicates++;
          else this.deliver('player', `${event.brandId}:${event.playerId}`, { type: 'EventReceived', event }, seq, out);
        }
        break;
      case 'resolved':
        for (const r of input.items) this.deliver('player', r.playerKey, { type: 'ClickResolved', clickId: r.clickId, click: r.click, touches: r.touches }, seq, out);
        break;
      case 'rules':
        this.rules = input.rules;
        this.rulesSeq = seq;
        out.rules = input.rules;
        break;
      case 'forwarded':
        this.applyForwarded(seq, input.batch, out);
        break;
      case 'tick':
        this.applyTick(seq, input.tick, out);
        break;
      case 'lifted':
        this.deliver('affiliate', input.lift.affiliateId, { type: 'PauseLifted', subId: input.lift.subId, pauseId: input.lift.pauseId }, seq, out);
        break;
      case 'commands':
        this.answered(input.batch.replyTo, input.batch.items.map(({ affiliateId, command }) => [affiliateId, { type: 'CommandReceived', command }]), seq, out);
        break;
      case 'revenue':
        this.answered(input.batch.replyTo, input.batch.items.map(({ affiliateId, revenue }) => [affiliateId, { type: 'RevenueImported', revenue }]), seq, out);
        break;
      default:
        unhandled(input);
    }
    return out;
  }

  /**
   * Run the handler of actor `key` of kind `kind` on `msg` and carry out its effects. The actor,
   * about to change, is settled in the snapshot being written and marked for the next.
   */
  private deliver<K extends RegisteredKind>(kind: K, key: string, msg: KindTypes[K]['message'], seq: number, out: LoopOutput): void {
    const spec = ACTOR_KINDS[kind];
    this.changing(`${spec.prefix}:${key}`);
    const state = this.actor(kind, key);
    const effects = spec.handle(state as never, msg as never, this.env) as ActorEffect[];
    this.trackDeadline(kind, key, state);
    for (const e of effects) this.carryOut(e, state, seq, out);
  }

  /** Carry out one effect of an actor whose state is `state`. */
  private carryOut(e: ActorEffect, state: unknown, seq: number, out: LoopOutput): void {
    switch (e.type) {
      case 'ClickCounted': {
        if (e.unique) this.networkWindow(e.click.brandId).add('uniques', e.click.ts);
        out.raw.clicks.push(clickRow(e.click, e, { partition: this.partition, ...(this.clickAt as ClickAt) }));
        break;
      }
      case 'AlertRaised':
        out.alerts.push(e.alert);
        break;
      case 'PauseCleared':
        out.cleared.push(e.pause);
        break;
      case 'ResolveClick':
        out.resolve.push({ clickId: e.clickId, playerKey: e.playerKey, brandId: e.brandId, touches: e.touches });
        break;
      case 'Forward': {
        const to = partitionOf(e.key, this.settings.partitions);
        const item: ForwardedItem = { actor: e.actor, key: e.key, message: e.message as unknown as Record<string, unknown> };
        if (to === this.partition) {
          // Within the partition the message needs no trip through the stream: delivered now, as part
          // of the message that sent it, it is at the same place in every replay. (A stream written
          // before this sent such messages to itself: they are skipped as already applied.)
          this.forwardedFrom.set(this.partition, seq);
          this.receive(item, seq, out);
          break;
        }
        const list = out.forwards.get(to) ?? [];
        list.push(item);
        out.forwards.set(to, list);
        break;
      }
      case 'LineChanged':
        out.raw.commission_ledger.push(ledgerRow(e.line, { partition: this.partition, seq, idx: out.raw.commission_ledger.length }));
        out.outbox.push({ kind: 'postback', job: postbackJob(e.line) });
        break;
      case 'RevshareAccrued':
        out.accruals.push(accrualRow(e.accrual, seq));
        break;
      case 'CommandAnswered':
        if (this.replyTo) out.outbox.push({ kind: 'answer', replyTo: this.replyTo, body: { commandId: e.commandId, results: e.results } satisfies CommandAnswer });
        break;
      case 'EventApplied': {
        const p = state as PlayerState;
        out.raw.events.push(eventRow(e, p, { partition: this.partition, seq, idx: out.raw.events.length }));
        out.raw.attribution_credits.push(...creditRows(e, p, { partition: this.partition, seq, idx: out.raw.attribution_credits.length }));
        out.creditParts.push(...creditParts(e));
        const type = e.event.type;
        // Held for its click, a conversion is applied by a later message: its acceptance is what the partition remembered of it.
        const accepted = type === 'registration' || type === 'deposit' ? this.seenEvents.get(`${e.event.brandId}\u0000${e.event.eventId}`) : undefined;
        if (accepted !== undefined) out.conversions.push(accepted);
        break;
      }
      default:
        unhandled(e);
    }
  }

  /** Deliver `messages` (affiliate id → message) to commission actors whose answers go to `replyTo`. */
  private answered(replyTo: string, messages: Array<[string, CommissionMessage]>, seq: number, out: LoopOutput): void {
    this.replyTo = replyTo;
    for (const [affiliateId, msg] of messages) this.deliver('commission', affiliateId, msg, seq, out);
    this.replyTo = undefined;
  }

  /** An actor kept in the partition's snapshot is about to change: the snapshot being written takes it as it is now, and the next includes it. */
  private changing(key: string): void {
    this.fraudCapture?.settle(key);
    this.fraudDirty.add(key);
  }

  private applyForwarded(seq: number, b: ForwardedBatch, out: LoopOutput): void {
    const applied = this.forwardedFrom.get(b.from) ?? 0;
    if (b.fromSeq <= applied) return;
    this.forwardedFrom.set(b.from, b.fromSeq);
    for (const item of b.items) {
      // Sent again after a restart of the source, maybe in a batch cut differently.
      if ((item.seq ?? b.fromSeq) <= applied) continue;
      this.receive(item, seq, out);
    }
  }

  /**
   * Deliver at once what partition `from`'s actors sent this partition's while applying the message
   * at stream sequence `seq` (docs/architecture.md, “How a worker consumes”): the host does this for
   * partitions read through the same consumer, which meet every message in one global order, so the
   * delivery has the same place in every replay. Rows go into `out`, this partition's output for
   * that message; returns what this partition's actors send on, by target partition. Skipped when
   * the partition's state already includes `seq` (restored from a snapshot taken at or after it),
   * unless `seq` is this partition's own message being applied (`own`: what it sent came back to
   * it through another partition); a copy that an older worker sent through the stream is skipped
   * when it arrives.
   */
  deliverLocal(seq: number, from: number, items: readonly ForwardedItem[], out: LoopOutput, own = false): Map<number, ForwardedItem[]> {
    if (seq < this.lastSeq || (seq === this.lastSeq && !own)) return new Map();
    if (seq > (this.forwardedFrom.get(from) ?? 0)) this.forwardedFrom.set(from, seq);
    const outer = out.forwards;
    out.forwards = new Map();
    for (const item of items) this.receive(item, seq, out);
    const sent = out.forwards;
    out.forwards = outer;
    return sent;
  }

  /** Deliver a message another actor sent (from another partition, or from this one at once). */
  private receive(item: ForwardedItem, seq: number, out: LoopOutput): void {
    if (!isKind(item.actor)) throw new Error(`forwarded to unknown actor kind ${item.actor}`);
    if (item.actor === 'affiliate') {
      const msg = item.message as unknown as KindTypes['affiliate']['message'];
      if (msg.type === 'RegistrationAttributed') this.networkWindow(msg.reg.brandId).add('registrations', msg.reg.ts);
    }
    this.deliver(item.actor, item.key, item.message as never, seq, out);
  }

  private applyTick(seq: number, t: Tick, out: LoopOutput): void {
    for (const [brand, [registrations, uniqueClicks]] of Object.entries(t.network)) this.announced.set(brand, { registrations, uniqueClicks });
    for (const [id, deadline] of this.deadlines) {
      if (deadline > t.at) continue;
      const sep = id.indexOf('\u0000');
      const kind = id.slice(0, sep) as RegisteredKind;
      const msg = ACTOR_KINDS[kind].timePassed(t.at);
      if (msg) this.deliver(kind, id.slice(sep + 1), msg as never, seq, out);
    }
    for (const kind of KIND_NAMES) {
      const spec = ACTOR_KINDS[kind];
      for (const [key, s] of this.actors[kind] as Map<string, unknown>) {
        if (!spec.idle(s as never, t.at, this.env)) continue;
        this.changing(`${spec.prefix}:${key}`);
        this.actors[kind].delete(key);
        this.deadlines.delete(`${kind}\u0000${key}`);
      }
    }
  }

  /** The earliest deadline of the partition's actors (Infinity: none): the host ticks when it has passed. */
  nextDeadline(): number {
    let min = Infinity;
    for (const d of this.deadlines.values()) if (d < min) min = d;
    return min;
  }

  /** Keep the deadline index in step with an actor's state. */
  private trackDeadline<K extends RegisteredKind>(kind: K, key: string, state: KindTypes[K]['state']): void {
    const at = ACTOR_KINDS[kind].deadline(state as never);
    if (at === Infinity) this.deadlines.delete(`${kind}\u0000${key}`);
    else this.deadlines.set(`${kind}\u0000${key}`, at);
  }

  /**
   * The partition's snapshot at the current position, when the position moved since the last call
   * (else undefined): the partition's own part (always, so recovery never replays further back than
   * a flush), serialized at once, and the actors changed since, serialized later but as they are now
   * (see {@link CopyOnWriteSnapshot}). Written in one insert, the rows land together or not at all.
   */
  takeFraudSnapshot(): CopyOnWriteSnapshot<FraudStateRow> | undefined {
    if (this.fraudSnapshotSeq === this.lastSeq) return undefined;
    const seq = (this.fraudSnapshotSeq = this.lastSeq);
    this.fraudCapture?.rows();
    const keys = this.fraudDirty;
    this.fraudDirty = new Set();
    keys.add('');
    this.fraudCapture = new CopyOnWriteSnapshot(keys, (key) => ({ partition: this.partition, key, seq, state: this.snapshotOf(key) }));
    // The partition's own part changes with nearly every message.
    this.fraudCapture.settle('');
    return this.fraudCapture;
  }

  /** The snapshot text of a `fraud_state` key ('' for an actor that is gone). */
  private snapshotOf(key: string): string {
    if (key === '') {
      const own: PartitionFraudSnapshot = {
        network: [...this.network].map(([brand, w]) => [brand, w.snapshot()]),
        announced: [...this.announced],
        forwardedFrom: [...this.forwardedFrom],
      };
      return JSON.stringify(own);
    }
    const { kind, id } = this.splitKey(key);
    const actor = this.actors[kind].get(id);
    return actor === undefined ? '' : ACTOR_KINDS[kind].snapshot(actor as never);
  }

  private splitKey(key: string): { kind: RegisteredKind; id: string } {
    const colon = key.indexOf(':');
    const kind = kindOfPrefix(key.slice(0, colon));
    if (kind === undefined) throw new Error(`fraud_state key ${key} names no actor kind`);
    return { kind, id: key.slice(colon + 1) };
  }

  /** Restore one row of {@link takeFraudSnapshot} (the latest version of its key). */
  restoreFraud(key: string, state: string): void {
    if (state === '') return;
    if (key === '') {
      const own = JSON.parse(state) as PartitionFraudSnapshot;
      for (const [brand, w] of own.network) this.network.set(brand, WindowTable.restore(w));
      for (const [brand, t] of own.announced) this.announced.set(brand, t);
      for (const [p, seq] of own.forwardedFrom) this.forwardedFrom.set(p, seq);
      return;
    }
    const { kind, id } = this.splitKey(key);
    const restored = ACTOR_KINDS[kind].restore(id, state);
    (this.actors[kind] as Map<string, unknown>).set(id, restored);
    this.trackDeadline(kind, id, restored as never);
    // The events a player holds until its click is known are applied once: their ids are taken.
    if (kind === 'player') for (const e of (restored as PlayerState).pending) this.rememberEvent(e.brandId, e.eventId, e.ts);
  }

  /** A unique click counted before the resume point, rebuilt into its affiliate's unique-click memory. */
  restoreUniqueClick(affiliateId: string, day: number, code: string, ip: string): void {
    rememberClick(this.actor('affiliate', affiliateId), day, code, ip, this.settings.affiliate);
  }

  /** A click counted before the resume point, rebuilt into the click-flood window. */
  restoreFloodClick(affiliateId: string, ip: string, at: number): void {
    this.floods.add(`${affiliateId}\u0000${ip}`, at);
  }
}
