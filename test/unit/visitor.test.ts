import { describe, expect, it } from 'vitest';
import { isClickId, timeOfClickId } from '../../schema/clickId.ts';
import { isIPv4 } from 'node:net';
import { TrustedProxies, VISITOR_COOKIE, isBotUserAgent, isPrefetch, newVisitorId, parseIpv4, userAgent, visitorCountry, visitorIdFromCookie } from '../../node/visitor.ts';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

describe('client IP', () => {
  const proxies = new TrustedProxies(['127.0.0.0/8', '::1', '10.1.0.0/16', '192.0.2.7']);

  it('knows its trusted proxies, IPv4 in arithmetic and IPv6 through the BlockList', () => {
    for (const ip of ['127.0.0.1', '127.255.255.255', '10.1.0.0', '10.1.255.255', '192.0.2.7', '::1']) expect(proxies.has(ip)).toBe(true);
    for (const ip of ['128.0.0.1', '10.2.0.1', '10.0.255.255', '192.0.2.8', '::2', 'not-an-ip', '']) expect(proxies.has(ip)).toBe(false);
    expect(proxies.hasIpv4(parseIpv4('10.1.2.3'))).toBe(true);
    expect(proxies.hasIpv4(parseIpv4('11.1.2.3'))).toBe(false);
    expect(new TrustedProxies(['0.0.0.0/0']).has('203.0.113.9')).toBe(true);
  });

  it('reads X-Forwarded-For, walking the chain from the right past trusted hops', () => {
    expect(proxies.forwardedClient('203.0.113.9')).toBe('203.0.113.9');
    expect(proxies.forwardedClient(' 203.0.113.9 ')).toBe('203.0.113.9');
    expect(proxies.forwardedClient('2001:db8::1')).toBe('2001:db8::1');
    expect(proxies.forwardedClient('6.6.6.6, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    expect(proxies.forwardedClient('10.1.0.5, 10.1.2.3')).toBe('10.1.0.5');
    expect(proxies.forwardedClient('2001:db8::1, ::1')).toBe('2001:db8::1');
  });

  it('names no client on garbage, so the peer is the client', () => {
    for (const xff of ['not-an-ip', '', undefined, '1.2.3.4, junk', '1.2.3', '01.2.3.4']) expect(proxies.forwardedClient(xff)).toBe('');
  });

  it('parses IPv4 exactly as net.isIPv4 accepts it', () => {
    const cases = ['0.0.0.0', '255.255.255.255', '1.2.3.4', '10.0.0.1', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.02.3.4', '1..3.4', '.1.2.3', '1.2.3.',
      '1.2.3.4 ', ' 1.2.3.4', '1.2.3.a', '1000.1.1.1', '199.199.199.199', '249.250.251.252', '0.00.0.0', '::1', '::ffff:1.2.3.4', ''];
    for (const c of cases) expect(parseIpv4(c) >= 0, c).toBe(isIPv4(c));
    expect(parseIpv4('1.2.3.4')).toBe(0x01020304);
    expect(parseIpv4('255.255.255.255')).toBe(0xffff_ffff);
  });
});

describe('country', () => {
  it('comes from trusted headers only, CF first', () => {
    expect(visitorCountry(true, 'de', 'FR')).toBe('DE');
    expect(visitorCountry(true, undefined, 'fr')).toBe('FR');
    expect(visitorCountry(false, 'DE', 'FR')).toBe('');
    expect(visitorCountry(true, 'XX', '')).toBe('');
    expect(visitorCountry(true, 'T1', '')).toBe('');
    expect(visitorCountry(true, 'DEU', '')).toBe('');
    expect(visitorCountry(true, '', 'xx')).toBe('');
    expect(visitorCountry(true, 'd1', '')).toBe('');
  });
});

describe('bots', () => {
  it('flags known bots, empty and garbled user agents, prefetches', () => {
    expect(isBotUserAgent(CHROME)).toBe(false);
    for (const ua of ['', 'curl/8.0', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'python-requests/2.31', 'Mozilla/5.0\u0000\u0001garbage']) {
      expect(isBotUserAgent(ua)).toBe(true);
    }
    expect(userAgent(CHROME)).toEqual({ text: CHROME, bot: false });
    expect(userAgent('curl/8.0').bot).toBe(true);
    expect(userAgent(CHROME.split('').join(''))).toBe(userAgent(CHROME));
    expect(isPrefetch('prefetch', undefined, undefined)).toBe(true);
    expect(isPrefetch(undefined, 'prefetch;prerender', undefined)).toBe(true);
    expect(isPrefetch(undefined, undefined, 'PreRender')).toBe(true);
    expect(isPrefetch(undefined, undefined, undefined)).toBe(false);
    expect(isPrefetch('', '', '')).toBe(false);
  });
});

describe('visitor cookie', () => {
  const NOW = Date.UTC(2026, 10, 21, 12);
  const vid = newVisitorId(NOW - 86_400_000);

  it('is a new lower-case UUIDv7 of the given time, unique per call', () => {
    expect(isClickId(vid)).toBe(true);
    expect(timeOfClickId(vid)).toBe(NOW - 86_400_000);
    expect(new Set(Array.from({ length: 1000 }, () => newVisitorId(NOW))).size).toBe(1000);
  });

  it('reuses a valid visitor id wherever it sits in the Cookie header', () => {
    for (const header of [`${VISITOR_COOKIE}=${vid}`, `a=1; ${VISITOR_COOKIE}=${vid}`, `${VISITOR_COOKIE}=${vid}; b=2`, `x_${VISITOR_COOKIE}=zz;${VISITOR_COOKIE}=${vid};c=3`]) {
      expect(visitorIdFromCookie(header, NOW)).toBe(vid);
    }
  });

  it('ignores what it did not make: absent, other names, malformed, upper case, not v7, dated in the future', () => {
    const future = newVisitorId(NOW + 120_000);
    for (const header of [
      '', 'a=1', `my${VISITOR_COOKIE}=${vid}`, `${VISITOR_COOKIE}=${vid.slice(0, 35)}`, `${VISITOR_COOKIE}=${vid}0`, `${VISITOR_COOKIE}=${vid.toUpperCase()}`,
      `${VISITOR_COOKIE}=${vid.slice(0, 14)}4${vid.slice(15)}`, `${VISITOR_COOKIE}=${vid.slice(0, 19)}c${vid.slice(20)}`, `${VISITOR_COOKIE}=${vid.replace(/-/g, 'x')}`,
      `${VISITOR_COOKIE}=${future}`,
    ]) {
      expect(visitorIdFromCookie(header, NOW)).toBe('');
    }
    // A little clock skew between edges is not forgery.
    expect(visitorIdFromCookie(`${VISITOR_COOKIE}=${newVisitorId(NOW + 30_000)}`, NOW)).not.toBe('');
  });
});
