/**
 * Ingest-time duplicate detection against the suite's Redis (node/ingest/dedupe.ts): ids are
 * duplicates once published and for at least the documented span across generations, never
 * because of a claim whose publish failed, and everything is new when Redis cannot answer.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DEDUPE_TTL_S, EventDedupe, GENERATION_MS } from '../../node/ingest/dedupe.ts';

const redis = new Redis(inject('redisUrl'));
const namespace = `dedupe_${randomBytes(4).toString('hex')}`;
const dedupe = new EventDedupe(redis, namespace, pino({ level: 'silent' }));
const DAY = 86_400_000;
/** A generation to come: Redis drops a hash at once when its expiry time is already past. */
const G0 = Math.floor(Date.now() / GENERATION_MS) + 2;

afterAll(async () => {
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('event dedupe', () => {
  it('answers duplicate only for ids published, in or across batches, whatever a failed publish claimed', async () => {
    const now = G0 * GENERATION_MS + 1_000;
    const ids = Array.from({ length: 2_500 }, (_, i) => `e-${i}`);
    expect(await dedupe.claim('b1', ids, now)).toEqual(ids.map(() => 'new'));
    // The publish of that batch failed: nothing was recorded, the retry is new again.
    expect(await dedupe.claim('b1', ids, now)).toEqual(ids.map(() => 'new'));
    await dedupe.published('b1', ids.slice(0, 1_200), now);
    const again = await dedupe.claim('b1', [...ids, 'other'], now + 1);
    expect(again.filter((c) => c === 'duplicate').length).toBe(1_200);
    expect(again.slice(0, 1_200).every((c) => c === 'duplicate')).toBe(true);
    // Another brand's ids are its own.
    expect(await dedupe.claim('b2', ids.slice(0, 3), now)).toEqual(['new', 'new', 'new']);
    const key = `${namespace}:ev:b1:${G0}`;
    expect(await redis.hlen(key)).toBe(1_200);
    expect(await redis.expiretime(key)).toBe(Math.ceil(((G0 + 1) * GENERATION_MS) / 1000) + DEDUPE_TTL_S);
  });

  it('remembers an id for at least the TTL from anywhere in its generation, and forgets it after', async () => {
    for (const offset of [0, GENERATION_MS / 2, GENERATION_MS - 1]) {
      const at = (G0 + 10) * GENERATION_MS + offset;
      const id = `t-${offset}`;
      await dedupe.published('b1', [id], at);
      for (const later of [at + 1, at + DAY, at + DEDUPE_TTL_S * 1000 - 1]) expect(await dedupe.claim('b1', [id], later)).toEqual(['duplicate']);
      expect(await dedupe.claim('b1', [id], (G0 + 13) * GENERATION_MS)).toEqual(['new']);
    }
  });

  it('accepts everything when Redis is unreachable', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => {});
    const blind = new EventDedupe(down, namespace, pino({ level: 'silent' }));
    expect(await blind.claim('b1', ['e-0', 'e-1'])).toEqual(['new', 'new']);
    await expect(blind.published('b1', ['e-0'])).resolves.toBeUndefined();
    down.disconnect();
  });
});
