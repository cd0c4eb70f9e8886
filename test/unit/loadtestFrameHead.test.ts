/** The ingest floor's frame head: `seq` and the event count read from a frame's msgpack bytes, never decoding an event. */
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { FrameHeadError, readFrameHead } from '../../loadtest/lib/frameHead.ts';
import { frameTemplate, makeFrame } from '../../loadtest/lib/frames.ts';

describe('readFrameHead', () => {
  it("reads the benchmark client's frames: the seq written into the template and its event count", () => {
    for (const events of [1, 15, 16, 1000]) {
      const template = frameTemplate(events, 'abc123');
      expect(readFrameHead(makeFrame(template, 4242, Date.now()))).toEqual({ seq: 4242, events });
    }
  });

  it('reads every msgpack width of seq and of the events array', () => {
    for (const seq of [0, 127, 200, 65_000, 4_000_000_000, 2 ** 40]) expect(readFrameHead(encode({ seq, events: [] })).seq).toBe(seq);
    for (const n of [0, 15, 16, 65_535, 65_536]) expect(readFrameHead(encode({ seq: 1, events: new Array<number>(n).fill(0) })).events).toBe(n);
  });

  it('steps over other keys and values, and over the events when they come before seq', () => {
    const other = { meta: { nested: [1, -5, 'x'.repeat(40), null, true, 1.5, new Uint8Array(300), { deep: [[2 ** 40, -(2 ** 40)]] }] }, note: 'y'.repeat(70_000) };
    const events = [{ event_id: 'e1', type: 'bet', stake: '1.00' }, { event_id: 'e2', type: 'kyc' }];
    expect(readFrameHead(encode({ ...other, seq: 9, events }))).toEqual({ seq: 9, events: 2 });
    expect(readFrameHead(encode({ events, ...other, seq: 9 }))).toEqual({ seq: 9, events: 2 });
    // A map with a key that is not a string: msgpack allows it, the frame's keys are found past it.
    const intKey = Uint8Array.from([0x83, 0x01, 0xa1, 0x7a, 0xa3, 0x73, 0x65, 0x71, 0x05, 0xa6, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x73, 0x90]);
    expect(readFrameHead(intKey)).toEqual({ seq: 5, events: 0 });
  });

  it('refuses what is not a frame head', () => {
    const bad: [string, Uint8Array][] = [
      ['not a map', encode([1, 2])],
      ['no events', encode({ seq: 1 })],
      ['no seq', encode({ events: [1] })],
      ['negative seq', encode({ seq: -1, events: [] })],
      ['seq as text', encode({ seq: '1', events: [] })],
      ['events not an array', encode({ seq: 1, events: {} })],
      ['cut inside the head', encode({ seq: 70_000, events: [] }).subarray(0, 7)],
      ['events before seq, cut inside the events', encode({ events: ['a', 'b'], seq: 1 }).subarray(0, 11)],
      ['an array claiming more values than bytes', Uint8Array.from([0x82, 0xa1, 0x78, 0xdd, 0xff, 0xff, 0xff, 0xff])],
      ['empty', new Uint8Array(0)],
    ];
    for (const [what, bytes] of bad) expect(() => readFrameHead(bytes), what).toThrow(FrameHeadError);
  });
});
