import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../schema/events.ts';
import { postbackFields } from '../../node/ingest/postback.ts';
import { AffstreamError } from '../../schema/errors.ts';

const NOW = Date.UTC(2026, 10, 20, 12);
const base = { event_id: 'e1', player_id: 'p1' };

function code(raw: Record<string, unknown>): string {
  try {
    parseEvent(raw, 'b1', 'json', NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(AffstreamError);
    return (err as AffstreamError).code;
  }
  return 'accepted';
}

describe('event validation (every transport)', () => {
  it('normalizes each type', () => {
    expect(parseEvent({ ...base, type: 'deposit', amount: 50.1, currency: 'eur', ts: '2026-11-20T10:00:00Z', first: 'true' }, 'b1', 'postback', NOW)).toMatchObject({
      type: 'deposit', amount: '50.1000', currency: 'EUR', ts: Date.UTC(2026, 10, 20, 10), first: true, source: 'postback', brandId: 'b1',
    });
    expect(parseEvent({ ...base, type: 'bet', stake: '2', win: '0', currency: 'EUR' }, 'b1', 'json', NOW)).toMatchObject({ amount: '2.0000', win: '0.0000', category: 'other', ts: NOW });
    expect(parseEvent({ ...base, type: 'registration', click_id: 'not-a-click' }, 'b1', 'json', NOW).clickId).toBe('');
    expect(parseEvent({ ...base, type: 'registration', click_id: '01A1FB40-0EFA-78A7-B23E-632C6D65B1CE' }, 'b1', 'json', NOW).clickId).toBe('01a1fb40-0efa-78a7-b23e-632c6d65b1ce');
  });

  it('rejects with a code', () => {
    expect(code({ ...base })).toBe('missing_field');
    expect(code({ ...base, type: 'spin' })).toBe('unknown_type');
    expect(code({ ...base, type: 'deposit', currency: 'EUR' })).toBe('missing_field');
    expect(code({ ...base, type: 'deposit', amount: '1.00001', currency: 'EUR' })).toBe('invalid_field');
    expect(code({ ...base, type: 'deposit', amount: '-1', currency: 'EUR' })).toBe('invalid_field');
    expect(code({ ...base, type: 'deposit', amount: 1, currency: 'EURO' })).toBe('invalid_field');
    expect(code({ ...base, type: 'kyc', status: 'maybe' })).toBe('invalid_field');
    expect(code({ ...base, type: 'bet', stake: 1, currency: 'EUR', category: 'lottery' })).toBe('invalid_field');
    expect(code({ ...base, type: 'kyc', status: 'approved', brand: 'b2' })).toBe('brand_mismatch');
    expect(code({ ...base, type: 'kyc', status: 'approved', ts: NOW + 2 * 86_400_000 })).toBe('invalid_field');
    expect(code({ ...base, type: 'kyc', status: 'approved', ts: 'yesterday' })).toBe('invalid_field');
    expect(code({ ...base, type: 'kyc', status: 'approved', ts: '2026-11-20T10:00:00' })).toBe('invalid_field');
    expect(code({ type: 'kyc', status: 'approved', event_id: 'e', player_id: 12345678901234567890 })).toBe('invalid_field');
    expect(parseEvent({ type: 'kyc', status: 'approved', event_id: 'e', player_id: 1234567, ts: '2026-11-20T11:00:00+01:00' }, 'b1', 'json', NOW)).toMatchObject({ playerId: '1234567', ts: Date.UTC(2026, 10, 20, 10) });
    expect(code({ type: 'kyc', status: 'approved', event_id: 'has space', player_id: 'p' })).toBe('invalid_field');
    expect(code({ type: 'kyc', status: 'approved', event_id: 'x'.repeat(129), player_id: 'p' })).toBe('invalid_field');
    expect(code({ type: 'kyc', status: 'approved', event_id: { a: 1 }, player_id: 'p' })).toBe('invalid_field');
  });

  it('takes a malformed click id of any length as organic, and a null brand as none', () => {
    expect(parseEvent({ ...base, type: 'registration', click_id: `01a1fb40-0efa-78a7-b23e-632c6d65b1ce${'x'.repeat(100)}` }, 'b1', 'pixel', NOW).clickId).toBe('');
    expect(parseEvent({ ...base, type: 'registration', click_id: ' 01a1fb40-0efa-78a7-b23e-632c6d65b1ce ' }, 'b1', 'json', NOW).clickId).toBe('01a1fb40-0efa-78a7-b23e-632c6d65b1ce');
    expect(code({ ...base, type: 'registration', click_id: { id: 1 } })).toBe('invalid_field');
    expect(code({ ...base, type: 'kyc', status: 'approved', brand: null })).toBe('accepted');
  });

  it('reads postback parameters by their own names only: `constructor` or `__proto__` is no alias', () => {
    for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const raw = postbackFields(new URLSearchParams({ type, event_id: 'e1', player_id: 'p1' }));
      expect(raw.type).toBe(type);
      expect(code(raw)).toBe('unknown_type');
    }
    expect(postbackFields(new URLSearchParams({ constructor: 'x', txid: 't1' }))).toEqual({ constructor: 'x', event_id: 't1' });
    expect(postbackFields(new URLSearchParams({ type: 'ftd' }))).toEqual({ type: 'deposit', first: true });
  });
});
