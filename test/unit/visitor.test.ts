import { describe, expect, it } from 'vitest';
import { isBotUserAgent, isPrefetch, TrustedProxies, visitorCountry } from '../../node/visitor.ts';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

describe('client IP', () => {
  const proxies = new TrustedProxies(['127.0.0.0/8', '::1', '10.1.0.0/16']);

  it('believes X-Forwarded-For only from a trusted peer', () => {
    expect(proxies.clientIp('127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    expect(proxies.clientIp('198.51.100.1', '203.0.113.9')).toBe('198.51.100.1');
    expect(proxies.clientIp('::1', '2001:db8::1')).toBe('2001:db8::1');
  });

  it('walks the chain from the right past trusted hops', () => {
    expect(proxies.clientIp('127.0.0.1', '6.6.6.6, 203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    expect(proxies.clientIp('127.0.0.1', '10.1.0.5, 10.1.2.3')).toBe('10.1.0.5');
  });

  it('falls back to the peer on garbage', () => {
    expect(proxies.clientIp('127.0.0.1', 'not-an-ip')).toBe('127.0.0.1');
    expect(proxies.clientIp('127.0.0.1', '')).toBe('127.0.0.1');
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
  });
});

describe('bots', () => {
  it('flags known bots, empty and garbled user agents, prefetches', () => {
    expect(isBotUserAgent(CHROME)).toBe(false);
    for (const ua of ['', 'curl/8.0', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'python-requests/2.31', 'Mozilla/5.0\u0000\u0001garbage']) {
      expect(isBotUserAgent(ua)).toBe(true);
    }
    expect(isPrefetch('prefetch', undefined, undefined)).toBe(true);
    expect(isPrefetch(undefined, 'prefetch;prerender', undefined)).toBe(true);
    expect(isPrefetch(undefined, undefined, undefined)).toBe(false);
  });
});
