import { describe, expect, it } from 'vitest';
import { checkId, parseAffiliate, parseBrand, parseLink } from '../../schema/catalog.ts';
import { refusal } from '../kit/errors.ts';


describe('catalog validation', () => {
  it('accepts a full brand and fills defaults', () => {
    const b = parseBrand('b1', { name: 'B', currency: 'eur', restrictedCountries: ['us', 'FR', 'US'], restrictedUrl: 'https://x.example/r' });
    expect(b).toMatchObject({ currency: 'EUR', restrictedCountries: ['US', 'FR'], attributionWindowDays: 30, ngr: { paymentFeePct: 0, gamingTaxPct: 0 } });
  });

  it('rejects bad brands naming the field', () => {
    expect(refusal(() => parseBrand('b', { currency: 'EUR' }))).toMatch(/^invalid_field name/);
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EURO' }))).toMatch(/currency/);
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', restrictedCountries: ['USA'] }))).toMatch(/restrictedCountries/);
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', attributionWindowDays: 0 }))).toMatch(/attributionWindowDays/);
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', color: 'red' }))).toMatch(/color: is not a field/);
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', restrictedUrl: 'javascript:alert(1)' }))).toMatch(/restrictedUrl/);
  });

  it('brands have a time zone and KYC gating, defaulted for bodies without them', () => {
    expect(parseBrand('b', { name: 'B', currency: 'EUR' })).toMatchObject({ timezone: 'UTC', kycGating: false });
    expect(parseBrand('b', { name: 'B', currency: 'EUR', timezone: 'Europe/Malta', kycGating: true })).toMatchObject({ timezone: 'Europe/Malta', kycGating: true });
    // Only the case is corrected, to the spelling ClickHouse's zone files use too.
    expect(parseBrand('b', { name: 'B', currency: 'EUR', timezone: 'europe/malta' }).timezone).toBe('Europe/Malta');
    expect(parseBrand('b', { name: 'B', currency: 'EUR', timezone: 'Asia/Kolkata' }).timezone).toBe('Asia/Kolkata');
    for (const tz of ['Mars/Olympus', '+01:00', 'CET; DROP TABLE x', '', 3]) {
      expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', timezone: tz }))).toMatch(/^invalid_field timezone: must be an IANA time zone/);
    }
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', kycGating: 'yes' }))).toMatch(/^invalid_field kycGating: must be true or false/);
  });

  it('brands have a reconciliation threshold, a percentage with at most 2 decimals, 0.5 by default', () => {
    expect(parseBrand('b', { name: 'B', currency: 'EUR' }).reconciliationThresholdPct).toBe(0.5);
    expect(parseBrand('b', { name: 'B', currency: 'EUR', reconciliationThresholdPct: 0.29 }).reconciliationThresholdPct).toBe(0.29);
    expect(parseBrand('b', { name: 'B', currency: 'EUR', reconciliationThresholdPct: 0 }).reconciliationThresholdPct).toBe(0);
    for (const v of [-1, 100.01, 0.555, '1', 1e-7]) {
      expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', reconciliationThresholdPct: v }))).toMatch(/^invalid_field reconciliationThresholdPct: must/);
    }
    // The NGR percentages follow the same rule, named by their path.
    expect(parseBrand('b', { name: 'B', currency: 'EUR', ngr: { paymentFeePct: 0.29 } }).ngr.paymentFeePct).toBe(0.29);
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', ngr: { gamingTaxPct: 101 } }))).toMatch(/^invalid_field ngr\.gamingTaxPct: must be a number from 0 to 100/);
  });

  it('an affiliate has a plan per brand', () => {
    expect(parseAffiliate('a', { name: 'A' })).toMatchObject({ planId: null, plans: {} });
    expect(parseAffiliate('a', { name: 'A', planId: 'p1', plans: { b2: 'p2', b3: 'p3' } }).plans).toEqual({ b2: 'p2', b3: 'p3' });
    // A brand id may spell an Object property: it stays a key.
    const proto = parseAffiliate('a', { name: 'A', ...JSON.parse('{"plans": {"__proto__": "p1"}}') }).plans;
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(refusal(() => parseAffiliate('a', { name: 'A', plans: ['p1'] }))).toMatch(/^invalid_field plans: must be an object/);
    expect(refusal(() => parseAffiliate('a', { name: 'A', plans: { 'b 1': 'p1' } }))).toMatch(/^invalid_field plans: keys must be brand ids/);
    expect(refusal(() => parseAffiliate('a', { name: 'A', plans: { b1: 7 } }))).toMatch(/^invalid_field plans\.b1: must be a plan id/);
  });

  it('unknown keys inside an object are named by their path', () => {
    expect(refusal(() => parseBrand('b', { name: 'B', currency: 'EUR', ngr: { fee: 1 } }))).toMatch(/^invalid_field ngr\.fee: is not a field; allowed: paymentFeePct, gamingTaxPct$/);
  });

  it('checks affiliates and links', () => {
    expect(parseAffiliate('a', { name: 'A' }).status).toBe('active');
    expect(refusal(() => parseAffiliate('a', { name: 'A', status: 'gone' }))).toMatch(/status/);
    expect(refusal(() => parseAffiliate('a', { name: 'A', parentId: 'a' }))).toMatch(/parentId/);
    expect(parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'https://x.example/?c={click_id}&s={sub10}' }).campaign).toBe('');
    expect(refusal(() => parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'https://x.example/?c={clickid}' }))).toMatch(/unknown macro \{clickid\}/);
    expect(refusal(() => parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'ftp://x.example/' }))).toMatch(/landingUrl/);
    // The URL parser would drop the line break; the 302 would not: no header injection through the catalog.
    expect(refusal(() => parseLink('l', { brandId: 'b', affiliateId: 'a', landingUrl: 'https://x.example/\r\nSet-Cookie: a=b' }))).toMatch(/^invalid_field landingUrl: .*control characters/);
    expect(refusal(() => parseLink('l', { brandId: 'b b', affiliateId: 'a', landingUrl: 'https://x.example/' }))).toMatch(/^invalid_id/);
  });

  it('ids are [A-Za-z0-9_-]{1,64}', () => {
    expect(checkId('A-z_09', 'id')).toBe('A-z_09');
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(65), 'é']) expect(refusal(() => checkId(bad, 'id'))).toMatch(/^invalid_id/);
  });
});
