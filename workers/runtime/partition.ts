/**
 * One partition's ordered loop (DESIGN.md principle 2): every message of `ev.<p>`, in stream order,
 * routed to its actor; the effects come back as data for the host to carry out. Owns the
 * partition's actors and its position in the stream.
 */
import type { ClickBatch } from '../../schema/wire.ts';
import { handleAffiliate, initialAffiliateState, type AffiliateSettings, type AffiliateState } from '../actors/affiliate.ts';
import { clickRow, type ClickRow } from '../sink/clickRow.ts';

/** A partition's actors and stream position. */
export class PartitionLoop {
  readonly affiliates = new Map<string, AffiliateState>();
  /** Stream sequence of the last message applied (or already in ClickHouse at recovery). */
  lastSeq = 0;

  constructor(readonly partition: number, private readonly settings: AffiliateSettings) {}

  /** The affiliate actor for `id`, activated on first use. */
  affiliate(id: string): AffiliateState {
    let a = this.affiliates.get(id);
    if (!a) this.affiliates.set(id, (a = initialAffiliateState(id)));
    return a;
  }

  /**
   * Apply the message at stream sequence `seq`. Returns the rows it produces, or null when the
   * message was applied before (a redelivery, or already in ClickHouse).
   */
  apply(seq: number, batch: ClickBatch): ClickRow[] | null {
    if (seq <= this.lastSeq) return null;
    this.lastSeq = seq;
    const rows: ClickRow[] = [];
    batch.clicks.forEach((click, idx) => {
      for (const e of handleAffiliate(this.affiliate(click.affiliateId), { type: 'ClickRecorded', click }, this.settings)) {
        rows.push(clickRow(e.click, e.unique, { partition: this.partition, seq, idx, edge: batch.edge, batchSeq: batch.seq }));
      }
    });
    return rows;
  }
}
