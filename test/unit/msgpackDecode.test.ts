import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeMsgpackValue, MsgpackFormatError } from '../../node/ingest/msgpackDecode.ts';

/** Values of every msgpack type and size class a client may send. */
const values: unknown[] = [
  null, true, false, 0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, 2 ** 60,
  -1, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER, -(2 ** 60), 0.5, -1.25, 1e300, Number.NaN,
  '', 'a', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(255), 'z'.repeat(256), 'w'.repeat(70_000), 'é', 'ü-✓-𝄞', '\u0000\u007f',
  new Uint8Array([1, 2, 3]), new Uint8Array(300),
  [], [1, 'a', [2, [3]]], Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 70_000 }, (_, i) => i % 200),
  {}, { a: 1 }, { event_id: 'e-1', type: 'bet', stake: '1.50', nested: { k: [1, { z: null }] } },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key-${i}`, i])), Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
  { [`k${'x'.repeat(40)}`]: 1, é: 2, '': 3 },
];

describe('msgpack decoding of client input', () => {
  it('reads every type and size class to the values @msgpack/msgpack reads', () => {
    for (const v of values) {
      const bytes = encode(v);
      expect(decodeMsgpackValue(bytes), JSON.stringify(v)?.slice(0, 80)).toEqual(decode(bytes));
    }
    // Numeric map keys, float32 and the 64-bit forms, which @msgpack/msgpack's encoder does not write for these values.
    const handMade = [
      [0x81, 0x01, 0xa1, 0x61], [0xca, 0x3f, 0xc0, 0x00, 0x00], [0xcf, 0, 0, 0, 0, 0, 0, 0, 5], [0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
      [0xd0, 0x85], [0xd1, 0x80, 0x00], [0xd2, 0x80, 0, 0, 0], [0xcc, 0x05], [0xde, 0, 1, 0xa1, 0x6b, 0xc0], [0xdc, 0, 1, 0xc3], [0xc4, 1, 9],
    ].map((b) => new Uint8Array(b));
    for (const bytes of handMade) expect(decodeMsgpackValue(bytes)).toEqual(decode(bytes));
  });

  it('caches keys without confusing keys of the same length', () => {
    const events = Array.from({ length: 500 }, (_, i) => ({ [`k${String(i).padStart(3, '0')}`]: i, player_id: `p${i}`, playerXid: i }));
    expect(decodeMsgpackValue(encode(events))).toEqual(events);
    expect(decodeMsgpackValue(encode(events))).toEqual(events);
    // The cache keeps copies: an input buffer reused for other bytes cannot change a cached key.
    const reused = Buffer.from(encode({ abc: 1 }));
    expect(decodeMsgpackValue(reused)).toEqual({ abc: 1 });
    reused.set(encode({ xyz: 2 }));
    expect(decodeMsgpackValue(reused)).toEqual({ xyz: 2 });
  });

  it('reads ext values (timestamps too) as type and bytes, which no event field accepts', () => {
    expect(decodeMsgpackValue(encode(new Date(0)))).toEqual({ type: -1, data: new Uint8Array(4) });
    expect(decodeMsgpackValue(new Uint8Array([0xc7, 2, 5, 1, 2]))).toEqual({ type: 5, data: new Uint8Array([1, 2]) });
  });

  it('refuses ugly input with a typed error, never anything else', () => {
    const bad: number[][] = [
      [], [0xc1], [0xa5, 0x61], [0x92, 0x01], [0x81, 0xa1, 0x61], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff, 0x01],
      [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61], [0xc6, 0xff, 0xff, 0xff, 0xff], [0xc9, 0, 0, 0, 9, 1], [0xcb, 0, 0], [0xcf, 0],
      [0x01, 0x02], [0x81, 0x90, 0x01], [0x81, 0x80, 0x01], [0x81, 0xc0, 0x01],
      [0x81, 0xa9, ...Buffer.from('__proto__'), 0x01],
    ];
    for (const b of bad) expect(() => decodeMsgpackValue(new Uint8Array(b)), Buffer.from(b).toString('hex')).toThrow(MsgpackFormatError);
    // Every truncation of a realistic frame.
    const frame = encode({ seq: 7, events: [{ type: 'deposit', event_id: 'd-1', player_id: 'p-1', amount: '25.50', currency: 'EUR', ts: 1_795_000_000_000, first: true }] });
    for (let n = 0; n < frame.length; n++) expect(() => decodeMsgpackValue(frame.subarray(0, n))).toThrow(MsgpackFormatError);
    // Nesting deeper than the reader recurses.
    expect(() => decodeMsgpackValue(new Uint8Array(100_000).fill(0x91))).toThrow(MsgpackFormatError);
    expect(decodeMsgpackValue(new Uint8Array([...new Uint8Array(100).fill(0x91), 0x01]))).toEqual(decode(new Uint8Array([...new Uint8Array(100).fill(0x91), 0x01])));
    // Random bytes: a typed error or a value, nothing else.
    let seed = 1;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5_000; i++) {
      const b = frame.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        decodeMsgpackValue(b);
      } catch (err) {
        expect(err).toBeInstanceOf(MsgpackFormatError);
      }
    }
  });
});
