import { describe, expect, it } from 'vitest';
import { multiply, normalizeMoney, parseMoney, splitByWeights, storable, toCents, toDecimalText, UNIT } from '../../schema/money.ts';

describe('money', () => {
  it('parses decimal text and JSON numbers exactly', () => {
    expect(parseMoney('50')).toBe(500_000n);
    expect(parseMoney('50.1')).toBe(501_000n);
    expect(parseMoney(' 0.0001 ')).toBe(1n);
    expect(parseMoney('-12.3456')).toBe(-123_456n);
    expect(parseMoney(50.1)).toBe(501_000n);
    expect(parseMoney(0.3)).toBe(3_000n);
    expect(parseMoney('999999999999999.9999')).toBe(9_999_999_999_999_999_999n);
  });

  it('rejects what is not an exact amount of at most 4 decimals', () => {
    for (const bad of ['', '1.23456', '1e3', '1,5', 'abc', '--1', '.5', '1.', 1e21, Number.NaN, Infinity, null, undefined, {}, '1234567890123456']) {
      expect(parseMoney(bad)).toBeUndefined();
    }
  });

  it('normalizes to 4-place text exactly as parsing and formatting do, for ugly inputs too', () => {
    const inputs: unknown[] = [
      '0', '-0', '-0.0', '00', '007.5', '0.0001', '25.50', ' 25.5 ', '\t1\n', '-1.2345', '999999999999999.9999', '1000000000000000', '1234567890123456',
      '1.', '.5', '-', '', ' ', '1.23456', '1e3', '+1', '1,000', '١٢', '0x10', '1.2.3', '--1', '1 2', 'NaN', 'Infinity',
      0, -0, 0.1, 25.5, 1e-7, 1e21, 123456789012345.6, -3, NaN, Infinity, null, undefined, true, {}, [], 10n,
    ];
    for (let i = 0; i < 2000; i++) inputs.push(`${i % 3 === 0 ? '-' : ''}${'0'.repeat(i % 4)}${(i * 7919) % 100000}${i % 5 ? `.${String(i).slice(0, i % 6)}` : ''}`);
    for (const v of inputs) {
      const m = parseMoney(v);
      expect(normalizeMoney(v), String(v)).toBe(m === undefined ? undefined : toDecimalText(m));
    }
  });

  it('sums without drift: 0.1 ten thousand times is 1000', () => {
    let total = 0n;
    for (let i = 0; i < 10_000; i++) total += parseMoney('0.1') as bigint;
    expect(toDecimalText(total)).toBe('1000.0000');
    let float = 0;
    for (let i = 0; i < 10_000; i++) float += 0.1;
    expect(float).not.toBe(1000);
  });

  it('formats and rounds explicitly', () => {
    expect(toDecimalText(-1n)).toBe('-0.0001');
    expect(toDecimalText(123n * UNIT)).toBe('123.0000');
    expect(toCents(parseMoney('10.005') as bigint)).toBe('10.01');
    expect(toCents(parseMoney('-10.005') as bigint)).toBe('-10.01');
    expect(toCents(parseMoney('-0.0040') as bigint)).toBe('0.00');
    expect(toDecimalText(multiply(parseMoney('100') as bigint, parseMoney('1.0837') as bigint))).toBe('108.3700');
    expect(toDecimalText(multiply(parseMoney('0.0003') as bigint, parseMoney('0.5') as bigint))).toBe('0.0002');
    expect(toDecimalText(multiply(parseMoney('-0.0003') as bigint, parseMoney('0.5') as bigint))).toBe('-0.0002');
  });

  it('splits an amount by weights exactly: largest remainder at 0.0001, ties to the later part, losses as gains', () => {
    expect(splitByWeights(1_000_001n, [4000, 2000, 4000])).toEqual([400_000n, 200_000n, 400_001n]);
    expect(splitByWeights(7n, [4000, 2000, 4000])).toEqual([3n, 1n, 3n]);
    expect(splitByWeights(-7n, [4000, 2000, 4000])).toEqual([-3n, -1n, -3n]);
    expect(splitByWeights(1n, [5000, 5000])).toEqual([0n, 1n]);
    expect(splitByWeights(0n, [1, 2])).toEqual([0n, 0n]);
    expect(splitByWeights(5n, [10_000])).toEqual([5n]);
    expect(() => splitByWeights(5n, [0, 0])).toThrow(RangeError);
    for (let i = 0; i < 500; i++) {
      const a = BigInt(Math.floor(Math.random() * 2e9) - 1e9);
      const w = Array.from({ length: 1 + (i % 20) }, () => Math.floor(Math.random() * 1000));
      w[0] = (w[0] as number) + 1;
      const parts = splitByWeights(a, w);
      expect(parts.reduce((s, p) => s + p, 0n)).toBe(a);
      // No part is more than one unit from its exact share.
      const total = BigInt(w.reduce((s, x) => s + x, 0));
      parts.forEach((p, k) => {
        const exact = a * BigInt(w[k] as number);
        const diff = p * total - exact;
        expect(diff < 0n ? -diff : diff).toBeLessThan(total);
      });
    }
  });

  it('tells the amounts storage holds with their sums: at most 12 integer digits', () => {
    expect(storable('999999999999.9999')).toBe(true);
    expect(storable('-999999999999.9999')).toBe(true);
    expect(storable('0.0001')).toBe(true);
    expect(storable('1000000000000.0000')).toBe(false);
    expect(storable('-1000000000000.0000')).toBe(false);
    expect(storable(normalizeMoney('000999999999999') as string)).toBe(true);
    expect(storable(normalizeMoney('001000000000000') as string)).toBe(false);
    expect(storable(normalizeMoney(' 0000123 ') as string)).toBe(true);
  });
});
