/** The ingest benchmark's frames: the head the floor server reads without decoding an event. */
import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { frameHead, frameTemplate, makeFrame } from '../../loadtest/lib/frames.ts';

describe('frameHead', () => {
  it("reads the seq written into each frame and the template's event count, at every array width", () => {
    for (const events of [1, 15, 16, 1000]) {
      const template = frameTemplate(events, 'abc123');
      for (const seq of [0, 1, 4242, 0xffff_fffe]) expect(frameHead(makeFrame(template, seq, Date.now()))).toEqual({ seq, events });
    }
  });

  it('agrees with a full decode of the frame', () => {
    const frame = makeFrame(frameTemplate(300, 'def456'), 77, Date.now());
    const decoded = decode(frame) as { seq: number; events: unknown[] };
    expect(frameHead(frame)).toEqual({ seq: decoded.seq, events: decoded.events.length });
    expect(decoded.seq).toBe(77);
  });

  it('refuses bytes not laid out like the client frames', () => {
    const bad: [string, Uint8Array][] = [
      ['seq not a uint32', encode({ seq: 5, events: [] })],
      ['keys in another order', encode({ events: [], seq: 0xffff_fff0 })],
      ['a third key', encode({ seq: 0xffff_fff0, events: [], x: 1 })],
      ['events not an array', encode({ seq: 0xffff_fff0, events: {} })],
      ['cut short', makeFrame(frameTemplate(20, 'abc123'), 1, Date.now()).subarray(0, 12)],
      ['empty', new Uint8Array(0)],
    ];
    for (const [what, bytes] of bad) expect(frameHead(bytes), what).toBeNull();
  });
});
