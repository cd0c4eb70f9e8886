/**
 * Ingest-time duplicate detection against the suite's Redis (node/ingest/dedupe.ts): of copies
 * claimed at once exactly one is new and the others in flight; ids are duplicates once confirmed
 * and for at least the documented span across generations; a failed publish's release makes the
 * retry new again without undoing another copy's confirmation; everything is new when Redis
 * cannot answer.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DEDUPE_TTL_S, EventDedupe, GENERATION_MS } from '../../node/ingest/dedupe.ts';

const redis = new Redis(inject('redisUrl'));
const other = new Redis(inject('redisUrl'));
const namespace = `dedupe_${randomBytes(4).toString('hex')}`;
const silent = pino({ level: 'silent' });
const dedupe = new EventDedupe(redis, namespace, silent);
/** Another edge: its own connection to the same Redis. */
const elsewhere = new EventDedupe(other, namespace, silent);
const DAY = 86_400_000;
/** A generation to come: Redis drops a hash at once when its expiry time is already past. */
const G0 = Math.floor(Date.now() / GENERATION_MS) + 2;

afterAll(async () => {
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  other.disconnect();
});

describe('event dedupe', () => {
  it('claims ids once: the next claim finds them in flight, duplicates once confirmed, per brand', async () => {
    const now = G0 * GENERATION_MS + 1_000;
    const ids = Array.from({ length: 2_500 }, (_, i) => `e-${i}`);
    expect(await dedupe.claim('b1', ids, now)).toEqual(ids.map(() => 'new'));
    expect(await elsewhere.claim('b1', ids, now)).toEqual(ids.map(() => 'in_flight'));
    dedupe.confirm('b1', ids.slice(0, 1_200), now);
    await dedupe.settled();
    const again = await elsewhere.claim('b1', [...ids, 'other'], now + 1);
    expect(again.slice(0, 1_200).every((c) => c === 'duplicate')).toBe(true);
    expect(again.slice(1_200, 2_500).every((c) => c === 'in_flight')).toBe(true);
    expect(again[2_500]).toBe('new');
    // Another brand's ids are its own.
    expect(await dedupe.claim('b2', ids.slice(0, 3), now)).toEqual(['new', 'new', 'new']);
    const key = `${namespace}:ev:b1:${G0}`;
    expect(await redis.hlen(key)).toBe(2_501);
    expect(await redis.hget(key, 'e-0')).toBe('1');
    expect(await redis.hget(key, 'e-1200')).toBe('p');
    expect(await redis.expiretime(key)).toBe(Math.ceil(((G0 + 1) * GENERATION_MS) / 1000) + DEDUPE_TTL_S);
  });

  it('of copies claimed at the same moment on two connections, exactly one is new', async () => {
    const now = (G0 + 1) * GENERATION_MS + 5;
    const ids = Array.from({ length: 200 }, (_, i) => `race-${i}`);
    const verdicts = await Promise.all(Array.from({ length: 8 }, (_, n) => (n % 2 === 0 ? dedupe : elsewhere).claim('b1', ids, now)));
    for (let i = 0; i < ids.length; i++) {
      const of = verdicts.map((v) => v[i]);
      expect(of.filter((c) => c === 'new')).toHaveLength(1);
      expect(of.filter((c) => c === 'in_flight')).toHaveLength(7);
    }
  });

  it('a failed publish releases its own marks only: the retry is new, an id another copy confirmed stays a duplicate', async () => {
    const now = (G0 + 1) * GENERATION_MS + 50;
    expect(await dedupe.claim('b3', ['f-1', 'f-2'], now)).toEqual(['new', 'new']);
    // f-2 was also sent elsewhere, published there and confirmed, before this publish failed.
    expect(await elsewhere.claim('b3', ['f-2'], now)).toEqual(['in_flight']);
    elsewhere.confirm('b3', ['f-2'], now);
    await elsewhere.settled();
    dedupe.release('b3', ['f-1', 'f-2'], now);
    await dedupe.settled();
    expect(await dedupe.claim('b3', ['f-1', 'f-2'], now + 1)).toEqual(['new', 'duplicate']);
  });

  it('confirmations of many requests reach Redis without anyone awaiting them', async () => {
    const now = (G0 + 1) * GENERATION_MS + 100;
    const ids = Array.from({ length: 50 }, (_, i) => `c-${i}`);
    await dedupe.claim('b4', ids, now);
    for (const id of ids) dedupe.confirm('b4', [id], now);
    await waitUntil(async () => (await elsewhere.claim('b4', ids, now)).every((c) => c === 'duplicate'));
  });

  it('remembers an id for at least the TTL from anywhere in its generation, and forgets it after', async () => {
    for (const offset of [0, GENERATION_MS / 2, GENERATION_MS - 1]) {
      const at = (G0 + 10) * GENERATION_MS + offset;
      const id = `t-${offset}`;
      dedupe.confirm('b1', [id], at);
      await dedupe.settled();
      for (const later of [at + 1, at + DAY, at + DEDUPE_TTL_S * 1000 - 1]) expect(await dedupe.claim('b1', [id], later)).toEqual(['duplicate']);
      expect(await dedupe.claim('b1', [id], (G0 + 13) * GENERATION_MS)).toEqual(['new']);
    }
  });

  it('accepts everything when Redis is unreachable, and confirming or releasing never throws', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => {});
    const blind = new EventDedupe(down, namespace, silent);
    expect(await blind.claim('b1', ['e-0', 'e-1'])).toEqual(['new', 'new']);
    blind.confirm('b1', ['e-0']);
    blind.release('b1', ['e-1']);
    await expect(blind.settled()).resolves.toBeUndefined();
    down.disconnect();
  });
});

async function waitUntil(ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('not within the time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
