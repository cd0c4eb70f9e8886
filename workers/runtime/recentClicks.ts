/**
 * The clicks this worker applied most recently, by id and by visitor: the fast path of click
 * resolution. A registration usually quotes a click made seconds before, which ClickHouse may not
 * hold yet (flushes run every half second) — looking it up here answers in microseconds instead of
 * retrying a query. Bounded: the oldest entries go first; misses fall back to ClickHouse.
 *
 * For multi-touch attribution the memory also answers "all the clicks of this visitor" on its own
 * when it provably holds them all: when the visitor was first seen (its id's UUIDv7 time) after
 * {@link RecentClicks.completeSince}. Clicks made after that instant were all applied here — this
 * worker owns every partition and has run since — and none has been evicted.
 */
import { timeOfClickId } from '../../schema/clickId.ts';
import type { ClickInfo } from '../../schema/eventWire.ts';
import { clickInfoOf, type ClickRow } from '../sink/clickRow.ts';

/** Clock difference allowed between the edge that dated a visitor id and the worker's own clock. */
const CLOCK_SKEW_MS = 60_000;

/** Recent clicks by id and by visitor, oldest evicted first. */
export class RecentClicks {
  private readonly byId = new Map<string, ClickInfo>();
  /** Valid clicks (attributable: not bot, not geo-blocked) of each visitor, in the order applied. */
  private readonly byVisitor = new Map<string, ClickInfo[]>();

  /**
   * @param completeSince from when (ms) every click is here until evicted: the worker's start when
   *   it owns every partition, else `Infinity` (the visitor's clicks in other workers' partitions
   *   are never here).
   */
  constructor(
    private readonly capacity = 500_000,
    private completeSince = Infinity,
  ) {}

  /** Remember a click as written to the raw log. */
  add(r: ClickRow): void {
    if (this.byId.size >= this.capacity) this.evictOldest();
    const c = clickInfoOf(r);
    this.byId.set(r.click_id, c);
    if (c.visitorId === '' || c.bot || c.geoBlocked) return;
    const list = this.byVisitor.get(c.visitorId);
    if (list) list.push(c);
    else this.byVisitor.set(c.visitorId, [c]);
  }

  private evictOldest(): void {
    const oldest = this.byId.values().next().value;
    if (oldest === undefined) return;
    this.byId.delete(oldest.clickId);
    // Clicks up to this one's time may be gone now: only later visitors are still wholly here.
    this.completeSince = Math.max(this.completeSince, oldest.ts + 1);
    const list = this.byVisitor.get(oldest.visitorId);
    if (!list) return;
    const i = list.indexOf(oldest);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byVisitor.delete(oldest.visitorId);
  }

  /** The click, if it is recent enough to be here. */
  get(clickId: string): ClickInfo | undefined {
    return this.byId.get(clickId);
  }

  /** The valid clicks of `visitorId` held here (maybe not all of them: see {@link holdsAllOf}). */
  visitorClicks(visitorId: string): readonly ClickInfo[] {
    return this.byVisitor.get(visitorId) ?? [];
  }

  /** True when every click of `visitorId` applied so far is here. */
  holdsAllOf(visitorId: string): boolean {
    return timeOfClickId(visitorId) - CLOCK_SKEW_MS >= this.completeSince;
  }
}
