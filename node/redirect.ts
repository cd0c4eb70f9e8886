/**
 * `GET|HEAD /c/{code}` (docs/architecture.md, “Clicks”): answers from memory only — link table,
 * click id, macros — and hands the click to the publisher. No await, no I/O on this path.
 *
 * This is the hottest code of the edge, and on it every call into uWS costs: a native call is
 * 0.15–0.3 µs, reading the peer address ~1 µs (a fresh ArrayBuffer). So headers are read only
 * where they decide something; header names and constant values are passed as ArrayBuffers (uWS
 * converts a string argument to UTF-8 in a fresh allocation on every call: ~100 ns more a call);
 * and the answer is written without `cork`, as a synchronous handler runs while uWS already holds
 * the socket corked.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Link } from '../schema/catalog.ts';
import type { ClusterConfig } from '../schema/config.ts';
import type { Catalog } from '../schema/catalogStore.ts';
import { newClickId } from '../schema/clickId.ts';
import { partitionOfShard, shard } from '../schema/shard.ts';
import { ClickFlag, type ClickRecorded, type TrafficStatus } from '../schema/wire.ts';
import type { ClickPublisher } from './clickPublisher.ts';
import { decodeURIComponentSafe, formatIpv4, peerIpv4, peerIpv6 } from './http.ts';
import { bindLanding, type LinkLanding } from './landing.ts';
import type { EdgeMetrics } from './metrics.ts';
import type { FraudPauses } from './fraud/pauses.ts';
import { isPrefetch, userAgent, newVisitorId, visitorCountry, visitorIdFromCookie, VISITOR_COOKIE, VISITOR_COOKIE_MAX_AGE_S, type TrustedProxies } from './visitor.ts';

/** Longest sub-ID kept; longer values are cut, the visitor is still redirected. */
export const MAX_SUB_LENGTH = 256;

/** Name of the cookie holding the last click id, read back by the pixel (docs/protocol.md, “Pixel”). */
export const CLICK_COOKIE = 'affstream_cid';

const utf8 = new TextEncoder();
/** A constant as a bare ArrayBuffer, the argument uWS reads fastest: no view to resolve, no string to convert. */
const bytes = (s: string): ArrayBuffer => {
  const u = utf8.encode(s);
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength);
};

const NOT_FOUND = bytes(JSON.stringify({ ok: false, error: { code: 'not_found', message: 'unknown link' } }));
const GEO_BLOCKED = bytes(JSON.stringify({ ok: false, error: { code: 'geo_blocked', message: 'not available in your country' } }));

const STATUS_302 = bytes('302 Found');
const STATUS_404 = bytes('404 Not Found');
const STATUS_451 = bytes('451 Unavailable For Legal Reasons');
const LOCATION = bytes('Location');
const CACHE_CONTROL = bytes('Cache-Control');
const NO_STORE = bytes('no-store');
const CONTENT_TYPE = bytes('Content-Type');
const JSON_TYPE = bytes('application/json');

const USER_AGENT = bytes('user-agent');
const REFERER = bytes('referer');
const FORWARDED_FOR = bytes('x-forwarded-for');
const CF_COUNTRY = bytes('cf-ipcountry');
const COUNTRY_CODE = bytes('x-country-code');
const PURPOSE = bytes('purpose');
const SEC_PURPOSE = bytes('sec-purpose');
const X_MOZ = bytes('x-moz');
const COOKIE = bytes('cookie');
/**
 * The 302's headers after `Location` go out as the tail of its value: uWS writes a header as
 * `name: value` CRLF, bytes as given, so one call writes them all. Each call converts its string
 * to UTF-8 in a fresh allocation; four calls fewer cost ~2 CPU-µs less per redirect. Nothing
 * a visitor sends reaches these lines unescaped: the location's macros are URL-encoded, the ids
 * are ours.
 */
const AFTER_LOCATION = `\r\nCache-Control: no-store\r\nSet-Cookie: ${CLICK_COOKIE}=`;
/** The same attributes as the click id cookie, with the visitor cookie's own lifetime. */
const VISITOR_COOKIE_HEADER = `\r\nSet-Cookie: ${VISITOR_COOKIE}=`;
const VISITOR_COOKIE_TAIL = `; Path=/; Max-Age=${VISITOR_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax`;

/** A sub-ID value: `+` is a space, percent escapes decoded, cut at {@link MAX_SUB_LENGTH}. */
function subValue(raw: string): string {
  const v = decodeURIComponentSafe(raw.includes('+') ? raw.replace(/\+/g, ' ') : raw);
  return v.length > MAX_SUB_LENGTH ? v.slice(0, MAX_SUB_LENGTH) : v;
}

/** 0…9 for a query key naming sub1…sub10 (`query.slice(from, to)`), else -1. */
function subIndex(query: string, from: number, to: number): number {
  const len = to - from;
  if (len < 4 || len > 5 || query.charCodeAt(from) !== 115 || query.charCodeAt(from + 1) !== 117 || query.charCodeAt(from + 2) !== 98) return -1;
  const d = query.charCodeAt(from + 3) - 48;
  if (len === 4 && d >= 1 && d <= 9) return d - 1;
  if (len === 5 && d === 1 && query.charCodeAt(from + 4) === 48) return 9;
  // Whatever else Number() reads as 1…10 ("sub01", "sub+1") has always counted too.
  const n = Number(query.slice(from + 3, to));
  return Number.isInteger(n) && n >= 1 && n <= 10 ? n - 1 : -1;
}

/** sub1…sub10 from a raw query string; '' for each one absent. */
export function parseSubs(query: string): string[] {
  const subs = ['', '', '', '', '', '', '', '', '', ''];
  const n = query.length;
  for (let start = 0; start < n; ) {
    let end = query.indexOf('&', start);
    if (end < 0) end = n;
    let eq = query.indexOf('=', start);
    if (eq < 0 || eq > end) eq = end;
    const i = subIndex(query, start, eq);
    if (i >= 0) subs[i] = eq < end ? subValue(query.slice(eq + 1, end)) : '';
    start = end + 1;
  }
  return subs;
}

/** Dependencies of the redirect handler. */
export interface RedirectDeps {
  cfg: ClusterConfig;
  catalog: Catalog;
  publisher: ClickPublisher;
  proxies: TrustedProxies;
  metrics: EdgeMetrics;
  pauses: FraudPauses;
}

/** What a redirect needs of a link besides the link itself, derived once per version of the link. */
interface LinkPlan {
  shard: number;
  partition: number;
  landing: LinkLanding;
  /** The brand's attribution window when {@link cookieTail} was made; brands change apart from their links. */
  days: number;
  /** The value of `Set-Cookie` after the click id. */
  cookieTail: string;
}

function answerJson(res: HttpResponse, status: ArrayBuffer, body: ArrayBuffer, head: boolean): void {
  res.writeStatus(status).writeHeader(CONTENT_TYPE, JSON_TYPE).writeHeader(CACHE_CONTROL, NO_STORE);
  if (head) res.endWithoutBody();
  else res.end(body);
}

/** The uWS handler for `/c/:code`; `head` answers without a body and records the click as a bot (link checkers, unfurlers). */
export function redirectHandler(d: RedirectDeps, head: boolean): (res: HttpResponse, req: HttpRequest) => void {
  const counts = d.metrics.clicks;
  // Keyed by the link object: a changed link is a new object, so its plan is derived afresh.
  const plans = new WeakMap<Link, LinkPlan>();
  const planOf = (link: Link): LinkPlan => {
    let plan = plans.get(link);
    if (!plan) {
      const s = shard(link.affiliateId);
      plan = {
        shard: s,
        partition: partitionOfShard(s, d.cfg.partitions),
        landing: bindLanding(link.landingUrl, { affiliate_id: link.affiliateId, brand_id: link.brandId, campaign: link.campaign }),
        days: -1,
        cookieTail: '',
      };
      plans.set(link, plan);
    }
    return plan;
  };
  return (res, req) => {
    const code = req.getParameter(0) ?? '';
    const link = d.catalog.links.get(code);
    if (!link) {
      answerJson(res, STATUS_404, NOT_FOUND, head);
      return;
    }
    const plan = planOf(link);
    const brand = d.catalog.brands.get(link.brandId);
    const affiliate = d.catalog.affiliates.get(link.affiliateId);
    const agent = userAgent(req.getHeader(USER_AGENT));
    const v4 = peerIpv4(new Uint8Array(res.getRemoteAddress()));
    const v6 = v4 < 0 ? peerIpv6(res) : '';
    const trusted = v4 >= 0 ? d.proxies.hasIpv4(v4) : d.proxies.has(v6);
    let ip = trusted ? d.proxies.forwardedClient(req.getHeader(FORWARDED_FOR)) : '';
    if (ip === '') ip = v4 >= 0 ? formatIpv4(v4) : v6;
    let country = '';
    if (trusted) {
      const cf = req.getHeader(CF_COUNTRY);
      country = visitorCountry(true, cf, cf ? '' : req.getHeader(COUNTRY_CODE));
    }
    const subs = parseSubs(req.getQuery() ?? '');
    let flags = 0;
    if (head || agent.bot || isPrefetch(req.getHeader(PURPOSE), req.getHeader(SEC_PURPOSE), req.getHeader(X_MOZ))) flags |= ClickFlag.Bot;
    if (country !== '' && brand?.restrictedCountries.includes(country)) flags |= ClickFlag.GeoBlocked;
    // A link whose affiliate was removed still redirects, but nothing it brings is commissionable.
    let affiliateStatus: TrafficStatus = affiliate?.status ?? 'blocked';
    // Fraud pauses (docs/fraud.md, “Actions”): still redirected, recorded with the status, not
    // commissionable.
    const paused = d.pauses.ofAffiliate(link.affiliateId);
    if (paused) {
      if (affiliateStatus === 'active' && paused.wide) affiliateStatus = 'paused';
      const sub = paused.subs.get(subs[0] as string);
      if (sub) flags |= sub.action === 'block_sub' ? ClickFlag.SubBlocked : ClickFlag.SubPaused;
    }
    const ts = Date.now();
    const clickId = newClickId(plan.shard, ts);
    const visitorId = visitorIdFromCookie(req.getHeader(COOKIE), ts) || newVisitorId(ts);
    const click: ClickRecorded = {
      clickId, ts, code, brandId: link.brandId, affiliateId: link.affiliateId, campaign: link.campaign, subs,
      ip, country, userAgent: agent.text, referer: req.getHeader(REFERER), flags, affiliateStatus, visitorId,
    };
    d.publisher.add(plan.partition, click);

    if (flags & ClickFlag.GeoBlocked) counts.geo_blocked++;
    else if (flags & ClickFlag.Bot) counts.bot++;
    else if (affiliateStatus !== 'active') counts.inactive++;
    else counts.ok++;

    if (flags & ClickFlag.GeoBlocked && !brand?.restrictedUrl && d.cfg.edge.restrictedStatus === 451) {
      answerJson(res, STATUS_451, GEO_BLOCKED, head);
      return;
    }
    const location = flags & ClickFlag.GeoBlocked && brand?.restrictedUrl ? brand.restrictedUrl : plan.landing(clickId, subs);
    const days = brand?.attributionWindowDays ?? 30;
    if (plan.days !== days) {
      plan.days = days;
      plan.cookieTail = `; Path=/; Max-Age=${days * 86_400}; HttpOnly; SameSite=Lax`;
    }
    // Cache-Control, the click id cookie, and the visitor cookie — renewed at every click, so a
    // returning visitor keeps one id for as long as it keeps coming.
    res
      .writeStatus(STATUS_302)
      .writeHeader(LOCATION, `${location}${AFTER_LOCATION}${clickId}${plan.cookieTail}${VISITOR_COOKIE_HEADER}${visitorId}${VISITOR_COOKIE_TAIL}`);
    if (head) res.endWithoutBody();
    else res.end();
  };
}
