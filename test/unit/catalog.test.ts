import { describe, expect, it } from 'vitest';
import { checkId, parseAffiliate, parseBrand, parseLink } from '../../schema/catalog.ts';
import { AffstreamError } from '../../schema/errors.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AffstreamError);
    return `${(err as AffstreamError).code} ${(err as AffstreamError).message}`;
  }
  throw new Error('expected a rejection');
}

describe('catalog validation', () => {
  it('accepts a full brand and fills defaults', () => {
    const b = parseBrand('b1', { name: 'B', currency: 'eur', restrictedCountries: ['us', 'FR', 'US'], restrictedUrl: 'https://x.example/r' });
    expect(b).toMatchObject({ currency: 'EUR', restrictedCountries: ['US', 'FR'], attributionWindowDays: 30, ngr: { paymentFeePct: 0, gamingTaxPct: 0 } });
  });

  it('rejects bad brands naming the field', () => {
    expect(code(() => parseBrand('b', { currency: 'EUR' }))).toMatch(/^invalid_field name/);
    expect(code(() => parseBrand('b', { name: 'B', currency: 'EURO' }))).toMatch(/currency/);
    expect(code(() => parseBrand('b', { name: 'B', currency: 'EUR', restrictedCountries: ['USA'] }))).toMatch(/restrictedCountries/);
    expect(code(() => parseBrand('b', { name: 'B', currency: 'EUR', attributionWindowDays: 0 }))).toMatch(/attributionWindowDays/);
    expect(code(() => parseBrand('b', { name: 'B', currency: 'EUR', color: 'red' }))).toMatch(/color: is not a field/);
    expect(code(() => parseBrand('b', { name: 'B', currency: 'EUR', restrictedUrl: 'javascript:alert(1)' }))).toMatch(/restrictedUrl/);
  });

  it('checks affiliates and links', () => {
    expect(parseAffiliate('a', { name: 'A' }).status).toBe('active');
    expect(code(() => parseAffiliate('a', { name: 'A', status: 'gone' }))).toMatch(/status/);
    expect(code(() => parseAffiliate('a', { name: 'A', parentId: 'a' }))).toMatch(/parentId/);
    expect(parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'https://x.example/?c={click_id}&s={sub10}' }).campaign).toBe('');
    expect(code(() => parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'https://x.example/?c={clickid}' }))).toMatch(/unknown macro \{clickid\}/);
    expect(code(() => parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'ftp://x.example/' }))).toMatch(/landingUrl/);
    // The URL parser would drop the line break; the 302 would not: no header injection through the catalog.
    expect(code(() => parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'https://x.example/\r\nSet-Cookie: a=b' }))).toMatch(/^invalid_field landingUrl: .*control characters/);
    expect(code(() => parseLink('l', { brandId: 'b b', affiliateId: 'a', landingUrl: 'https://x.example/' }))).toMatch(/^invalid_id/);
  });

  it('ids follow SPEC §3', () => {
    expect(checkId('A-z_09', 'id')).toBe('A-z_09');
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(65), 'é']) expect(code(() => checkId(bad, 'id'))).toMatch(/^invalid_id/);
  });
});
