/**
 * The player snapshots of one flush, taken in an instant and serialized later (copy on write).
 *
 * A flush snapshots every player changed since the previous one, at the moment it takes the queue,
 * so that the snapshots match the messages it writes. Serializing them all in that moment was one
 * synchronous step of 10–108 ms per flush at 1,000 events/s (bench fraud), during which no message
 * of any partition moved. Now taking a snapshot only records which players and at which version;
 * each player is serialized in a later slice ({@link PlayerSnapshots.step}), or just before its
 * next change if that comes first ({@link PlayerSnapshots.settle}), or when the flush reaches the
 * `player_state` table ({@link PlayerSnapshots.rows}). The text is the same in every case: the
 * player's state as of the snapshot.
 */
import type { PlayerState } from '../actors/player.ts';
import type { SnapshotRow } from '../sink/clickhouseSink.ts';

/** One partition's player snapshots for one flush. */
export class PlayerSnapshots {
  private readonly done: SnapshotRow[] = [];
  /** Player key → version, of the players not serialized yet. */
  private readonly waiting: Map<string, number>;

  /**
   * @param versions the players to snapshot (by key) and the sequence of the last message each has applied
   * @param players the partition's player actors, read when each is serialized
   */
  constructor(
    private readonly partition: number,
    versions: Map<string, number>,
    private readonly players: ReadonlyMap<string, PlayerState>,
  ) {
    this.waiting = versions;
  }

  /** Players not serialized yet. */
  get left(): number {
    return this.waiting.size;
  }

  /** Serialize `key` now if it still waits: its player is about to change. */
  settle(key: string): void {
    const seq = this.waiting.get(key);
    if (seq !== undefined) this.serialize(key, seq);
  }

  /** Serialize up to `count` waiting players; returns how many. */
  step(count: number): number {
    let n = 0;
    for (const [key, seq] of this.waiting) {
      if (n >= count) break;
      this.serialize(key, seq);
      n++;
    }
    return n;
  }

  /** Every row, serializing the players still waiting. */
  rows(): SnapshotRow[] {
    this.step(Infinity);
    return this.done;
  }

  private serialize(key: string, seq: number): void {
    this.waiting.delete(key);
    this.done.push({ partition: this.partition, player_key: key, seq, state: JSON.stringify(this.players.get(key)) });
  }
}

/**
 * Players serialized per turn of the event loop: about half a millisecond of work (a player's text
 * is around a kilobyte), short enough for the partitions' messages to keep moving in between.
 */
const PLAYERS_PER_SLICE = 32;

/** Serialize `snapshots` in slices, one per turn of the event loop, until none is left. */
export function serializeInSlices(snapshots: readonly PlayerSnapshots[]): void {
  const slice = (): void => {
    let budget = PLAYERS_PER_SLICE;
    for (const s of snapshots) if (budget > 0) budget -= s.step(budget);
    if (snapshots.some((s) => s.left > 0)) setImmediate(slice);
  };
  setImmediate(slice);
}
