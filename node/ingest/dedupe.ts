/**
 * Ingest-time duplicate detection (SPEC §5: the same (brand, event_id) is acknowledged as a
 * duplicate for at least 7 days, by any transport). Redis holds one key per event id for 8 days:
 * `p` while the event is being published, `d` once JetStream has it. A key left at `p` (the
 * publish failed, the client will retry) does not make the retry a duplicate.
 *
 * This decides the *answer* to the client. Counting once does not depend on it: every partition
 * drops event ids it has applied (workers/runtime/partition.ts), so when Redis is unreachable the
 * edge still accepts events and only loses the ability to say "duplicate".
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long an event id is remembered, seconds (SPEC: at least 7 days). */
export const DEDUPE_TTL_S = 8 * 86_400;

/** The verdict for one event id. */
export type Claim = 'new' | 'duplicate';

/** Redis-backed event-id claims. */
export class EventDedupe {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  private key(brandId: string, eventId: string): string {
    return `${this.namespace}:ev:${brandId}:${eventId}`;
  }

  /** Claim each id; 'duplicate' only for ids already published. Never throws: without Redis everything is 'new'. */
  async claim(brandId: string, eventIds: string[]): Promise<Claim[]> {
    if (eventIds.length === 0) return [];
    try {
      const p = this.redis.pipeline();
      for (const id of eventIds) p.set(this.key(brandId, id), 'p', 'EX', DEDUPE_TTL_S, 'NX', 'GET');
      const res = (await p.exec()) ?? [];
      return res.map(([err, prior]) => {
        if (err) throw err;
        return prior === 'd' ? 'duplicate' : 'new';
      });
    } catch (err) {
      this.log.warn({ err: String(err) }, 'event dedupe unavailable; accepting (partitions still count once)');
      return eventIds.map(() => 'new');
    }
  }

  /** Mark ids as published. */
  async published(brandId: string, eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    try {
      const p = this.redis.pipeline();
      for (const id of eventIds) p.set(this.key(brandId, id), 'd', 'EX', DEDUPE_TTL_S);
      await p.exec();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'event dedupe could not record published events');
    }
  }
}
