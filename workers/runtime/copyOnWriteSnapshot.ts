/**
 * A snapshot taken in an instant and serialized later (copy on write).
 *
 * A flush snapshots the actors changed since the previous one at the moment it takes the queue, so
 * that the snapshots match the messages it writes. Serializing them all in that moment was one
 * synchronous step of the worker's loop per flush — 10–108 ms for the players at 1,000 events/s
 * (bench fraud), 6–15 ms for a partition's fraud state — during which no message of any partition
 * moved. Taking a snapshot now only records which actors; each is serialized in a later slice
 * ({@link serializeInSlices}), or just before its next change if that comes first
 * ({@link CopyOnWriteSnapshot.settle}, which the partition loop calls before it changes an
 * actor), or when the flush reaches the snapshot's table ({@link CopyOnWriteSnapshot.rows}). The
 * text is the same in every case: the actor as it was when the snapshot was taken.
 */

/** The rows of one snapshot, by actor key. */
export class CopyOnWriteSnapshot<R> {
  private readonly done: R[] = [];

  /**
   * @param waiting keys of the actors in the snapshot (taken over: the snapshot removes them as they are serialized)
   * @param serialize an actor's row, from its current state
   */
  constructor(
    private readonly waiting: Set<string>,
    private readonly serialize: (key: string) => R,
  ) {}

  /** Actors not serialized yet. */
  get left(): number {
    return this.waiting.size;
  }

  /** Serialize `key` now if it still waits: its actor is about to change. */
  settle(key: string): void {
    if (this.waiting.delete(key)) this.done.push(this.serialize(key));
  }

  /** Serialize waiting actors until `deadline` (a `performance.now()` time) has passed or none is left. */
  serializeUntil(deadline: number): void {
    // One pass over the set: a fresh iteration per actor would walk past the deleted ones again.
    for (const key of this.waiting) {
      this.settle(key);
      if (performance.now() >= deadline) return;
    }
  }

  /** Every row, serializing the actors still waiting. */
  rows(): R[] {
    this.serializeUntil(Infinity);
    return this.done;
  }
}

/**
 * How long one slice serializes, ms. Bounded by time, not by count: a player is about a kilobyte
 * of text, an affiliate whose sub-IDs are per click can be a megabyte; 32 actors per slice, as first
 * built, still made 35–42 ms slices out of affiliates under bench fraud.
 */
const SLICE_MS = 2;

/** Serialize `snapshots` in slices, one per turn of the event loop, until none is left. */
export function serializeInSlices(snapshots: ReadonlyArray<CopyOnWriteSnapshot<unknown>>): void {
  const slice = (): void => {
    const until = performance.now() + SLICE_MS;
    for (const s of snapshots) if (performance.now() < until) s.serializeUntil(until);
    if (snapshots.some((s) => s.left > 0)) setImmediate(slice);
  };
  setImmediate(slice);
}
