/**
 * The one ingestion path every transport calls (postback, JSON, msgpack, WebSocket, pixel):
 * validate each event, convert foreign currencies, drop duplicates, publish the rest to their
 * players' partitions and answer only once JetStream has them: acknowledged means durable
 * (docs/protocol.md, “6. Idempotency and durability”). Valid events of a batch are accepted even
 * when others are rejected.
 */
import { AffstreamError, type ErrorCode } from '../../schema/errors.ts';
import { parseEvent, type EventSource, type PlayerEvent } from '../../schema/events.ts';
import { MAX_AMOUNT_DIGITS, multiply, parseMoney, storable, toDecimalText } from '../../schema/money.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import type { Brand } from '../../schema/catalog.ts';
import type { Catalog } from '../../schema/catalogStore.ts';
import type { EventDedupe } from './dedupe.ts';
import { PartitionPublisher } from './partitionPublisher.ts';
import type { AckedPublisher } from '../ackedPublisher.ts';

/** One rejected event of a batch (docs/protocol.md, “3. Batches over HTTP”). */
export interface Rejection {
  index: number;
  code: ErrorCode;
  message: string;
}

/** The answer to a batch (docs/protocol.md, “3. Batches over HTTP”). */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/** Dependencies of {@link Ingest}. */
export interface IngestDeps {
  /** The edge's acked publisher (shared with the click path). */
  acks: AckedPublisher;
  names: NatsNames;
  partitions: number;
  catalog: Catalog;
  dedupe: EventDedupe;
  instance: string;
  /** Count accepted events by type. */
  count(type: string, n: number): void;
}

/** Converts an event's money to the brand's currency, keeping the original (docs/protocol.md, “Currency”). */
function convert(e: PlayerEvent, brand: Brand, catalog: Catalog): void {
  if (!e.currency || e.currency === brand.currency) return;
  const rate = catalog.rates.get(`${e.currency}-${brand.currency}`);
  if (!rate) throw new AffstreamError('invalid_field', `currency ${e.currency}: no rate to ${brand.currency} (PUT /api/v1/rates/${e.currency}-${brand.currency})`);
  const r = parseMoney(rate.rate) as bigint;
  e.originalAmount = e.amount;
  e.originalCurrency = e.currency;
  e.amount = toDecimalText(multiply(parseMoney(e.amount) as bigint, r));
  e.win = toDecimalText(multiply(parseMoney(e.win) as bigint, r));
  if (!storable(e.amount) || !storable(e.win)) {
    throw new AffstreamError('invalid_field', `the amount converted to ${brand.currency} at ${rate.rate} has more than ${MAX_AMOUNT_DIGITS} integer digits`);
  }
  e.currency = brand.currency;
}

/** Validates, deduplicates and publishes events. */
export class Ingest {
  private readonly publisher: PartitionPublisher;

  constructor(private readonly d: IngestDeps) {
    this.publisher = new PartitionPublisher(d);
  }

  /** The brand, or 404 `unknown_brand`. */
  brand(brandId: string): Brand {
    const b = this.brandOrUndefined(brandId);
    if (!b) throw new AffstreamError('unknown_brand', `no brand ${brandId}`);
    return b;
  }

  /** The brand, if it exists. */
  brandOrUndefined(brandId: string): Brand | undefined {
    return this.d.catalog.brands.get(brandId);
  }

  /**
   * Ingest raw events (the field names of docs/protocol.md, “1. Events”) for `brand`; resolves once
   * the accepted ones are durable.
   */
  async ingest(brand: Brand, raws: unknown[], source: EventSource): Promise<IngestResult> {
    const now = Date.now();
    const rejected: Rejection[] = [];
    const valid: PlayerEvent[] = [];
    const inBatch = new Set<string>();
    let duplicates = 0;
    raws.forEach((raw, index) => {
      try {
        const e = parseEvent(raw as Record<string, unknown>, brand.id, source, now);
        convert(e, brand, this.d.catalog);
        if (inBatch.has(e.eventId)) duplicates++;
        else {
          inBatch.add(e.eventId);
          valid.push(e);
        }
      } catch (err) {
        if (!(err instanceof AffstreamError)) throw err;
        rejected.push({ index, code: err.code, message: err.message });
      }
    });
    const claims = await this.d.dedupe.claim(brand.id, valid.map((e) => e.eventId));
    const fresh = valid.filter((_, i) => claims[i] === 'new');
    // Copies of events in flight elsewhere are published too: answered as duplicates only once
    // durable whatever became of the first copy, and counted once by their partition.
    const published = claims.includes('in_flight') ? valid.filter((_, i) => claims[i] !== 'duplicate') : fresh;
    duplicates += valid.length - fresh.length;
    try {
      await this.publisher.publish(published, now);
    } catch (err) {
      this.d.dedupe.release(brand.id, fresh.map((e) => e.eventId));
      throw err;
    }
    this.d.dedupe.confirm(brand.id, published.map((e) => e.eventId));
    const byType = new Map<string, number>();
    for (const e of fresh) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
    for (const [t, n] of byType) this.d.count(t, n);
    return { accepted: fresh.length, duplicates, rejected };
  }
}
