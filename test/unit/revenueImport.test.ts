/**
 * The revenue import without servers: which lines a file's reader and the line checker take and
 * refuse, and why — the awkward ones of real platform exports (BOM, CRLF, quoted commas, JSON
 * numbers, five decimals, missing and negative figures, days that are not days) — the import's id,
 * and the summary as printed.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatRevenueSummary } from '../../cli/commands/importRevenue.ts';
import { csvBatches, fileBatches, jsonlBatches, type FileLine } from '../../schema/fileLines.ts';
import { revenueImportId, revenueLineParser } from '../../node/revenue/import.ts';
import type { MergedImportSummary } from '../../node/revenue/merge.ts';

const TODAY = '2026-11-30';
const check = revenueLineParser(TODAY);
const ok = { ggr: '10', bonuses: '2.5', ngr: '7.5' };

/** Every line of a file read through `reader` then checked: its row or its refusal, by line. */
async function checked(reader: (input: Readable) => AsyncGenerator<FileLine[]>, text: string | Buffer[]) {
  const out: unknown[] = [];
  for await (const batch of reader(Readable.from(typeof text === 'string' ? [Buffer.from(text)] : text))) {
    for (const l of batch) {
      if (!('record' in l)) out.push(l);
      else {
        const r = check(l.record);
        out.push('code' in r ? { line: l.line, ...r } : { line: l.line, row: r });
      }
    }
  }
  return out;
}

const row = (playerId: string, day: string, ggr: string, bonuses: string, ngr: string, rest: Partial<Record<'stakes' | 'wins' | 'deposits', string>> = {}) => ({
  playerId, day, ggr, bonuses, ngr, stakes: rest.stakes ?? '0.0000', wins: rest.wins ?? '0.0000', deposits: rest.deposits ?? '0.0000',
});

describe('revenue lines', () => {
  it('takes exact decimals up to 4 places, as text or JSON numbers, and leaves optional figures at 0', () => {
    expect(check({ player_id: 'p-1', day: '2026-11-02', ggr: '-12.5', bonuses: '0', ngr: '-12.5000', deposits: '100' })).toEqual(row('p-1', '2026-11-02', '-12.5000', '0.0000', '-12.5000', { deposits: '100.0000' }));
    expect(check({ player_id: 42, day: '2026-11-02', ggr: 1.1, bonuses: 0.0001, ngr: 1.0999, stakes: 3, wins: 1.9 })).toEqual(
      row('42', '2026-11-02', '1.1000', '0.0001', '1.0999', { stakes: '3.0000', wins: '1.9000' }),
    );
    expect(check({ player_id: 'p', day: TODAY, ...ok, extra: 'ignored' })).toEqual(row('p', TODAY, '10.0000', '2.5000', '7.5000'));
  });

  it('refuses each bad line with a reason naming the field and the value', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ day: '2026-11-02', ...ok }, 'missing_field', 'player_id is required'],
      [{ player_id: 'p', ...ok }, 'missing_field', 'day is required'],
      [{ player_id: 'p', day: '2026-11-02', ggr: '1', bonuses: '0' }, 'missing_field', 'ngr is required'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, ggr: '1.23456' }, 'invalid_field', 'ggr must be a decimal with at most 4 places, got "1.23456"'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, bonuses: 'ten' }, 'invalid_field', 'bonuses must be a decimal with at most 4 places, got "ten"'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, ngr: '1e3' }, 'invalid_field', 'ngr must be a decimal with at most 4 places, got "1e3"'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, ngr: '1,5' }, 'invalid_field', 'ngr must be a decimal with at most 4 places, got "1,5"'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, ggr: 0.00001 }, 'invalid_field', 'ggr must be a decimal with at most 4 places, got 0.00001'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, stakes: '-1' }, 'invalid_field', 'stakes must not be negative, got "-1"'],
      [{ player_id: 'p', day: '2026-11-02', ...ok, deposits: '1234567890123456' }, 'invalid_field', 'deposits must be a decimal with at most 4 places, got "1234567890123456"'],
      [{ player_id: 'p', day: '2026-02-30', ...ok }, 'invalid_field', 'day 2026-02-30 is not a calendar day'],
      [{ player_id: 'p', day: '2026-12-01', ...ok }, 'invalid_field', "day 2026-12-01 is out of range (2000-01-01 to today, 2026-11-30, in the brand's time zone)"],
      [{ player_id: 'p', day: '1999-12-31', ...ok }, 'invalid_field', "day 1999-12-31 is out of range (2000-01-01 to today, 2026-11-30, in the brand's time zone)"],
      [{ player_id: 'p', day: '2026-11-02T00:00:00Z', ...ok }, 'invalid_field', 'day must be a date YYYY-MM-DD, got "2026-11-02T00:00:00Z"'],
      [{ player_id: 'p', day: 20261102, ...ok }, 'invalid_field', 'day must be a date YYYY-MM-DD, got 20261102'],
      [{ player_id: 'p q', day: '2026-11-02', ...ok }, 'invalid_field', 'player_id must be 1–128 printable ASCII characters without spaces'],
      [{ player_id: 2 ** 53, day: '2026-11-02', ...ok }, 'invalid_field', 'player_id must be 1–128 printable ASCII characters without spaces'],
    ];
    for (const [record, code, message] of cases) expect(check(record), JSON.stringify(record)).toEqual({ code, message });
    expect(check(['p', '2026-11-02'])).toEqual({ code: 'invalid_field', message: 'a line must be an object' });
  });

  it('checks a day against the today it was made for, even once the day was seen good', () => {
    const earlier = revenueLineParser('2026-11-01');
    expect(check({ player_id: 'p', day: '2026-11-02', ...ok })).toHaveProperty('day', '2026-11-02');
    expect(earlier({ player_id: 'p', day: '2026-11-02', ...ok })).toHaveProperty('code', 'invalid_field');
  });
});

describe('revenue files', () => {
  it('CSV: BOM, CRLF, quoted commas and quotes, empty optional cells, short records and bad figures by line', async () => {
    const csv = [
      '\uFEFFplayer_id,day,ggr,bonuses,ngr,stakes,wins,deposits',
      '"p,1",2026-11-02,"1,5",0,1.5,,,',
      '"p ""2""",2026-11-02,10,1,9,,,',
      'p3,2026-11-02,10.00001,1,9,,,',
      '',
      'p4,2026-11-02,10',
      'p5,2026-11-03,-3.25,0.75,-4,12,8.75,50',
      '"p,6",2026-11-03,1,0,1,,,',
    ].join('\r\n');
    expect(await checked(csvBatches, csv)).toEqual([
      { line: 2, code: 'invalid_field', message: 'ggr must be a decimal with at most 4 places, got "1,5"' },
      { line: 3, code: 'invalid_field', message: 'player_id must be 1–128 printable ASCII characters without spaces' },
      { line: 4, code: 'invalid_field', message: 'ggr must be a decimal with at most 4 places, got "10.00001"' },
      { line: 6, code: 'invalid_csv', message: 'Invalid Record Length: columns length is 8, got 3 on line 6' },
      { line: 7, row: row('p5', '2026-11-03', '-3.2500', '0.7500', '-4.0000', { stakes: '12.0000', wins: '8.7500', deposits: '50.0000' }) },
      { line: 8, row: row('p,6', '2026-11-03', '1.0000', '0.0000', '1.0000') },
    ]);
  });

  it('CSV: a header without a required column refuses every line, by line; an unclosed quote is unreadable', async () => {
    expect(await checked(csvBatches, 'player_id,day,ggr,ngr\np1,2026-11-02,1,1\np2,2026-11-02,1,1\n')).toEqual([
      { line: 2, code: 'missing_field', message: 'bonuses is required' },
      { line: 3, code: 'missing_field', message: 'bonuses is required' },
    ]);
    const out = await checked(csvBatches, 'player_id,day,ggr,bonuses,ngr\np1,2026-11-02,1,0,1\n"p2,2026-11-02,1,0,1\n');
    expect(out[0]).toEqual({ line: 2, row: row('p1', '2026-11-02', '1.0000', '0.0000', '1.0000') });
    expect(out.slice(1)).toEqual([expect.objectContaining({ code: 'invalid_csv' })]);
  });

  it('JSONL: BOM, CRLF, blank lines, a line split across chunks inside a multi-byte character, bad JSON by line', async () => {
    const text = '\uFEFF{"player_id":"zoë","day":"2026-11-02","ggr":"1","bonuses":"0","ngr":1}\r\n\r\n{"player_id":\n{"player_id":"p2","day":"2026-11-02","ggr":"1.00005","bonuses":0,"ngr":1}';
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(Buffer.from('ë')) + 1;
    expect(await checked(jsonlBatches, [bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual([
      { line: 1, code: 'invalid_field', message: 'player_id must be 1–128 printable ASCII characters without spaces' },
      { line: 3, code: 'invalid_json', message: 'not a JSON value' },
      { line: 4, code: 'invalid_field', message: 'ggr must be a decimal with at most 4 places, got "1.00005"' },
    ]);
    const good = await checked((input) => fileBatches(input, 'jsonl'), '{"player_id":"p1","day":"2026-11-02","ggr":"1","bonuses":"0","ngr":"1"}\n');
    expect(good).toEqual([{ line: 1, row: row('p1', '2026-11-02', '1.0000', '0.0000', '1.0000') }]);
  });

  it('reads a file of many chunks in batches, every line numbered once and in order', async () => {
    const lines = Array.from({ length: 5_000 }, (_, i) => `p${i},2026-11-02,${i}.5,0,${i}.5`);
    const text = `player_id,day,ggr,bonuses,ngr\n${lines.join('\n')}\n`;
    const chunks = Array.from({ length: Math.ceil(text.length / 777) }, (_, i) => Buffer.from(text.slice(i * 777, (i + 1) * 777)));
    const seen: number[] = [];
    let batches = 0;
    for await (const batch of csvBatches(Readable.from(chunks))) {
      batches++;
      for (const l of batch) seen.push(l.line);
    }
    expect(seen).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 2));
    expect(batches).toBeGreaterThan(1);
    expect(batches).toBeLessThan(5_000);
  });
});

describe('revenue imports', () => {
  it('an import id is the same for the same brand and file, and differs for another brand or file', () => {
    const sha = 'ab'.repeat(32);
    expect(revenueImportId('casino', sha)).toBe(revenueImportId('casino', sha.toUpperCase()));
    expect(revenueImportId('casino', sha)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(revenueImportId('other', sha)).not.toBe(revenueImportId('casino', sha));
    expect(revenueImportId('casino', 'cd'.repeat(32))).not.toBe(revenueImportId('casino', sha));
  });

  it('prints the summary: figures, listed rejections, the count of the rest, the imports it replaces, the merge', () => {
    const s: MergedImportSummary = {
      importId: 'i-2', brandId: 'casino', fileName: 'r.csv', sha256: 'ab'.repeat(32), duplicate: false, timezone: 'Europe/Malta',
      startedAt: '2026-11-30T10:00:00.000Z', finishedAt: '2026-11-30T10:00:09.000Z',
      lines: 1_200_000, rows: 1_199_000, players: 40_000, days: 30, firstDay: '2026-10-01', lastDay: '2026-10-30', rejected: 1_000,
      rejections: [{ line: 7, code: 'invalid_field', message: 'ggr must be a decimal with at most 4 places, got "x"' }],
      superseded: [{ importId: 'i-1', days: 2 }],
      merge: {
        days: ['2026-10-01', '2026-10-29'], notOver: ['2026-10-30'], affiliates: 3, applied: true,
        lines: [{ commissionId: 'c-1', ok: true, status: 'pending' }, { commissionId: 'c-2', ok: false, error: { code: 'not_found', message: 'no line c-2' } }],
      },
    };
    expect(formatRevenueSummary('r.csv', s)).toBe(
      [
        'r.csv: imported as i-2 for brand casino',
        '  1,200,000 lines, 1,199,000 rows, 40,000 players, 30 days (2026-10-01 to 2026-10-30, Europe/Malta), 1,000 rejected',
        '  line 7: invalid_field: ggr must be a decimal with at most 4 places, got "x"',
        '  … and 999 more rejected lines',
        '  replaces import i-1 on 2 days',
        '  merged 2 days (2026-10-01 to 2026-10-29): 3 affiliates told, 2 adjustment lines',
        '  line c-1: pending',
        '  line c-2: refused: no line c-2',
        '  1 day not over yet (2026-10-30): not merged; import the same file again when over',
        '',
      ].join('\n'),
    );
    expect(formatRevenueSummary('r.csv', { ...s, duplicate: true, rejected: 0, rejections: [], superseded: [] }).split('\n')[0]).toBe(
      'r.csv: already imported as i-2 (finished 2026-11-30T10:00:09.000Z): its rows are unchanged',
    );
    const many = Array.from({ length: 25 }, (_, i) => ({ commissionId: `c-${i}`, ok: true, status: 'pending' as const }));
    const listed = formatRevenueSummary('r.csv', { ...s, merge: { days: ['2026-10-01'], notOver: [], affiliates: 25, applied: false, lines: many } }).split('\n');
    expect(listed.filter((l) => l.startsWith('  line c-'))).toHaveLength(20);
    expect(listed.slice(-3)).toEqual([
      '  … and 5 more lines (--json lists them all)',
      '  not every commission actor answered in time: the figures are queued and will apply',
      '',
    ]);
    const failed = formatRevenueSummary('r.csv', { ...s, merge: { error: { code: 'unavailable', message: 'import i-2 is done but …' } } }).split('\n');
    expect(failed.slice(-2)).toEqual(['  merge failed: unavailable: import i-2 is done but …', '']);
  });
});
