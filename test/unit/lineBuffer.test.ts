import { describe, expect, it } from 'vitest';
import { LineBuffer, slicedLines } from '../../workers/sink/lineBuffer.ts';
import { TsvEncoder } from '../../workers/sink/tsv.ts';

describe('line buffer', () => {
  it('holds each message\'s lines, in order, as UTF-8, growing past its first allocation', () => {
    const b = new LineBuffer();
    const tsv = new TsvEncoder('t');
    const names = ['Zoë', '東京', 'emoji 🎰', 'x'.repeat(100_000)];
    names.forEach((name, i) => b.append(1, i + 1, [{ name, i }, { name: '', i: i + 10 }], tsv));
    b.append(1, 9, [], tsv);
    const expected = names.map((name, i) => `${name}\t${i}\n\t${i + 10}\n`).join('');
    expect(b.body().toString('utf8')).toBe(expected);
    expect(b.byteLength).toBe(Buffer.byteLength(expected));
  });

  it('leaves out the messages a retry does not want, for encoded rows and lines made elsewhere alike', () => {
    const b = new LineBuffer();
    const tsv = new TsvEncoder('t');
    b.append(1, 10, [{ a: 1 }], tsv);
    b.appendLines(2, 5, ['1', '2']);
    b.appendLines(2, 6, []);
    b.append(1, 11, [{ a: 2 }], tsv);
    const landed = new Map([[1, 10]]);
    expect(b.body((p, seq) => seq > (landed.get(p) ?? 0)).toString()).toBe('1\n2\n2\n');
    expect(b.body(() => false).length).toBe(0);
  });

  it('makes many lines in slices, letting the event loop run between them, complete and in order', async () => {
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    // Each row takes 1 ms to read: 20 ms of work cannot be one slice of 2 ms.
    const rows = Array.from({ length: 20 }, (_, i) => ({
      get i() {
        busy(1);
        return i;
      },
    }));
    const body = await slicedLines(rows, new TsvEncoder('t'));
    clearInterval(counting);
    expect(body.toString()).toBe(rows.map((_, i) => `${i}\n`).join(''));
    expect(turns).toBeGreaterThan(0);
  });
});
