/**
 * Resolves the click a registration quotes (SPEC §6) and feeds the answer back into the player's
 * partition as a `resolved` message, so the player actor sees it in its ordered input and a
 * replay sees it at the same place.
 *
 * Recent clicks are answered from memory ({@link RecentClicks}) at once; older ones are looked up
 * by id in ClickHouse (`click_lookup`, sorted by click id), batched: one query per tick for every
 * waiting registration. A click found nowhere may simply not be applied yet (its partition is a
 * moment behind, or its edge was spooling during a NATS outage), so a miss is retried until the
 * click id's own timestamp is `GIVE_UP_MS` old; then the click is unknown and the player organic.
 */
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { timeOfClickId } from '../../schema/clickId.ts';
import { clickInfoOf, type ClickLookupRow } from '../sink/clickRow.ts';
import { encodeResolutions, KIND_HEADER, type ClickInfo, type ClickResolution } from '../../schema/eventWire.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import type { ResolveRequest } from './partition.ts';
import type { RecentClicks } from './recentClicks.ts';

/** A click id still unknown this long after its own timestamp is unknown for good. */
export const GIVE_UP_MS = 10 * 60_000;

interface Waiting extends ResolveRequest {
  partition: number;
}


/** Batches click lookups and publishes the answers. */
export class ClickResolver {
  private waiting: Waiting[] = [];
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
    everyMs = 100,
  ) {
    this.timer = setInterval(() => void this.tick(), everyMs);
  }

  /** Ask for the clicks of `requests`, made by players of `partition`. */
  request(partition: number, requests: ResolveRequest[]): void {
    for (const r of requests) {
      const click = this.recent.get(r.clickId);
      if (click) this.answer(partition, { playerKey: r.playerKey, brandId: r.brandId, clickId: r.clickId, click });
      else this.waiting.push({ ...r, partition });
    }
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
          this.waiting.push(...items.map((i) => ({ partition: p, clickId: i.clickId, playerKey: i.playerKey, brandId: i.brandId })));
        }),
      ),
    );
  }

  /** Registrations waiting for their click. */
  get pending(): number {
    return this.waiting.length;
  }

  private async tick(): Promise<void> {
    if (this.busy || this.waiting.length === 0) return;
    this.busy = true;
    const batch = this.waiting;
    this.waiting = [];
    try {
      const missing = batch.filter((w) => !this.recent.get(w.clickId));
      const found = missing.length > 0 ? await this.lookup([...new Set(missing.map((w) => w.clickId))]) : new Map<string, ClickInfo>();
      const now = Date.now();
      for (const w of batch) {
        const click = this.recent.get(w.clickId) ?? found.get(w.clickId);
        if (!click && now - timeOfClickId(w.clickId) < GIVE_UP_MS) this.waiting.push(w);
        else this.answer(w.partition, { playerKey: w.playerKey, brandId: w.brandId, clickId: w.clickId, click: click ?? null });
      }
    } catch (err) {
      this.log.warn({ err: String(err), waiting: batch.length }, 'click resolution failed; retrying');
      this.waiting.push(...batch);
    } finally {
      this.busy = false;
    }
  }

  private async lookup(ids: string[]): Promise<Map<string, ClickInfo>> {
    const rs = await this.ch.query({
      query: `SELECT click_id, partition, toUInt32(ts) AS ts, ts_ms, brand_id, affiliate_id, code, campaign, sub1, country, bot, geo_blocked,
                     toString(affiliate_status) AS affiliate_status, ip, fraud_score, flagged, sub_status
              FROM click_lookup WHERE click_id IN (${ids.map((id) => `'${id}'`).join(',')})`,
      format: 'JSONEachRow',
    });
    const out = new Map<string, ClickInfo>();
    for (const r of await rs.json<ClickLookupRow>()) out.set(r.click_id, clickInfoOf(r));
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
