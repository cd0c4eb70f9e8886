import { describe, expect, it } from 'vitest';
import { CopyOnWriteSnapshot, serializeInSlices } from '../../workers/runtime/copyOnWriteSnapshot.ts';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('copy-on-write snapshot', () => {
  it('serializes each actor once, as it was when the snapshot was taken', () => {
    const state = new Map([['a', 1], ['b', 2], ['c', 3]]);
    const s = new CopyOnWriteSnapshot(new Set(state.keys()), (key) => `${key}=${state.get(key)}`);
    // 'b' is about to change: its old value is kept first.
    s.settle('b');
    state.set('b', 20);
    s.settle('b');
    state.set('c', 30);
    expect(s.left).toBe(2);
    expect(s.rows()).toEqual(['b=2', 'a=1', 'c=30']);
    expect(s.left).toBe(0);
  });

  it('serializes in slices of the event loop until every snapshot is done', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    // 1 ms per actor: 10 ms of work, at most about 2 ms per turn.
    const snapshots = [0, 1].map((n) => new CopyOnWriteSnapshot(new Set(keys), (key) => (busy(1), `${n}:${key}`)));
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    serializeInSlices(snapshots);
    expect(snapshots.every((s) => s.left === keys.length)).toBe(true);
    while (snapshots.some((s) => s.left > 0)) await new Promise((r) => setTimeout(r, 1));
    clearInterval(counting);
    expect(turns).toBeGreaterThan(2);
    expect(snapshots.map((s) => s.rows().length)).toEqual([10, 10]);
  });
});
