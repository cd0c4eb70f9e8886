/**
 * Who is clicking: client IP behind trusted proxies, country from trusted headers, and whether the
 * visitor is a bot (SPEC §4, §7 rule 5). Pure functions of the request, no I/O.
 */
import { BlockList, isIP } from 'node:net';
import { isbot } from 'isbot';
import { memoized } from './memo.ts';

/** Addresses whose forwarding headers are believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** True when `ip` is one of the trusted proxies. */
  readonly has = memoized((ip) => {
    const v = isIP(ip);
    return v !== 0 && this.list.check(ip, v === 6 ? 'ipv6' : 'ipv4');
  });

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [addr = '', bits] = e.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
  }

  /**
   * The client address: the peer, unless the peer is trusted, in which case `X-Forwarded-For` is
   * walked from the right past trusted hops (the left-most entries are the client's to forge).
   */
  clientIp(peer: string, forwardedFor: string | undefined): string {
    if (!forwardedFor || !this.has(peer)) return peer;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = (hops[i] as string).trim();
      if (isIP(hop) === 0) return peer;
      if (!this.has(hop) || i === 0) return hop;
    }
    return peer;
  }
}

/** The visitor's ISO country from `CF-IPCountry` or `X-Country-Code`, believed only from a trusted peer; '' when unknown. */
export function visitorCountry(trustedPeer: boolean, cfCountry: string | undefined, xCountry: string | undefined): string {
  if (!trustedPeer) return '';
  const c = (cfCountry || xCountry || '').toUpperCase();
  // Cloudflare's XX (unknown) and T1 (Tor) are not countries.
  return /^[A-Z]{2}$/.test(c) && c !== 'XX' && c !== 'T1' ? c : '';
}

/** Request headers that mark a browser prefetch or prerender rather than a visit. */
export function isPrefetch(purpose: string | undefined, secPurpose: string | undefined, xMoz: string | undefined): boolean {
  return /prefetch|prerender/i.test(`${purpose ?? ''} ${secPurpose ?? ''} ${xMoz ?? ''}`);
}

/**
 * Bot by user agent: empty, garbled (too short to be a browser, or control characters), or
 * known to the isbot list (maintained upstream, ~1,000 crawler and tool patterns).
 */
export const isBotUserAgent = memoized((ua: string): boolean => {
  if (ua.length < 10) return true;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(ua)) return true;
  return isbot(ua);
});
