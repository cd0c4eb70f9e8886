/**
 * The clicks this worker applied most recently, by id: the fast path of click resolution. A
 * registration usually quotes a click made seconds before, which ClickHouse may not hold yet
 * (flushes run every half second) — looking it up here answers in microseconds instead of
 * retrying a query. Bounded: the oldest entries go first; misses fall back to ClickHouse.
 */
import type { ClickInfo } from '../../schema/eventWire.ts';
import { clickInfoOf, type ClickRow } from '../sink/clickRow.ts';

/** Recent clicks by id, oldest evicted first. */
export class RecentClicks {
  private readonly byId = new Map<string, ClickInfo>();

  constructor(private readonly capacity = 500_000) {}

  /** Remember a click as written to the raw log. */
  add(r: ClickRow): void {
    if (this.byId.size >= this.capacity) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    this.byId.set(r.click_id, clickInfoOf(r));
  }

  /** The click, if it is recent enough to be here. */
  get(clickId: string): ClickInfo | undefined {
    return this.byId.get(clickId);
  }
}
