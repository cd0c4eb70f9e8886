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

  /** Serialize up to `count` waiting actors; returns how many. */
  step(count: number): number {
    let n = 0;
    for (const key of this.waiting) {
      if (n === count) break;
      this.settle(key);
      n++;
    }
    return n;
  }

  /** Every row, serializing the actors still waiting. */
  rows(): R[] {
    this.step(Infinity);
    return this.done;
  }
}

/**
 * Actors serialized per turn of the event loop: about half a millisecond of work for players (a
 * player's text is around a kilobyte), short enough for the partitions' messages to keep moving.
 */
const ACTORS_PER_SLICE = 32;

/** Serialize `snapshots` in slices, one per turn of the event loop, until none is left. */
export function serializeInSlices(snapshots: ReadonlyArray<CopyOnWriteSnapshot<unknown>>): void {
  const slice = (): void => {
    let budget = ACTORS_PER_SLICE;
    for (const s of snapshots) if (budget > 0) budget -= s.step(budget);
    if (snapshots.some((s) => s.left > 0)) setImmediate(slice);
  };
  setImmediate(slice);
}
