/**
 * Who is clicking: client IP behind trusted proxies, country from trusted headers, the visitor
 * cookie, and whether the visitor is a bot (docs/architecture.md, “Clicks” and “Attribution”;
 * docs/fraud.md, rule 5). Pure functions of the request, no I/O.
 */
import { BlockList, isIP } from 'node:net';
import { isbot } from 'isbot';
import { newClickId } from '../schema/clickId.ts';
import { memoized } from './memo.ts';

/**
 * Name of the first-party cookie that identifies a visitor across clicks (multi-touch attribution:
 * docs/architecture.md, “Attribution”).
 */
export const VISITOR_COOKIE = 'affstream_vid';

/**
 * Lifetime of the visitor cookie, renewed at every click: 400 days, the longest browsers keep a
 * cookie (Chrome caps `Max-Age` there), so a visitor stays one visitor across any attribution window.
 */
export const VISITOR_COOKIE_MAX_AGE_S = 400 * 86_400;

/** A visitor id from a cookie dated this far ahead of the edge's clock is forged, not skewed. */
const MAX_FUTURE_MS = 60_000;

const NEEDLE = `${VISITOR_COOKIE}=`;

/** A lower-case UUIDv7 ending the cookie value (at the header's end, `;` or a space), matched where the value starts. */
const UUID_V7 = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}(?![^; ])/y;

/**
 * The visitor id in a `Cookie` header, or '' when there is none worth keeping: it must be a
 * lower-case canonical UUIDv7 (what {@link newVisitorId} makes) not dated in the future — anything
 * else is replaced by a new id. Runs on every redirect: no split of the header, no substring but
 * the id returned (a sticky regex checks the value in place; the time is read digit by digit).
 */
export function visitorIdFromCookie(header: string, now: number): string {
  for (let at = header.indexOf(NEEDLE); at >= 0; at = header.indexOf(NEEDLE, at + 1)) {
    const before = at === 0 ? 59 : header.charCodeAt(at - 1);
    if (before !== 59 && before !== 32) continue;
    const from = at + NEEDLE.length;
    UUID_V7.lastIndex = from;
    if (!UUID_V7.test(header)) return '';
    let ts = 0;
    for (let i = 0; i < 13; i++) {
      const c = header.charCodeAt(from + i);
      if (i !== 8) ts = ts * 16 + (c <= 57 ? c - 48 : c - 87);
    }
    return ts <= now + MAX_FUTURE_MS ? header.slice(from, from + 36) : '';
  }
  return '';
}

/**
 * A new visitor id: a UUIDv7 (RFC 9562) of the visitor's first click, made by the click id
 * generator with random `rand_a` bits where a click id has its shard. Its time says since when the
 * visitor is known, which tells the worker whether its memory holds all the visitor's clicks.
 */
export function newVisitorId(msecs: number): string {
  return newClickId((Math.random() * 4096) | 0, msecs);
}

/**
 * An IPv4 address in dotted-quad text as an unsigned 32-bit number, or -1 when `s` is not one.
 * Accepts exactly what `net.isIPv4` accepts (no leading zeros, no spaces), without its regex.
 */
export function parseIpv4(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      addr = addr * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return addr * 256 + octet;
}

/** `s.slice(from, to).trim()` for the usual case of nothing to trim, without the trim. */
function trimmed(s: string, from: number, to: number): string {
  const first = s.charCodeAt(from);
  const last = s.charCodeAt(to - 1);
  const hop = s.slice(from, to);
  return first > 32 && first < 127 && last > 32 && last < 127 ? hop : hop.trim();
}

/** Addresses whose forwarding headers are believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** IPv4 ranges as network, mask, network, mask…, checked in arithmetic: node's BlockList costs microseconds per address. */
  private readonly v4: number[] = [];
  /** True when `ip` (text) is one of the trusted proxies. */
  readonly has = memoized((ip) => {
    const v4 = parseIpv4(ip);
    if (v4 >= 0) return this.hasIpv4(v4);
    return isIP(ip) === 6 && this.list.check(ip, 'ipv6');
  });

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [addr = '', bits] = e.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
      const v4 = parseIpv4(addr);
      if (v4 >= 0) {
        const prefix = bits === undefined ? 32 : Number(bits);
        const mask = prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
        this.v4.push((v4 & mask) >>> 0, mask);
      }
    }
  }

  /** True when the IPv4 address `addr` (as from {@link parseIpv4}) is one of the trusted proxies. */
  hasIpv4(addr: number): boolean {
    const v4 = this.v4;
    for (let i = 0; i < v4.length; i += 2) if (((addr & (v4[i + 1] as number)) >>> 0) === v4[i]) return true;
    return false;
  }

  /**
   * The client address named by the `X-Forwarded-For` of a trusted peer, walked from the right
   * past trusted hops (the left-most entries are the client's to forge); '' when the header is
   * absent or holds something that is not an address, and the peer is the client.
   */
  forwardedClient(forwardedFor: string | undefined): string {
    if (!forwardedFor) return '';
    // Hop by hop from the right, scanning by hand: split(), lastIndexOf() and trim() are calls into
    // the runtime, and this runs on every redirect.
    for (let end = forwardedFor.length; ; ) {
      let comma = end - 1;
      while (comma >= 0 && forwardedFor.charCodeAt(comma) !== 44) comma--;
      const hop = trimmed(forwardedFor, comma + 1, end);
      const v4 = parseIpv4(hop);
      if (v4 < 0 && isIP(hop) === 0) return '';
      if (comma < 0 || !(v4 >= 0 ? this.hasIpv4(v4) : this.has(hop))) return hop;
      end = comma;
    }
  }
}

/** Cloudflare's XX (unknown) and T1 (Tor) are not countries. */
function isCountry(c: string): boolean {
  if (c.length !== 2 || c === 'XX' || c === 'T1') return false;
  const a = c.charCodeAt(0);
  const b = c.charCodeAt(1);
  return a >= 65 && a <= 90 && b >= 65 && b <= 90;
}

/** The visitor's ISO country from `CF-IPCountry` or `X-Country-Code`, believed only from a trusted peer; '' when unknown. */
export function visitorCountry(trustedPeer: boolean, cfCountry: string | undefined, xCountry: string | undefined): string {
  if (!trustedPeer) return '';
  const raw = cfCountry || xCountry || '';
  if (isCountry(raw)) return raw;
  const c = raw.toUpperCase();
  return isCountry(c) ? c : '';
}

const PREFETCH = /prefetch|prerender/i;

/** Request headers that mark a browser prefetch or prerender rather than a visit. */
export function isPrefetch(purpose: string | undefined, secPurpose: string | undefined, xMoz: string | undefined): boolean {
  return (!!purpose && PREFETCH.test(purpose)) || (!!secPurpose && PREFETCH.test(secPurpose)) || (!!xMoz && PREFETCH.test(xMoz));
}

/**
 * Bot by user agent: empty, garbled (too short to be a browser, or control characters), or
 * known to the isbot list (maintained upstream, ~1,000 crawler and tool patterns).
 */
export function isBotUserAgent(ua: string): boolean {
  if (ua.length < 10) return true;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(ua)) return true;
  return isbot(ua);
}

/** A user agent seen on a redirect, with its {@link isBotUserAgent} verdict. */
export interface UserAgent {
  /**
   * The text as first seen. Every request with the same text gets this same string back, whose
   * hash V8 has already computed and which equals the batch's table entry by identity: the click
   * writer's lookup of it then neither hashes nor compares the ~100 characters again.
   */
  readonly text: string;
  readonly bot: boolean;
}

/** The {@link UserAgent} of a `User-Agent` header, memoized: a few agents make most of the traffic. */
export const userAgent = memoized((text: string): UserAgent => ({ text, bot: isBotUserAgent(text) }));
