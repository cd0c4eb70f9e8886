/**
 * The merge of revenue imports outside the actor (docs/commissions.md, “Revenue imports”): the
 * figures per affiliate the publisher sends, their wire format, their way through a partition loop
 * to the ledger, the postbacks and the answer, the messages per partition, and the brand's days.
 */
import { describe, expect, it } from 'vitest';
import { decodeRevenue, encodeRevenue, revenueId } from '../../schema/eventWire.ts';
import type { RevenueBatch } from '../../schema/commissions.ts';
import { WireError } from '../../schema/wire.ts';
import { partitionOf } from '../../schema/shard.ts';
import { Encoder } from '@msgpack/msgpack';
import { mergeImport, revenueItems, type RevenueMergeDeps } from '../../node/revenue/merge.ts';
import { revenueImportReply } from '../../node/revenue/api.ts';
import type { RevenueImportSummary } from '../../node/revenue/import.ts';
import { byPartition } from '../../node/commissions/partitionMessages.ts';
import { dayEnd, dayOf, periodEnd, periodOf } from '../../workers/commissions/periods.ts';
import { PartitionLoop } from '../../workers/runtime/partition.ts';
import { lineId, type PlayerActivity } from '../../workers/actors/commission.ts';
import type { Plan } from '../../schema/plans.ts';
import { partitionSettings } from '../kit/actors.ts';

const at = (iso: string): number => Date.parse(iso);

describe('revenue merge: the figures per affiliate', () => {
  it('sums each affiliate\u2019s figures per day, zeros where a query had none, days ascending, 4 places', () => {
    const items = revenueItems('imp-1', 'casino', 1234, [
      { affiliate: 'b', day: '2026-03-02', imported: '10.5' },
      { affiliate: 'a', day: '2026-03-03', live: '7.0000' },
      { affiliate: 'a', day: '2026-03-01', imported: '1.25' },
      { affiliate: 'a', day: '2026-03-01', live: '-3' },
      { affiliate: 'a', day: '2026-03-03' },
      { affiliate: 'c', day: '2026-03-01' },
    ]);
    expect(items).toEqual([
      { affiliateId: 'a', revenue: { id: 'imp-1.a', importId: 'imp-1', brandId: 'casino', at: 1234, days: [
        { day: '2026-03-01', imported: '1.2500', live: '-3.0000' }, { day: '2026-03-03', imported: '0.0000', live: '7.0000' },
      ] } },
      { affiliateId: 'b', revenue: { id: 'imp-1.b', importId: 'imp-1', brandId: 'casino', at: 1234, days: [{ day: '2026-03-02', imported: '10.5000', live: '0.0000' }] } },
      // Present in an earlier import of the day, nothing now: told zeros, so what it was given is taken back.
      { affiliateId: 'c', revenue: { id: 'imp-1.c', importId: 'imp-1', brandId: 'casino', at: 1234, days: [{ day: '2026-03-01', imported: '0.0000', live: '0.0000' }] } },
    ]);
  });
});

describe('revenue merge: wire format', () => {
  const batch: RevenueBatch = {
    id: 'batch-1.0', replyTo: '_INBOX.x',
    items: [{ affiliateId: 'a', revenue: { id: 'imp-1.a', importId: 'imp-1', brandId: 'casino', at: 99, days: [{ day: '2026-03-01', imported: '1.2500', live: '-3.0000' }, { day: '2026-03-02', imported: '0.0000', live: '5.0000' }] } }],
  };

  it('round-trips, with a message id of its own', () => {
    expect(decodeRevenue(encodeRevenue(batch))).toEqual(batch);
    expect(revenueId(batch.id)).toBe('rev.batch-1.0');
  });

  it('refuses days out of order or twice, bad days and bad money', () => {
    const encoder = new Encoder();
    const withDays = (days: unknown[]) => encoder.encode(['revenue', 'rev.b', '_INBOX.x', [['a', 'imp-1.a', 'imp-1', 'casino', 99, days]]]);
    expect(() => decodeRevenue(withDays([['2026-03-02', '1', '0'], ['2026-03-01', '1', '0']]))).toThrow(WireError);
    expect(() => decodeRevenue(withDays([['2026-03-02', '1', '0'], ['2026-03-02', '1', '0']]))).toThrow(WireError);
    expect(() => decodeRevenue(withDays([['2026-3-2', '1', '0']]))).toThrow(WireError);
    expect(() => decodeRevenue(withDays([['2026-03-02', '1.00001', '0']]))).toThrow(WireError);
    expect(() => decodeRevenue(withDays([['2026-03-02', 1, '0']]))).toThrow(WireError);
    expect(() => decodeRevenue(encoder.encode(['revenue', 'rev.b', '_INBOX.x', [['a', 'imp-1.a', 'imp-1', 'casino', '99', []]]]))).toThrow(WireError);
  });
});

describe('revenue merge: messages per partition', () => {
  it('groups by the affiliate\u2019s partition and cuts a partition\u2019s items into chunks of bounded weight', () => {
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((affiliateId, i) => ({ affiliateId, weight: i + 1 }));
    const chunks = byPartition(items, 2, (i) => i.weight, 6);
    for (const c of chunks) {
      expect(c.items.every((i) => partitionOf(i.affiliateId, 2) === c.partition)).toBe(true);
      // A single item heavier than the bound is a chunk of its own.
      expect(c.items.length === 1 || c.items.reduce((n, i) => n + i.weight, 0) <= 6).toBe(true);
    }
    expect(chunks.flatMap((c) => c.items).map((i) => i.affiliateId).sort()).toEqual(items.map((i) => i.affiliateId));
    expect(byPartition(items, 2).length).toBe(new Set(items.map((i) => partitionOf(i.affiliateId, 2))).size);
  });
});

describe('revenue merge: days of the brand\u2019s calendar', () => {
  it('a day ends at the next local midnight, 23 or 25 hours later across daylight saving; its period is its month', () => {
    expect(new Date(dayEnd('2026-03-28', 'Europe/Malta')).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(new Date(dayEnd('2026-03-29', 'Europe/Malta')).toISOString()).toBe('2026-03-29T22:00:00.000Z');
    expect(new Date(dayEnd('2026-10-25', 'Europe/Malta')).toISOString()).toBe('2026-10-25T23:00:00.000Z');
    expect(dayEnd('2026-03-31', 'Europe/Malta')).toBe(periodEnd('2026-03', 'Europe/Malta'));
    expect(dayEnd('2026-12-31', 'UTC')).toBe(at('2027-01-01T00:00:00Z'));
    expect(dayOf(at('2026-03-31T22:30:00Z'), 'Europe/Malta')).toBe('2026-04-01');
    expect(dayOf(at('2026-03-31T22:30:00Z'), 'UTC')).toBe('2026-03-31');
    expect(periodOf(at('2026-03-31T22:30:00Z'), 'Europe/Malta')).toBe('2026-04');
  });
});

describe('revenue merge: through a partition loop', () => {
  const plan: Plan = {
    id: 'rs', brandId: 'casino', currency: 'EUR', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    versions: [{ version: 1, effectiveFrom: '2026-01-01T00:00:00.000Z', cpa: null, revshare: { tiers: [{ from: '0', pct: '25' }], tierBy: 'ngr', carryOver: 'carry' }, subAffiliatePct: '0', holdDays: 0 }],
  };
  const settings = partitionSettings({ commission: { plan: () => plan, parentOf: () => null, brand: () => ({ timezone: 'UTC', currency: 'EUR', kycGating: false }) } });
  const activity: PlayerActivity = {
    brandId: 'casino', affiliateId: 'aff', playerId: 'p1', eventId: 'bet-1', eventType: 'bet', ts: at('2026-03-02T10:00:00Z'), clickId: 'c', sub1: '',
    registeredAt: at('2026-03-01T00:00:00Z'), country: 'DE', kyc: '', amount: '600.0000', isFtd: false,
    revenue: { ggr: '600.0000', bonusCost: '0.0000', chargeback: '0.0000', fees: '0.0000', tax: '0.0000', ngr: '600.0000' }, depositId: '', commissionable: true, hold: null,
  };
  const merge = (days: Array<{ day: string; imported: string; live: string }>): RevenueBatch => ({
    id: 'b.0', replyTo: '_INBOX.merge', items: [{ affiliateId: 'aff', revenue: { id: 'imp-1.aff', importId: 'imp-1', brandId: 'casino', at: at('2026-04-02T00:00:00Z'), days } }],
  });

  it('the adjustment line is a ledger row and a postback, and the publisher is answered after them', () => {
    const loop = new PartitionLoop(0, settings);
    loop.apply(1, { kind: 'forwarded', batch: { from: 1, fromSeq: 1, items: [{ actor: 'commission', key: 'aff', message: { type: 'PlayerActivity', activity } }] } });
    const close = loop.apply(2, { kind: 'tick', tick: { at: at('2026-04-01T00:00:00Z'), network: {} } });
    expect(close?.raw.commission_ledger.map((r) => r.amount)).toEqual(['150.0000']);
    const out = loop.apply(3, { kind: 'revenue', batch: merge([{ day: '2026-03-02', imported: '700.0000', live: '600.0000' }]) });
    const id = lineId('revshare', 'casino', 'aff', '2026-03', 'import', 'imp-1', '0');
    expect(out?.raw.commission_ledger).toEqual([expect.objectContaining({ id, version: 1, amount: '25.0000', ngr: '100.0000', reason: 'revenue import imp-1', source_event_id: 'imp-1', partition: 0, seq: 3, idx: 0 })]);
    expect(out?.outbox).toEqual([
      { kind: 'postback', job: expect.objectContaining({ id: `${id}.1`, kind: 'revshare', event: 'revshare', status: 'pending', payout: '25.0000', txid: 'imp-1' }) },
      { kind: 'answer', replyTo: '_INBOX.merge', body: { commandId: 'imp-1.aff', results: [{ commissionId: id, ok: true, status: 'pending' }] } },
    ]);
    // The same figures again: answered, nothing made.
    const again = loop.apply(4, { kind: 'revenue', batch: merge([{ day: '2026-03-02', imported: '700.0000', live: '600.0000' }]) });
    expect(again?.raw.commission_ledger).toEqual([]);
    expect(again?.outbox).toEqual([{ kind: 'answer', replyTo: '_INBOX.merge', body: { commandId: 'imp-1.aff', results: [] } }]);
  });
});

describe('revenue merge: after an import', () => {
  const summary: RevenueImportSummary = {
    importId: 'i-1', brandId: 'gone', fileName: 'r.csv', sha256: 'ab'.repeat(32), duplicate: false, timezone: 'UTC',
    startedAt: '2026-11-30T10:00:00.000Z', finishedAt: '2026-11-30T10:00:01.000Z',
    lines: 1, rows: 1, players: 1, days: 1, firstDay: '2026-11-01', lastDay: '2026-11-01', rejected: 0, rejections: [], superseded: [],
  };

  it('a merge that fails leaves the import done: the summary says why and how to retry, and the API answers 503 with it', async () => {
    // The brand is gone from the catalog: the merge fails before it reads or sends anything.
    const deps = { catalog: { brands: new Map() } } as unknown as RevenueMergeDeps;
    const logged: unknown[] = [];
    const merged = await mergeImport(deps, summary, (err) => logged.push(err));
    const error = { code: 'unknown_brand', message: 'import i-1 is done but its merge into the commission books failed (no brand gone): import the same file again to merge it' };
    expect(merged).toEqual({ ...summary, merge: { error } });
    // An AffstreamError is the answer's, not a failure to log.
    expect(logged).toEqual([]);
    const reply = revenueImportReply(merged);
    expect(reply.status).toBe(503);
    expect(JSON.parse(String(reply.body))).toEqual({ ok: false, error, ...merged });
  });

  it('a merge that was done is a 200 with the summary', () => {
    const merged = { ...summary, merge: { days: ['2026-11-01'], notOver: [], affiliates: 0, lines: [], applied: true } };
    const reply = revenueImportReply(merged);
    expect(reply.status).toBe(200);
    expect(JSON.parse(String(reply.body))).toEqual(merged);
  });
});
