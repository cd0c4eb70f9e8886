/**
 * Messages between actors (docs/architecture.md, “Actors”): an actor never calls another, it
 * returns a {@link Forward} effect naming the kind and key of the actor the message is for, and the
 * partition runtime delivers it through the target partition's ordered input.
 */

/** The actor kinds a partition runs, by name (workers/runtime/actorKinds.ts has one descriptor each). */
export type ActorKindName = 'player' | 'affiliate' | 'identity' | 'commission';

/** A message for the actor `key` of kind `actor`, wherever its partition is. */
export interface Forward<A extends ActorKindName = ActorKindName, M = unknown> {
  type: 'Forward';
  actor: A;
  key: string;
  message: M;
}
