import { describe, expect, it } from 'vitest';
import { LineBuffer, slicedLines } from '../../workers/sink/lineBuffer.ts';

const json = (r: object) => JSON.stringify(r);

describe('line buffer', () => {
  it('holds each message\'s lines, in order, as UTF-8, growing past its first allocation', () => {
    const b = new LineBuffer();
    const names = ['Zoë', '東京', 'emoji 🎰', 'x'.repeat(100_000)];
    names.forEach((name, i) => b.append(1, i + 1, [{ name }, { i }], json));
    b.append(1, 9, [], json);
    const expected = names.map((name, i) => `${json({ name })}\n${json({ i })}\n`).join('');
    expect(b.body().toString('utf8')).toBe(expected);
    expect(b.byteLength).toBe(Buffer.byteLength(expected));
  });

  it('leaves out the messages a retry does not want', () => {
    const b = new LineBuffer();
    b.append(1, 10, [{ a: 1 }], json);
    b.append(2, 5, [{ b: 1 }, { b: 2 }], json);
    b.append(1, 11, [{ a: 2 }], json);
    const landed = new Map([[1, 10]]);
    expect(b.body((p, seq) => seq > (landed.get(p) ?? 0)).toString()).toBe('{"b":1}\n{"b":2}\n{"a":2}\n');
    expect(b.body(() => false).length).toBe(0);
  });

  it('makes many lines in slices, letting the event loop run between them, complete and in order', async () => {
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    const rows = Array.from({ length: 20 }, (_, i) => ({ i }));
    // Each line takes 1 ms to make: 20 ms of work cannot be one slice of 2 ms.
    const body = await slicedLines(rows, (r) => {
      busy(1);
      return json(r);
    });
    clearInterval(counting);
    expect(body.toString()).toBe(rows.map((r) => `${json(r)}\n`).join(''));
    expect(turns).toBeGreaterThan(0);
  });
});
