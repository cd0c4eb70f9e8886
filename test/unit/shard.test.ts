import { describe, expect, it } from 'vitest';
import { hash32, partitionOf, shard, SHARD_COUNT } from '../../schema/shard.ts';

// Golden values: FNV-1a 32 over UTF-8, as published (isthe.com/chongo/tech/comp/fnv) and
// recomputed independently with a three-line Python reference.
const GOLDEN: Array<[string, number, number, number]> = [
  ['', 0x811c9dc5, 3525, 5],
  ['a', 0xe40c292c, 2348, 44],
  ['foobar', 0xbf9cf968, 2408, 40],
  ['aff1', 0x60ee5dfb, 3579, 59],
  ['affiliate-42', 0x9fd83afd, 2813, 61],
  ['ñandú', 0xb48f3ccb, 3275, 11],
];

describe('shard', () => {
  it.each(GOLDEN)('hash32(%j) and shard/partition (P=64) match the golden values', (key, hash, s, p) => {
    expect(hash32(key)).toBe(hash);
    expect(shard(key)).toBe(s);
    expect(partitionOf(key, 64)).toBe(p);
  });

  it('partition is shard mod P for every power of two', () => {
    for (const key of ['x', 'aff-7', 'brand:player-1']) {
      for (let P = 1; P <= SHARD_COUNT; P *= 2) expect(partitionOf(key, P)).toBe(shard(key) % P);
    }
  });

  it('spreads ids evenly over 64 partitions', () => {
    const counts = new Array(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[partitionOf(`aff-${i}`, 64)]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});
