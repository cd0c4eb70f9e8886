import { describe, expect, it } from 'vitest';
import { TsvEncoder, tsvValue } from '../../workers/sink/tsv.ts';

describe('TabSeparated lines', () => {
  it('escapes backslash, tab, newline and carriage return, and nothing else', () => {
    expect(tsvValue('plain ascii, "quoted" and Zoë 🎰')).toBe('plain ascii, "quoted" and Zoë 🎰');
    expect(tsvValue('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(tsvValue('{"k":"say \\"hi\\""}')).toBe('{"k":"say \\\\"hi\\\\""}');
    expect(tsvValue('')).toBe('');
  });

  it('takes its columns from the first row and reads later rows by name, whatever their key order', () => {
    const tsv = new TsvEncoder('clicks');
    expect(tsv.columns).toBeUndefined();
    expect(() => tsv.insertQuery()).toThrow(/clicks: no row encoded/);
    expect(tsv.line({ partition: 3, amount: '-12.5000', ua: 'x\ty' })).toBe('3\t-12.5000\tx\\ty');
    expect(tsv.line({ ua: '', amount: '0.0000', partition: 0 })).toBe('0\t0.0000\t');
    expect(tsv.columns).toEqual(['partition', 'amount', 'ua']);
    expect(tsv.insertQuery()).toBe('INSERT INTO clicks (partition, amount, ua) FORMAT TabSeparated');
  });

  it('refuses a row that lacks a column or holds a value that is neither text nor a number', () => {
    const tsv = new TsvEncoder('events');
    tsv.line({ a: 1, b: 'x' });
    expect(() => tsv.line({ a: 1 })).toThrow('events: column b is missing in a row');
    expect(() => tsv.line({ a: 1n, b: 'x' })).toThrow('events: column a is bigint in a row');
    expect(() => tsv.line({ a: 1, b: null })).toThrow('events: column b is object in a row');
  });
});
