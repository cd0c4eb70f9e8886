/**
 * Resolves the click a registration quotes (docs/architecture.md, “Attribution”) and feeds the answer back into the player's
 * partition as a `resolved` message, so the player actor sees it in its ordered input and a
 * replay sees it at the same place.
 *
 * Recent clicks are answered from memory ({@link RecentClicks}) at once; older ones are looked up
 * by id in ClickHouse (`click_lookup`, sorted by click id), batched: one query per tick for every
 * waiting registration. A click found nowhere may simply not be applied yet (its partition is a
 * moment behind, or its edge was spooling during a NATS outage), so a miss is retried until the
 * click id's own timestamp is `GIVE_UP_MS` old; then the click is unknown and the player organic.
 *
 * Under first click and the multi-touch rules the answer also carries the visitor's other clicks
 * (the click's `visitorId`), the touches the actor weighs: from memory alone when it holds all the
 * visitor's clicks ({@link RecentClicks.holdsAllOf}), else from ClickHouse (`visitor_clicks`,
 * sorted by visitor; one query per tick for every waiting registration) together with the memory's,
 * which holds the clicks not flushed yet. Touches are looked up only once the worker has caught up
 * with the backlog its partitions had at start, so registrations replayed after a crash do not miss
 * clicks that other partitions have still to replay. A click its partition has not applied yet for
 * another reason — made a moment before the registration on a lagging partition, or held in an
 * edge's spool during a NATS outage — is not among them.
 */
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { timeOfClickId } from '../../schema/clickId.ts';
import { CLICK_LOOKUP_COLUMNS, clickInfoOf, type ClickLookupRow } from '../sink/clickRow.ts';
import { encodeResolutions, KIND_HEADER, type ClickInfo, type ClickResolution } from '../../schema/eventWire.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import { quote } from '../../schema/clickhouse/client.ts';
import { MAX_TOUCHES, selectTouches, type TouchWindow } from '../actors/attribution.ts';
import type { ResolveRequest } from './partition.ts';
import type { RecentClicks } from './recentClicks.ts';

/** A click id still unknown this long after its own timestamp is unknown for good. */
export const GIVE_UP_MS = 10 * 60_000;

/** How long a resolution that could not be published waits before it is tried again. */
const REPUBLISH_MS = 250;

interface Waiting extends ResolveRequest {
  partition: number;
}

/** A registration whose click is known, waiting for its visitor's touches. */
interface Touching extends Waiting {
  touches: TouchWindow;
  click: ClickInfo;
}

/** Batches click lookups and publishes the answers. */
export class ClickResolver {
  private waiting: Waiting[] = [];
  private touching: Touching[] = [];
  private busy = false;
  private readonly timer: NodeJS.Timeout;

  private readonly ready = new Map<number, ClickResolution[]>();
  private publishing = false;

  constructor(
    private readonly ch: ClickHouseClient,
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly recent: RecentClicks,
    private readonly log: Logger,
    /** False while the worker replays the backlog its partitions had at start. */
    private readonly caughtUp: () => boolean,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => void this.tick(), everyMs);
  }

  /** Ask for the clicks of `requests`, made by players of `partition`. */
  request(partition: number, requests: ResolveRequest[]): void {
    for (const r of requests) {
      const click = this.recent.get(r.clickId);
      if (click) this.found({ ...r, partition }, click);
      else this.waiting.push({ ...r, partition });
    }
  }

  /** The click of `w` is known: answer, or wait for the visitor's touches first. */
  private found(w: Waiting, click: ClickInfo): void {
    const vid = click.visitorId;
    if (!w.touches || vid === '') this.answer(w.partition, { playerKey: w.playerKey, brandId: w.brandId, clickId: w.clickId, click, touches: [] });
    else if (this.recent.holdsAllOf(vid) && this.caughtUp()) this.answerTouches({ ...w, touches: w.touches, click }, this.recent.visitorClicks(vid));
    else this.touching.push({ ...w, touches: w.touches, click });
  }

  private answerTouches(w: Touching, clicks: readonly ClickInfo[]): void {
    const touches = selectTouches(w.brandId, w.touches, w.click, clicks);
    this.answer(w.partition, { playerKey: w.playerKey, brandId: w.brandId, clickId: w.clickId, click: w.click, touches });
  }

  /** Queue an answer; answers found in one turn of the event loop go out together. */
  private answer(partition: number, r: ClickResolution): void {
    const list = this.ready.get(partition);
    if (list) list.push(r);
    else this.ready.set(partition, [r]);
    if (!this.publishing) {
      this.publishing = true;
      setImmediate(() => void this.publishReady());
    }
  }

  private async publishReady(): Promise<void> {
    const batch = [...this.ready];
    this.ready.clear();
    this.publishing = false;
    await Promise.all(
      batch.map(([p, items]) =>
        this.publish(p, items).catch((err) => {
          this.log.warn({ err: String(err) }, 'click resolution not published; retrying');
          setTimeout(() => items.forEach((i) => this.answer(p, i)), REPUBLISH_MS);
        }),
      ),
    );
  }

  /** Registrations waiting for their click or their visitor's touches. */
  get pending(): number {
    return this.waiting.length + this.touching.length;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.resolveClicks();
      await this.resolveTouches();
    } finally {
      this.busy = false;
    }
  }

  private async resolveClicks(): Promise<void> {
    if (this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    let stored: Map<string, ClickInfo>;
    try {
      const missing = batch.filter((w) => !this.recent.get(w.clickId));
      stored = missing.length > 0 ? await this.lookup([...new Set(missing.map((w) => w.clickId))]) : new Map<string, ClickInfo>();
    } catch (err) {
      this.log.warn({ err: String(err), waiting: batch.length }, 'click resolution failed; retrying');
      this.waiting.push(...batch);
      return;
    }
    const now = Date.now();
    for (const w of batch) {
      const click = this.recent.get(w.clickId) ?? stored.get(w.clickId);
      if (click) this.found(w, click);
      else if (now - timeOfClickId(w.clickId) < GIVE_UP_MS) this.waiting.push(w);
      else this.answer(w.partition, { playerKey: w.playerKey, brandId: w.brandId, clickId: w.clickId, click: null, touches: [] });
    }
  }

  private async resolveTouches(): Promise<void> {
    if (this.touching.length === 0 || !this.caughtUp()) return;
    const batch = this.touching;
    this.touching = [];
    let stored: Map<string, ClickInfo[]>;
    try {
      stored = await this.lookupVisitors(batch);
    } catch (err) {
      this.log.warn({ err: String(err), waiting: batch.length }, 'touch lookup failed; retrying');
      this.touching.push(...batch);
      return;
    }
    for (const w of batch) {
      const vid = w.click.visitorId;
      this.answerTouches(w, [...(stored.get(`${vid}\u0000${w.brandId}`) ?? []), ...this.recent.visitorClicks(vid)]);
    }
  }

  private async lookup(ids: string[]): Promise<Map<string, ClickInfo>> {
    const rs = await this.ch.query({
      query: `SELECT ${CLICK_LOOKUP_COLUMNS} FROM click_lookup WHERE click_id IN (${ids.map(quote).join(',')})`,
      format: 'JSONEachRow',
    });
    const out = new Map<string, ClickInfo>();
    for (const r of await rs.json<ClickLookupRow>()) out.set(r.click_id, clickInfoOf(r));
    return out;
  }

  /**
   * The stored clicks of the visitors of `batch`, by `visitor\0brand`: per visitor and brand, within
   * the window of its registration, the first and the latest ones — no more than the actor keeps.
   */
  private async lookupVisitors(batch: Touching[]): Promise<Map<string, ClickInfo[]>> {
    const where = batch
      .map((w) => `(visitor_id = ${quote(w.click.visitorId)} AND brand_id = ${quote(w.brandId)} AND ts >= toDateTime(${Math.floor(w.touches.since / 1000)}) AND ts <= toDateTime(${Math.floor(w.touches.until / 1000)}))`)
      .join(' OR ');
    const side = (order: string, n: number) =>
      `SELECT ${CLICK_LOOKUP_COLUMNS} FROM
       (SELECT * FROM visitor_clicks WHERE ${where} ORDER BY visitor_id, brand_id, ts ${order} LIMIT ${n} BY visitor_id, brand_id)`;
    const rs = await this.ch.query({ query: `${side('ASC', 1)} UNION ALL ${side('DESC', MAX_TOUCHES - 1)}`, format: 'JSONEachRow' });
    const out = new Map<string, ClickInfo[]>();
    for (const r of await rs.json<ClickLookupRow>()) {
      const key = `${r.visitor_id}\u0000${r.brand_id}`;
      const c = clickInfoOf(r);
      const list = out.get(key);
      if (list) list.push(c);
      else out.set(key, [c]);
    }
    return out;
  }

  private async publish(partition: number, items: ClickResolution[]): Promise<void> {
    // The same answers give the same id, so a repeat within the duplicate window is stored once.
    const id = createHash('sha256').update(items.map((i) => `${i.playerKey}\u0000${i.clickId}\u0000${i.click ? 1 : 0}`).join('\n')).digest('hex').slice(0, 32);
    const h = natsHeaders();
    h.set(KIND_HEADER, 'resolved');
    await this.js.publish(this.names.partitionSubject(partition), encodeResolutions(id, items), { msgID: `res.${id}`, headers: h });
  }

  /** Stop resolving. */
  stop(): void {
    clearInterval(this.timer);
  }
}
