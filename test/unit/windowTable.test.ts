import { describe, expect, it } from 'vitest';
import { WindowTable } from '../../workers/fraud/windowTable.ts';

const B = 10_000;

describe('sliding-window table', () => {
  it('counts within the window ending at each event, per key', () => {
    const w = new WindowTable({ bucketMs: B, buckets: 6 });
    const t = 1_800_000_000_000;
    expect([w.add('a', t), w.add('a', t + B), w.add('b', t + B), w.add('a', t + 5 * B)]).toEqual([1, 2, 1, 3]);
    // Six buckets later the first one has left the window.
    expect(w.add('a', t + 6 * B)).toBe(3);
    expect(w.sum('a', t + 20 * B)).toBe(0);
    expect(w.sum('missing', t)).toBe(0);
  });

  it('late events inside the window count where they belong, also in the window they share with newer ones; older ones are ignored', () => {
    const w = new WindowTable({ bucketMs: B, buckets: 6 });
    const t = 1_800_000_000_000;
    w.add('a', t + 5 * B);
    expect(w.add('a', t + 2 * B)).toBe(2);
    expect(w.sum('a', t + 2 * B)).toBe(1);
    expect(w.sum('a', t + 5 * B)).toBe(2);
    expect(w.add('a', t - 3 * B)).toBe(0);
    expect(w.sum('a', t + 5 * B)).toBe(2);
  });

  it('sees a sixth event made before, and arriving after, one in the next bucket', () => {
    // A farm's six registrations, 20 ms apart across a bucket boundary, in the order their
    // forwards reached the affiliate actor: whichever arrives last sees all six.
    const w = new WindowTable({ bucketMs: 60_000, buckets: 10 });
    const edge = 1_800_000_040_000;
    const made = [edge - 100, edge - 80, edge - 60, edge - 40, edge + 20, edge - 20];
    expect(made.map((ts) => w.add('sub\u00001.2.3.4', ts))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('grows for many keys, drops idle ones when it rebuilds, and survives a snapshot', () => {
    const w = new WindowTable({ bucketMs: B, buckets: 6 });
    const t = 1_800_000_000_000;
    for (let i = 0; i < 10_000; i++) w.add(`ip-${i}`, t);
    expect(w.activeKeys).toBe(10_000);
    expect(w.sum('ip-1234', t)).toBe(1);
    // A minute later those keys are idle: new keys take their place without the table growing.
    const bytes = w.byteLength;
    for (let i = 0; i < 10_000; i++) w.add(`new-${i}`, t + 100 * B);
    expect(w.activeKeys).toBe(10_000);
    expect(w.byteLength).toBeLessThanOrEqual(bytes);
    const copy = WindowTable.restore(JSON.parse(JSON.stringify(w.snapshot())));
    expect(copy.sum('new-42', t + 100 * B)).toBe(1);
    expect(copy.add('new-42', t + 100 * B)).toBe(2);
    expect(copy.sum('ip-42', t + 100 * B)).toBe(0);
  });
});
