/**
 * Ingest-time duplicate detection (SPEC §5: the same (brand, event_id) is acknowledged as a
 * duplicate for at least 7 days, by any transport). Redis holds one key per event id for 8 days:
 * `p` while the event is being published, `d` once JetStream has it. A key left at `p` (the
 * publish failed, the client will retry) does not make the retry a duplicate.
 *
 * One Lua call per batch, not one command per event: building and parsing thousands of pipelined
 * commands cost the edge more CPU than the rest of ingestion.
 *
 * This decides the *answer* to the client. Counting once does not depend on it: every partition
 * drops event ids it has applied (workers/runtime/partition.ts), so when Redis is unreachable the
 * edge still accepts events and only loses the ability to say "duplicate".
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long an event id is remembered, seconds (SPEC: at least 7 days). */
export const DEDUPE_TTL_S = 8 * 86_400;

/** The verdict for one event id. */
export type Claim = 'new' | 'duplicate';

// KEYS: event keys; ARGV[1]: ttl. Returns 1 per key already published ('d'), else 0 (now 'p').
const CLAIM = `
local out = {}
for i, k in ipairs(KEYS) do
  local prior = redis.call('SET', k, 'p', 'EX', ARGV[1], 'NX', 'GET')
  if prior == 'd' then out[i] = 1 else out[i] = 0 end
end
return out`;

// KEYS: event keys; ARGV[1]: ttl. Marks them published.
const PUBLISHED = `
for _, k in ipairs(KEYS) do redis.call('SET', k, 'd', 'EX', ARGV[1]) end
return #KEYS`;

type WithScripts = Redis & {
  affClaim(n: number, ...args: (string | number)[]): Promise<number[]>;
  affPublished(n: number, ...args: (string | number)[]): Promise<number>;
};

/** Redis-backed event-id claims. */
export class EventDedupe {
  private readonly redis: WithScripts;

  constructor(
    redis: Redis,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {
    redis.defineCommand('affClaim', { lua: CLAIM });
    redis.defineCommand('affPublished', { lua: PUBLISHED });
    this.redis = redis as WithScripts;
  }

  private keys(brandId: string, eventIds: string[]): string[] {
    return eventIds.map((id) => `${this.namespace}:ev:${brandId}:${id}`);
  }

  /** Claim each id; 'duplicate' only for ids already published. Never throws: without Redis everything is 'new'. */
  async claim(brandId: string, eventIds: string[]): Promise<Claim[]> {
    if (eventIds.length === 0) return [];
    try {
      const res = await this.redis.affClaim(eventIds.length, ...this.keys(brandId, eventIds), DEDUPE_TTL_S);
      return res.map((r) => (r === 1 ? 'duplicate' : 'new'));
    } catch (err) {
      this.log.warn({ err: String(err) }, 'event dedupe unavailable; accepting (partitions still count once)');
      return eventIds.map(() => 'new');
    }
  }

  /** Mark ids as published. */
  async published(brandId: string, eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    try {
      await this.redis.affPublished(eventIds.length, ...this.keys(brandId, eventIds), DEDUPE_TTL_S);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'event dedupe could not record published events');
    }
  }
}
