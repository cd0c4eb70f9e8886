/**
 * The identity actor: one per brand and shared identifier — `brand\u0000ip\u0000<ip>` or
 * `brand\u0000device\u0000<device_id>` — in the partition `shard(key)` picks. It sees every
 * attributed registration carrying that identifier, whatever the affiliate, which is the
 * network-wide view multi-accounting needs (rule 6, docs/fraud.md) without any per-event lookup: when
 * registrations of different affiliates share the identifier within the window, each player
 * involved is flagged, once.
 *
 * Deterministic: event time only.
 */
import { alertId, type FraudAlert, type FraudRules } from '../../schema/fraud.ts';
import type { Forward } from './forward.ts';
import type { CommissionMessage } from './commission.ts';

const HOUR_MS = 3_600_000;
/** Registrations remembered per identifier: enough to name the accounts of a farm, bounded. */
const MAX_SEEN = 32;

/** A registration that carried the identifier. */
export interface SeenRegistration {
  affiliateId: string;
  sub1: string;
  playerId: string;
  ts: number;
}

/** State of one identity actor. */
export interface IdentityState {
  key: string;
  brandId: string;
  kind: 'ip' | 'device';
  value: string;
  /** Newest last. */
  seen: SeenRegistration[];
  /** Players already flagged through this identifier. */
  flagged: string[];
}

/** An attributed registration carrying the identifier (named in full, so the actor can be created from it). */
export interface IdentityMessage {
  type: 'RegistrationShared';
  identifier: { brandId: string; kind: 'ip' | 'device'; value: string };
  reg: SeenRegistration & { eventId: string };
}

/** Effects, carried out by the host. */
export type IdentityEffect =
  | { type: 'AlertRaised'; alert: FraudAlert }
  /** The rule's action holds commission: the player's commission actor holds its lines (docs/commissions.md, “Holds”). */
  | Forward<'commission', CommissionMessage>;

/** The actor key of an identifier. */
export function identityKey(brandId: string, kind: 'ip' | 'device', value: string): string {
  return `${brandId}\u0000${kind}\u0000${value}`;
}

/** A fresh actor. */
export function initialIdentityState(brandId: string, kind: 'ip' | 'device', value: string): IdentityState {
  return { key: identityKey(brandId, kind, value), brandId, kind, value, seen: [], flagged: [] };
}

/** Event time after which the actor holds nothing worth keeping (the host evicts it then). */
export function idleAfter(s: IdentityState, rules: FraudRules): number {
  const last = s.seen[s.seen.length - 1];
  return last ? last.ts + rules.multiAccount.windowHours * HOUR_MS : 0;
}

/** Handle one message: update `state` in place, return the effects. */
export function handleIdentity(s: IdentityState, msg: IdentityMessage, rules: FraudRules): IdentityEffect[] {
  const rule = rules.multiAccount;
  const r = msg.reg;
  const windowMs = rule.windowHours * HOUR_MS;
  s.seen = s.seen.filter((x) => x.ts > r.ts - windowMs && x.playerId !== r.playerId);
  const others = s.seen.filter((x) => x.affiliateId !== r.affiliateId);
  s.seen.push({ affiliateId: r.affiliateId, sub1: r.sub1, playerId: r.playerId, ts: r.ts });
  if (s.seen.length > MAX_SEEN) s.seen.splice(0, s.seen.length - MAX_SEEN);
  if (!rule.enabled || others.length === 0) return [];
  const involved = [{ affiliateId: r.affiliateId, sub1: r.sub1, playerId: r.playerId }, ...others].filter((x) => !s.flagged.includes(x.playerId));
  const affiliates = [...new Set([r.affiliateId, ...others.map((x) => x.affiliateId)])].sort();
  const players = [r.playerId, ...others.map((x) => x.playerId)];
  return involved.flatMap((x): IdentityEffect[] => {
    s.flagged.push(x.playerId);
    const alert: FraudAlert = {
      id: alertId('multi_account', `${s.brandId}\u0000${x.playerId}`, r.eventId),
      ts: r.ts, brand_id: s.brandId, affiliate_id: x.affiliateId, sub_id: x.sub1, player_id: x.playerId,
      rule: 'multi_account', action: rule.action, score: Math.min(100, 50 + 10 * affiliates.length),
      evidence: { [s.kind]: s.value, affiliates, players, window_hours: rule.windowHours },
    };
    if (rule.action !== 'hold_commission') return [{ type: 'AlertRaised', alert }];
    const held: CommissionMessage = { type: 'PlayerHeld', brandId: s.brandId, playerId: x.playerId, alertId: alert.id, at: r.ts };
    return [{ type: 'AlertRaised', alert }, { type: 'Forward', actor: 'commission', key: x.affiliateId, message: held }];
  });
}
