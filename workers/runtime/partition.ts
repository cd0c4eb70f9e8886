/**
 * One partition's ordered loop (DESIGN.md principle 2): every message of `ev.<p>`, in stream order,
 * routed to its actors; the effects come back as data for the host to carry out. Owns the
 * partition's actors, its position in the stream, the event-id memory that makes ingestion
 * idempotent (a (brand, event_id) already applied — or waiting in a player — is dropped), and the
 * attribution rules in force, which only a `rules` message in the stream changes.
 */
import type { ClickBatch } from '../../schema/wire.ts';
import type { ClickResolution, EventBatch } from '../../schema/eventWire.ts';
import { handleAffiliate, initialAffiliateState, type AffiliateSettings, type AffiliateState } from '../actors/affiliate.ts';
import { handlePlayer, initialPlayerState, type BrandSettings, type PlayerEffect, type PlayerMessage, type PlayerState } from '../actors/player.ts';
import { clickRow, type ClickRow } from '../sink/clickRow.ts';
import { eventRow, type EventRow } from '../sink/eventRow.ts';
import { creditParts, creditRows, type CreditPart, type CreditRow } from '../sink/creditRow.ts';
import { BUILTIN_RULES, ruleFor, type AttributionRules } from '../../schema/attributionRules.ts';
import type { TouchWindow } from '../actors/attribution.ts';

/** How long an event id is remembered (SPEC §5: at least 7 days). */
export const DEDUPE_WINDOW_MS = 8 * 86_400_000;

/** A decoded partition message. */
export type PartitionInput =
  | { kind: 'clicks'; batch: ClickBatch }
  | { kind: 'events'; batch: EventBatch }
  | { kind: 'resolved'; items: ClickResolution[] }
  | { kind: 'rules'; rules: AttributionRules };

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
  resolve: ResolveRequest[];
  /** Events dropped as already seen. */
  duplicates: number;
}

/** A partition's actors and stream position. */
export class PartitionLoop {
  readonly affiliates = new Map<string, AffiliateState>();
  readonly players = new Map<string, PlayerState>();
  /** Last message sequence applied to each player: its snapshot version. */
  readonly playerSeq = new Map<string, number>();
  /** Versions of the snapshots restored at recovery: replayed messages at or below are already in them. */
  readonly restoredSeq = new Map<string, number>();
  /** Players changed since the last snapshot. */
  readonly dirty = new Set<string>();
  /** `brand\u0000event_id` → when it was received, oldest first. */
  readonly seenEvents = new Map<string, number>();
  /** Stream sequence of the last message applied (or already in ClickHouse at recovery). */
  lastSeq = 0;
  /** Attribution rules in force at `lastSeq`: a registration takes its brand's rule from here. */
  rules: AttributionRules = BUILTIN_RULES;
  /** Sequence of the `rules` message that put them in force (0: the built-in rules). */
  rulesSeq = 0;

  constructor(
    readonly partition: number,
    private readonly settings: AffiliateSettings,
    private readonly brand: (brandId: string) => BrandSettings,
  ) {}

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

  /**
   * Apply the message at stream sequence `seq`. Null when the message was applied before (a
   * redelivery, or already in ClickHouse at recovery).
   */
  apply(seq: number, input: PartitionInput): LoopOutput | null {
    if (seq <= this.lastSeq) return null;
    this.lastSeq = seq;
    const out: LoopOutput = { clicks: [], events: [], credits: [], creditParts: [], resolve: [], duplicates: 0 };
    if (input.kind === 'clicks') {
      const b = input.batch;
      b.clicks.forEach((click, idx) => {
        for (const e of handleAffiliate(this.affiliate(click.affiliateId), { type: 'ClickRecorded', click }, this.settings)) {
          out.clicks.push(clickRow(e.click, e.unique, { partition: this.partition, seq, idx, edge: b.edge, batchSeq: b.seq }));
        }
      });
    } else if (input.kind === 'events') {
      this.forget(input.batch.receivedAt);
      input.batch.events.forEach((event) => {
        if (!this.rememberEvent(event.brandId, event.eventId, input.batch.receivedAt)) {
          out.duplicates++;
          return;
        }
        this.deliver(seq, this.player(event.brandId, event.playerId), { type: 'EventReceived', event }, out);
      });
    } else if (input.kind === 'resolved') {
      for (const r of input.items) {
        // The player id may itself contain ':'; the brand id (an id, SPEC §3) cannot.
        const playerId = r.playerKey.slice(r.brandId.length + 1);
        this.deliver(seq, this.player(r.brandId, playerId), { type: 'ClickResolved', clickId: r.clickId, click: r.click, touches: r.touches }, out);
      }
    } else {
      this.rules = input.rules;
      this.rulesSeq = seq;
      out.rules = input.rules;
    }
    return out;
  }

  /** Run a player's handler unless its snapshot already includes this message; collect the effects. */
  private deliver(seq: number, p: PlayerState, msg: PlayerMessage, out: LoopOutput): void {
    if ((this.restoredSeq.get(p.key) ?? 0) >= seq) return;
    const effects: PlayerEffect[] = handlePlayer(p, msg, this.brand(p.brandId), ruleFor(this.rules, p.brandId));
    this.dirty.add(p.key);
    this.playerSeq.set(p.key, seq);
    for (const e of effects) {
      if (e.type === 'ResolveClick') {
        out.resolve.push({ clickId: e.clickId, playerKey: e.playerKey, brandId: e.brandId, touches: e.touches });
        continue;
      }
      out.events.push(eventRow(e, p, { partition: this.partition, seq, idx: out.events.length }));
      out.credits.push(...creditRows(e, p, { partition: this.partition, seq, idx: out.credits.length }));
      out.creditParts.push(...creditParts(e));
    }
  }

  /** Snapshots of the players changed since the last call, and forget that they changed. */
  takeSnapshots(): Array<{ partition: number; player_key: string; seq: number; state: string }> {
    const rows = [...this.dirty].map((key) => ({ partition: this.partition, player_key: key, seq: this.playerSeq.get(key) ?? 0, state: JSON.stringify(this.players.get(key)) }));
    this.dirty.clear();
    return rows;
  }
}
