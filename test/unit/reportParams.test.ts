import { describe, expect, it } from 'vitest';
import { bindParameters, checkParams, formatRows } from '../../schema/reports/index.ts';
import { AffstreamError } from '../../schema/errors.ts';

describe('report parameters', () => {
  it('binds typed literals, escaping strings', () => {
    const sql = bindParameters('SELECT {brand:String}, {from:Date}, {brand:String}', { brand: "o'b\\r", from: '2026-11-20' });
    expect(sql).toBe("SELECT 'o\\'b\\\\r', toDate('2026-11-20'), 'o\\'b\\\\r'");
  });

  it('rejects bad values with invalid_parameter naming the parameter', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ from: '2026-13-01', to: '2026-13-02' }, /^from/],
      [{ from: '2026-11-20', to: '2026-11-19' }, /^to/],
      [{ from: '2026-11-20', to: '2026-11-20', tz: 'Mars/Base' }, /^tz/],
      [{ from: '2026-11-20', to: '2026-11-20', brand: "x' OR 1=1 --" }, /^brand/],
      [{ from: '2026-11-20', to: '2026-11-20', affiliate: 'a b' }, /^affiliate/],
    ];
    for (const [p, msg] of cases) {
      try {
        checkParams(p);
        throw new Error('accepted');
      } catch (err) {
        expect(err).toBeInstanceOf(AffstreamError);
        expect((err as AffstreamError).code).toBe('invalid_parameter');
        expect((err as AffstreamError).message).toMatch(msg);
      }
    }
    expect(checkParams({ from: '2026-11-20', to: '2026-11-21', tz: 'Europe/Malta' })).toEqual({ from: '2026-11-20', to: '2026-11-21', tz: 'Europe/Malta', brand: '', affiliate: '' });
  });

  it('formats CSV and tables', () => {
    const rows = [{ day: '2026-11-20', brand_id: 'b,1', clicks: 10 }, { day: '2026-11-21', brand_id: 'b"2', clicks: 7 }];
    expect(formatRows(rows, 'csv')).toBe('day,brand_id,clicks\n2026-11-20,"b,1",10\n2026-11-21,"b""2",7\n');
    expect(formatRows(rows, 'table')).toBe('day         brand_id  clicks\n2026-11-20  b,1           10\n2026-11-21  b"2            7\n');
  });
});
