import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeEventBatch, decodeForwarded, decodeTick, encodeEventBatch, encodeForwarded, encodeTick } from '../../schema/eventWire.ts';
import type { PlayerEvent } from '../../schema/events.ts';
import { WireError } from '../../schema/wire.ts';

const e: PlayerEvent = {
  eventId: 'd-1001', type: 'deposit', brandId: 'b1', playerId: 'p-42', ts: 1_795_000_000_123, ip: '2001:db8::1', country: 'MT', deviceId: 'dév',
  source: 'stream', clickId: '', kycStatus: '', amount: '25.5000', win: '0.0000', currency: 'EUR', originalAmount: '30.0000', originalCurrency: 'USD',
  first: true, game: '', category: '', bonusAction: '', bonusId: '', maxBonus: false, depositId: '',
};

const v1Tuple = (x: PlayerEvent) => [
  x.eventId, x.type, x.brandId, x.playerId, x.ts, x.ip, x.country, x.deviceId, x.source, x.clickId, x.kycStatus, x.amount, x.win,
  x.currency, x.originalAmount, x.originalCurrency, x.first, x.game, x.category, x.bonusAction, x.bonusId, x.maxBonus, x.depositId,
];

describe('event batch wire format', () => {
  it('round-trips events of every type, string size and table size', () => {
    const events: PlayerEvent[] = Array.from({ length: 20_000 }, (_, i) => ({
      ...e,
      eventId: i % 2 ? `ïd-${i}` : `id-${i}`,
      type: (['registration', 'kyc', 'deposit', 'withdrawal', 'bet', 'bonus', 'chargeback'] as const)[i % 7] as PlayerEvent['type'],
      ts: [0, 127, 2 ** 32, Number.MAX_SAFE_INTEGER][i % 4] as number,
      // More distinct games than a fixarray or a 16-bit index holds: every table index size.
      game: i % 3 ? `game-${i}` : 'x'.repeat(i < 3 ? 70_000 : 40),
      deviceId: i < 3 ? ['y'.repeat(31), 'é'.repeat(200), 'z'.repeat(256)][i] as string : '',
      maxBonus: i % 2 === 0,
    }));
    const batch = decodeEventBatch(encodeEventBatch('edge-ü', 2 ** 40, 1_795_000_000_000, events));
    expect(batch).toEqual({ edge: 'edge-ü', seq: 2 ** 40, receivedAt: 1_795_000_000_000, events });
  }, 60_000);

  it('writes the repeated values once per batch, and is plain msgpack', () => {
    const [tag, edge, seq, receivedAt, strings, tuples] = decode(encodeEventBatch('e', 7, 9, [e, { ...e, eventId: 'd-1002', playerId: 'p-43' }])) as unknown[][];
    expect([tag, edge, seq, receivedAt]).toEqual(['events.v2', 'e', 7, 9]);
    expect(strings).toEqual(['deposit', 'b1', 'MT', 'stream', '', 'EUR']);
    expect(tuples?.[1]).toEqual(['d-1002', 0, 1, 'p-43', e.ts, e.ip, 2, 'dév', 3, '', 4, '25.5000', '0.0000', 5, '30.0000', 'USD', true, 4, 4, 4, '', false, '']);
    expect(decodeEventBatch(encodeEventBatch('e', 8, 9, [])).events).toEqual([]);
  });

  it('still reads batches of the first layout (streams written by earlier edges)', () => {
    expect(decodeEventBatch(encode(['events', 'edge-1', 42, 5, [v1Tuple(e)]]))).toEqual({ edge: 'edge-1', seq: 42, receivedAt: 5, events: [e] });
    // The first layout has no string table: an index there is a malformed field.
    expect(() => decodeEventBatch(encode(['events', 'edge-1', 42, 5, [v1Tuple({ ...e }).map((v, i) => (i === 1 ? 0 : v))]]))).toThrow(WireError);
  });

  it('rejects malformed messages with a typed error', () => {
    const good = v1Tuple(e);
    const bad: unknown[] = [
      new Uint8Array([0xc1]),
      encodeEventBatch('e', 1, 1, [e]).subarray(0, 40),
      encode({ events: [] }),
      encode(['events.v3', 'e', 1, 1, [], [good]]),
      encode(['events.v2', 'e', 1, 1, [1], [good]]),
      encode(['events.v2', 'e', 1, 1, [], {}]),
      encode(['events.v2', 'e', '1', 1, [], [good]]),
      encode(['events.v2', 'e', 1, 1, ['deposit'], [good.map((v, i) => (i === 1 ? 1 : v))]]),
      encode(['events.v2', 'e', 1, 1, [], [good.slice(1)]]),
      encode(['events.v2', 'e', 1, 1, [], [good.map((v, i) => (i === 1 ? 'spin' : v))]]),
      encode(['events.v2', 'e', 1, 1, [], [good.map((v, i) => (i === 4 ? '1' : v))]]),
      encode(['events.v2', 'e', 1, 1, [], [good.map((v, i) => (i === 16 ? 1 : v))]]),
      encode(['events.v2', 'e', 1, 1, [], [good.map((v, i) => (i === 0 ? null : v))]]),
      encode(['events.v2', 'e', 1, 1, [], [good.map((v, i) => (i === 0 ? -1 : v))]]),
    ];
    for (const b of bad) expect(() => decodeEventBatch(b as Uint8Array)).toThrow(WireError);
  });
});

describe('forwarded batch wire format', () => {
  const items = [
    { actor: 'affiliate', key: 'a1', message: { type: 'RegistrationAttributed' }, seq: 4 },
    { actor: 'commission', key: 'a1', message: { type: 'PlayerActivity' }, seq: 9 },
  ];

  it('round-trips the source sequence of each item of a coalesced batch', () => {
    expect(decodeForwarded(encodeForwarded({ from: 3, fromSeq: 9, items }, 5))).toEqual({ from: 3, fromSeq: 9, items });
  });

  it('reads batches of earlier versions, whose items carry no sequence, as the batch’s own', () => {
    const old = encode(['forwarded', 'fwd.3.9.5', 3, 9, items.map((i) => [i.actor, i.key, i.message])]);
    expect(decodeForwarded(old).items.map((i) => i.seq)).toEqual([9, 9]);
  });

  it('rejects an item whose sequence is not a number', () => {
    expect(() => decodeForwarded(encode(['forwarded', 'x', 3, 9, [['affiliate', 'a1', {}, 'nine']]]))).toThrow(WireError);
  });
});


describe('tick wire format', () => {
  it('round-trips the network totals', () => {
    expect(decodeTick(encodeTick('tick.3.1', { at: 1_700_000_000_000, network: { b1: [4, 90], b2: [0, 0] } }))).toEqual({ at: 1_700_000_000_000, network: { b1: [4, 90], b2: [0, 0] } });
  });

  it('refuses malformed totals as a wire error (a skipped message), where applying them would kill the partition loop', () => {
    for (const network of [{ b1: null }, { b1: [1] }, { b1: ['1', 2] }, { b1: 'x' }, [[1, 2]]]) {
      const data = encode(['tick', 'tick.3.1', 1_700_000_000_000, network, []]);
      expect(() => decodeTick(data), JSON.stringify(network)).toThrow(WireError);
    }
  });
});
