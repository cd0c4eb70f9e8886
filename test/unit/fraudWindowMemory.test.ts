/**
 * Memory per tracked IP of the fraud windows (docs/fraud.md): at most 200 bytes with one million
 * distinct IPs in the largest per-IP windows. Counted from the tables' own arrays, which is exact
 * and does not depend on the machine; the benchmark harness cannot see inside a worker, so the
 * figure is held here.
 */
import { describe, expect, it } from 'vitest';
import { WindowTable, type WindowShape } from '../../workers/fraud/windowTable.ts';

const IPS = 1_000_000;
const MAX_BYTES_PER_IP = 200;

function bytesPerIp(shape: WindowShape): number {
  const table = new WindowTable(shape);
  const t0 = 1_800_000_000_000;
  for (let i = 0; i < IPS; i++) table.add(`aff-1\u0000${(i >>> 24) & 255}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, t0 + (i % shape.bucketMs));
  expect(table.activeKeys).toBe(IPS);
  return table.byteLength / IPS;
}

describe('fraud windows, one million IPs', () => {
  it('click flood (1 min in 6 buckets of 10 s) holds them in at most 200 B per IP', () => {
    expect(bytesPerIp({ bucketMs: 10_000, buckets: 6 })).toBeLessThanOrEqual(MAX_BYTES_PER_IP);
  });

  it('registrations per IP (10 min in 10 buckets of 1 min) holds them in at most 200 B per IP', () => {
    expect(bytesPerIp({ bucketMs: 60_000, buckets: 10 })).toBeLessThanOrEqual(MAX_BYTES_PER_IP);
  });
});
