import { clickRecorded, subs } from '../kit/actors.ts';
import { describe, expect, it } from 'vitest';
import { clickMinutes, creditMinutes, eventMinutes, type MinuteSums } from '../../workers/sink/aggregates.ts';
import type { CreditPart } from '../../workers/sink/creditRow.ts';
import { clickRow } from '../../workers/sink/clickRow.ts';
import type { ClickRecorded } from '../../schema/wire.ts';
import type { EventRow } from '../../workers/sink/eventRow.ts';

const T = Date.UTC(2026, 10, 20, 12, 0, 30);
const click = (over: Partial<ClickRecorded>): ClickRecorded => clickRecorded({ ts: T, campaign: 'c1', subs: subs('s1'), ...over });
const ev = (over: Record<string, string | number>): EventRow => ({
  ts: Math.floor(T / 1000), brand_id: 'b', affiliate_id: 'a', sub1: 's1', campaign: 'c1', country: 'MT', click_country: 'DE', type: 'deposit',
  amount: '0.0000', is_ftd: 0, ggr: '0.0000', bonus_cost: '0.0000', chargeback: '0.0000', ngr: '0.0000', ...over,
});

/** Sum `messages` (partition, seq, rows) the way the sink does as it queues them; the rows of the flush. */
function flushRows<R>(sums: MinuteSums<R, unknown>, messages: Array<[number, number, R[]]>, skip?: (partition: number, seq: number) => boolean) {
  const last = new Map<number, number>();
  for (const [partition, seq, rows] of messages) {
    sums.add(partition, rows);
    last.set(partition, Math.max(last.get(partition) ?? 0, seq));
  }
  return [...sums.rows(last, skip)];
}

describe('worker aggregates', () => {
  it('sum clicks per partition and minute key, tagged with the partition last sequence', () => {
    const at = (seq: number, idx: number) => ({ partition: 1, seq, idx, edge: 'e', batchSeq: 1 });
    const rows = flushRows(clickMinutes(), [
      [1, 5, [clickRow(click({}), { unique: true, flagged: false, score: 0 }, at(5, 0)), clickRow(click({ flags: 1 }), { unique: false, flagged: false, score: 0 }, at(5, 1))]],
      [1, 9, [clickRow(click({ ts: T + 60_000 }), { unique: true, flagged: false, score: 0 }, at(9, 0))]],
      [2, 3, [clickRow(click({}), { unique: false, flagged: false, score: 0 }, { ...at(3, 0), partition: 2 })]],
    ]);
    expect(rows.map((r) => [r.partition, r.seq, r.minute, r.clicks, r.unique_clicks, r.bot_clicks])).toEqual([
      [1, 9, Math.floor(T / 60_000) * 60, 2, 1, 1],
      [1, 9, Math.floor(T / 60_000) * 60 + 60, 1, 1, 0],
      [2, 3, Math.floor(T / 60_000) * 60, 1, 0, 0],
    ]);
  });

  it('sum event money exactly, by the click country of attributed players', () => {
    const [row] = flushRows(eventMinutes(), [
      [
        0, 1,
        [
          ev({ type: 'registration' }),
          ev({ amount: '0.1000', is_ftd: 1, ngr: '-0.0020' }),
          ev({ amount: '0.2000', ngr: '-0.0040' }),
          ev({ type: 'withdrawal', amount: '1.0000' }),
          ev({ type: 'bet', amount: '3.0000', ggr: '2.7000', ngr: '2.4300' }),
        ],
      ],
    ]);
    expect(row).toMatchObject({
      country: 'DE', registrations: 1, ftds: 1, deposits: 2, ftd_amount: '0.1000', deposit_amount: '0.3000', withdrawal_amount: '1.0000', ggr: '2.7000', ngr: '2.4240',
    });
  });

  it('sum credit shares per minute, affiliate and rules version, money exact', () => {
    const part = (over: Partial<CreditPart>): CreditPart => ({
      ts: Math.floor(T / 1000), brand_id: 'b', affiliate_id: 'a1', sub1: 's', campaign: 'c', rules_version: 'position@1',
      registrations_bp: 0, ftds_bp: 0, ftd_amount: 0n, deposit_amount: 0n, ngr: 0n, ...over,
    });
    const rows = flushRows(creditMinutes(), [
      [2, 4, [part({ registrations_bp: 4000 }), part({ affiliate_id: 'a2', registrations_bp: 6000 })]],
      [2, 6, [part({ ftds_bp: 4000, ftd_amount: 400_001n, deposit_amount: 400_001n, ngr: -3n }), part({ rules_version: 'linear@2', ngr: 1n })]],
    ]);
    expect(rows).toEqual([
      { partition: 2, seq: 6, minute: Math.floor(T / 60_000) * 60, brand_id: 'b', affiliate_id: 'a1', sub1: 's', campaign: 'c', rules_version: 'position@1', registrations_bp: 4000, ftds_bp: 4000, ftd_amount: '40.0001', deposit_amount: '40.0001', ngr: '-0.0003' },
      { partition: 2, seq: 6, minute: Math.floor(T / 60_000) * 60, brand_id: 'b', affiliate_id: 'a2', sub1: 's', campaign: 'c', rules_version: 'position@1', registrations_bp: 6000, ftds_bp: 0, ftd_amount: '0.0000', deposit_amount: '0.0000', ngr: '0.0000' },
      { partition: 2, seq: 6, minute: Math.floor(T / 60_000) * 60, brand_id: 'b', affiliate_id: 'a1', sub1: 's', campaign: 'c', rules_version: 'linear@2', registrations_bp: 0, ftds_bp: 0, ftd_amount: '0.0000', deposit_amount: '0.0000', ngr: '0.0001' },
    ]);
  });

  it('leave out the partitions a retry finds already landed', () => {
    const part = (affiliate_id: string) => ({
      ts: Math.floor(T / 1000), brand_id: 'b', affiliate_id, sub1: 's', campaign: 'c', rules_version: 'last_click@1',
      registrations_bp: 10_000, ftds_bp: 0, ftd_amount: 0n, deposit_amount: 0n, ngr: 0n,
    });
    const rows = flushRows(creditMinutes(), [[1, 7, [part('a1')]], [2, 8, [part('a2')]], [1, 9, [part('a3')]]], (partition, seq) => partition === 2 && seq <= 8);
    expect(rows.map((r) => [r.partition, r.seq, r.affiliate_id])).toEqual([[1, 9, 'a1'], [1, 9, 'a3']]);
  });
});
