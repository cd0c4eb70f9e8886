import { describe, expect, it } from 'vitest';
import { isClickId, newClickId, shardOfClickId, timeOfClickId } from '../../schema/clickId.ts';

const CANONICAL_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('click id', () => {
  it('is a canonical RFC 9562 UUIDv7 carrying the shard in rand_a', () => {
    for (const s of [0, 1, 255, 256, 2348, 4095]) {
      const id = newClickId(s, 1_795_000_000_123);
      expect(id).toMatch(CANONICAL_V7);
      expect(isClickId(id)).toBe(true);
      expect(shardOfClickId(id)).toBe(s);
      expect(timeOfClickId(id)).toBe(1_795_000_000_123);
    }
  });

  it('sorts by time and never repeats', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => newClickId(7, 1_795_000_000_000 + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 100; i < ids.length; i += 100) expect((ids[i - 100] as string) < (ids[i] as string)).toBe(true);
  });

  it('rejects what is not a click id', () => {
    for (const bad of ['', 'x', '01a1fb40-0efa-48a7-b23e-632c6d65b1ce', '01A1FB40-0EFA-78A7-B23E-632C6D65B1CE', `${newClickId(1)}x`]) {
      expect(isClickId(bad)).toBe(false);
      expect(shardOfClickId(bad)).toBe(-1);
    }
  });
});
