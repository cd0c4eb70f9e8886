/**
 * The actor-kind registry: one descriptor per kind of actor a partition runs — how its key makes a
 * fresh state, how its handler is called, how it is snapshotted and restored, when it wants the
 * clock. The partition loop (workers/runtime/partition.ts) and recovery iterate it; a new kind is
 * its actor file plus one entry here.
 *
 * Every kind's actors are part of the partition's snapshot in `fraud_state`, all at the snapshot's
 * version, under `<prefix>:<key>` (docs/architecture.md, “Recovery”): a replay starts from that
 * version for every actor of the partition alike, which is what lets actors of partitions read
 * through one consumer be told things at once (workers/runtime/localDelivery.ts).
 */
import type { BrandRule } from '../../schema/attributionRules.ts';
import type { FraudRules } from '../../schema/fraud.ts';
import {
  fraudSnapshot, handleAffiliate, initialAffiliateState, restoreFraud,
  type AffiliateContext, type AffiliateEffect, type AffiliateFraudSnapshot, type AffiliateMessage, type AffiliateState,
} from '../actors/affiliate.ts';
import {
  commissionDeadline, handleCommission, initialCommissionState, restoreCommission, snapshotCommission,
  type CommissionContext, type CommissionEffect, type CommissionMessage, type CommissionState,
} from '../actors/commission.ts';
import type { ActorKindName } from '../actors/forward.ts';
import { handleIdentity, idleAfter, initialIdentityState, type IdentityEffect, type IdentityMessage, type IdentityState } from '../actors/identity.ts';
import { handlePlayer, initialPlayerState, type BrandSettings, type PlayerEffect, type PlayerMessage, type PlayerState } from '../actors/player.ts';

/** What handlers read besides their state and message: the partition's settings and its rules in force. */
export interface PartitionEnv {
  brand(brandId: string): BrandSettings;
  /** The attribution rule of the brand in force at this point of the partition's input. */
  rule(brandId: string): BrandRule;
  fraudRules(brandId: string): FraudRules;
  affiliate: AffiliateContext;
  commission: CommissionContext;
}

/** State, message and effect types of each kind. */
export interface KindTypes {
  player: { state: PlayerState; message: PlayerMessage; effect: PlayerEffect };
  affiliate: { state: AffiliateState; message: AffiliateMessage; effect: AffiliateEffect };
  identity: { state: IdentityState; message: IdentityMessage; effect: IdentityEffect };
  commission: { state: CommissionState; message: CommissionMessage; effect: CommissionEffect };
}

/** The kinds registered, by name. */
export type RegisteredKind = keyof KindTypes;

/** Every effect any registered kind returns. */
export type ActorEffect = KindTypes[RegisteredKind]['effect'];

/** Everything the runtime needs to know of one actor kind. */
export interface ActorKind<K extends RegisteredKind> {
  name: K;
  /** Prefix of its keys in `fraud_state`. */
  prefix: string;
  /** A fresh actor for `key`. */
  initial(key: string): KindTypes[K]['state'];
  handle(state: KindTypes[K]['state'], msg: KindTypes[K]['message'], env: PartitionEnv): Array<KindTypes[K]['effect']>;
  snapshot(state: KindTypes[K]['state']): string;
  restore(key: string, text: string): KindTypes[K]['state'];
  /** The event time at which the actor wants {@link ActorKind.timePassed} (Infinity: never). */
  deadline(state: KindTypes[K]['state']): number;
  /** The message telling an actor the clock reached `at`. */
  timePassed(at: number): KindTypes[K]['message'] | null;
  /** Whether, at `at`, the actor holds nothing worth keeping (the loop forgets it then). */
  idle(state: KindTypes[K]['state'], at: number, env: PartitionEnv): boolean;
}

const never = () => Infinity;
const keep = () => false;

/** The actor kinds, by name: every kind an actor may forward to ({@link ActorKindName}) is here, and only those. */
export const ACTOR_KINDS: { [K in RegisteredKind]: ActorKind<K> } & Record<ActorKindName, unknown> = {
  player: {
    name: 'player',
    prefix: 'p',
    // A player's key is `brand:player_id`; the player id may itself contain ':', a brand id cannot.
    initial: (key) => initialPlayerState(key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)),
    handle: (s, msg, env) => handlePlayer(s, msg, env.brand(s.brandId), env.rule(s.brandId)),
    snapshot: (s) => JSON.stringify(s),
    restore: (_key, text) => upgradePlayer(JSON.parse(text) as PlayerState),
    deadline: (s) => s.bonusWatch?.deadline ?? Infinity,
    timePassed: (at) => ({ type: 'TimePassed', at }),
    idle: keep,
  },
  affiliate: {
    name: 'affiliate',
    prefix: 'a',
    initial: (key) => initialAffiliateState(key),
    handle: (s, msg, env) => handleAffiliate(s, msg, env.affiliate),
    snapshot: (s) => JSON.stringify(fraudSnapshot(s.fraud)),
    // The unique-click memory is rebuilt from the raw log, not snapshotted.
    restore: (key, text) => ({ ...initialAffiliateState(key), fraud: restoreFraud(JSON.parse(text) as AffiliateFraudSnapshot) }),
    deadline: never,
    timePassed: () => null,
    idle: keep,
  },
  identity: {
    name: 'identity',
    prefix: 'i',
    initial: (key) => {
      const [brandId, kind, value] = key.split('\u0000') as [string, 'ip' | 'device', string];
      return initialIdentityState(brandId, kind, value);
    },
    handle: (s, msg, env) => handleIdentity(s, msg, env.fraudRules(s.brandId)),
    snapshot: (s) => JSON.stringify(s),
    restore: (_key, text) => JSON.parse(text) as IdentityState,
    deadline: never,
    timePassed: () => null,
    idle: (s, at, env) => idleAfter(s, env.fraudRules(s.brandId)) < at,
  },
  commission: {
    name: 'commission',
    prefix: 'c',
    initial: (key) => initialCommissionState(key),
    handle: (s, msg, env) => handleCommission(s, msg, env.commission),
    snapshot: (s) => JSON.stringify(snapshotCommission(s)),
    restore: (_key, text) => restoreCommission(JSON.parse(text)),
    deadline: commissionDeadline,
    timePassed: (at) => ({ type: 'TimePassed', at }),
    idle: keep,
  },
};

/** Registered kinds, in a fixed order (recovery and ticks walk them in it). */
export const KIND_NAMES = Object.keys(ACTOR_KINDS) as RegisteredKind[];

/** Whether `name` (from the wire) names a registered kind. */
export function isKind(name: string): name is RegisteredKind {
  return Object.hasOwn(ACTOR_KINDS, name);
}

/** The kind whose actors are kept in the partition's snapshot under `prefix`, if any. */
export function kindOfPrefix(prefix: string): RegisteredKind | undefined {
  return KIND_NAMES.find((k) => ACTOR_KINDS[k].prefix === prefix);
}

/** A snapshot written before the fraud engine existed gets its fields' neutral values. */
function upgradePlayer(s: PlayerState): PlayerState {
  s.registrationScore ??= 0;
  s.bonusWatch ??= null;
  s.hold ??= null;
  if (s.attribution) s.attribution.commissionable ??= s.attribution.attributed;
  return s;
}

