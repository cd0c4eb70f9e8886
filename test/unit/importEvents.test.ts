/**
 * `affstream import events` without a cluster: batches stay within the edge's limits to the
 * byte, rejections come back as line numbers, and a batch the edge cannot take stops the import
 * with what was done so far.
 */
import { Readable } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../cli/command.ts';
import { importEvents, type BatchAnswer } from '../../cli/commands/import.ts';
import { csvLines, jsonlLines, type FileLine } from '../../schema/fileLines.ts';

async function* linesOf(events: unknown[]): AsyncGenerator<FileLine> {
  for (const [i, event] of events.entries()) yield { line: i + 2, record: event };
}

const collect = async (it: AsyncIterable<FileLine>) => {
  const out: FileLine[] = [];
  for await (const l of it) out.push(l);
  return out;
};

describe('import batches', () => {
  it('fills batches up to the byte and count limits, never over, and maps rejections to lines', async () => {
    const events = Array.from({ length: 500 }, (_, i) => ({ type: 'bet', event_id: `e${i}`, player_id: 'p'.repeat(i % 97), stake: '1.5', currency: 'EUR' }));
    const sizes: number[] = [];
    const counts: number[] = [];
    const sent: unknown[] = [];
    const maxBytes = 2048;
    const summary = await importEvents(linesOf(events), {
      brand: 'casino',
      maxEvents: 40,
      maxBytes,
      send: async (batch): Promise<BatchAnswer> => {
        sizes.push(encode({ brand: 'casino', events: batch }).byteLength);
        counts.push(batch.length);
        sent.push(...batch);
        return { accepted: batch.length - 1, duplicates: 0, rejected: [{ index: batch.length - 1, code: 'invalid_field', message: 'm' }] };
      },
    });
    expect(sent).toEqual(events);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxBytes);
    expect(Math.max(...counts)).toBeLessThanOrEqual(40);
    // Batches are full: the next event would not have fitted.
    expect(Math.min(...sizes.slice(0, -1))).toBeGreaterThan(maxBytes - 200);
    let next = 0;
    const lastLines = counts.map((n) => (next += n) + 1);
    expect(summary).toEqual({ accepted: 500 - counts.length, duplicates: 0, rejected: lastLines.map((line) => ({ line, code: 'invalid_field', message: 'm' })) });
  });

  it('rejects an event larger than a batch on its own, and keeps going', async () => {
    const big = { type: 'kyc', event_id: 'big', player_id: 'p', status: 'x'.repeat(3000) };
    const summary = await importEvents(linesOf([{ type: 'kyc', event_id: 'a' }, big, { type: 'kyc', event_id: 'b' }]), {
      brand: 'b',
      maxEvents: 10,
      maxBytes: 1024,
      send: async (batch) => ({ accepted: batch.length, duplicates: 0, rejected: [] }),
    });
    expect(summary).toEqual({ accepted: 2, duplicates: 0, rejected: [{ line: 3, code: 'body_too_large', message: 'the event alone exceeds a batch of 1024 bytes' }] });
  });

  it('stops at a batch the edge cannot take, naming its first line', async () => {
    let calls = 0;
    const summary = await importEvents(linesOf(Array.from({ length: 5 }, (_, i) => ({ event_id: `e${i}` }))), {
      brand: 'b',
      maxEvents: 2,
      maxBytes: 1024,
      send: async (batch) => {
        if (++calls === 2) throw new CliError('the edge refused a batch: 401 invalid_signature: no');
        return { accepted: batch.length, duplicates: 0, rejected: [] };
      },
    });
    expect(summary).toEqual({ accepted: 2, duplicates: 0, rejected: [], stopped: { line: 4, reason: 'the edge refused a batch: 401 invalid_signature: no' } });
  });
});

describe('import readers', () => {
  it('CSV: quoted commas and quotes, a BOM, empty cells dropped, unreadable records by line', async () => {
    const csv = '\uFEFFtype,event_id,game,amount\r\nbet,e1,"Book, of ""Dead""",\r\n\r\nbet,e2\r\nbet,e3,x,1.5\r\n';
    expect(await collect(csvLines(Readable.from([csv])))).toEqual([
      { line: 2, record: { type: 'bet', event_id: 'e1', game: 'Book, of "Dead"' } },
      { line: 4, code: 'invalid_csv', message: 'Invalid Record Length: columns length is 4, got 2 on line 4' },
      { line: 5, record: { type: 'bet', event_id: 'e3', game: 'x', amount: '1.5' } },
    ]);
  });

  it('JSONL: blank lines skipped, bad JSON by line, numbers kept as numbers', async () => {
    const text = '\uFEFF{"event_id":"a","amount":1.25}\n\n{"event_id":\n"not an object"\n';
    expect(await collect(jsonlLines(Readable.from([text])))).toEqual([
      { line: 1, record: { event_id: 'a', amount: 1.25 } },
      { line: 3, code: 'invalid_json', message: 'not a JSON value' },
      { line: 4, record: 'not an object' },
    ]);
  });
});
