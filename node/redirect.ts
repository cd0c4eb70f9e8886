/**
 * `GET|HEAD /c/{code}` (SPEC §4): answers from memory only — link table, click id, macros — and
 * hands the click to the publisher. No await, no I/O on this path.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ClusterConfig } from '../schema/config.ts';
import type { Catalog } from '../schema/catalogStore.ts';
import { newClickId } from '../schema/clickId.ts';
import { partitionOfShard, shard } from '../schema/shard.ts';
import { ClickFlag, type ClickRecorded, type TrafficStatus } from '../schema/wire.ts';
import type { ClickPublisher } from './clickPublisher.ts';
import { decodeURIComponentSafe, peerAddress, statusLine } from './http.ts';
import { expandLanding } from './landing.ts';
import type { EdgeMetrics } from './metrics.ts';
import { isBotUserAgent, isPrefetch, visitorCountry, type TrustedProxies } from './visitor.ts';

/** Longest sub-ID kept; longer values are cut, the visitor is still redirected. */
export const MAX_SUB_LENGTH = 256;

/** Name of the cookie holding the last click id, read back by the pixel (SPEC §5.4). */
export const CLICK_COOKIE = 'affstream_cid';

const NOT_FOUND = JSON.stringify({ ok: false, error: { code: 'not_found', message: 'unknown link' } });
const GEO_BLOCKED = JSON.stringify({ ok: false, error: { code: 'geo_blocked', message: 'not available in your country' } });

/** sub1…sub10 from a raw query string; '' for each one absent. */
export function parseSubs(query: string): string[] {
  const subs = ['', '', '', '', '', '', '', '', '', ''];
  if (!query) return subs;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key.length < 4 || key.length > 5 || !key.startsWith('sub')) continue;
    const n = Number(key.slice(3));
    if (!Number.isInteger(n) || n < 1 || n > 10) continue;
    const value = eq < 0 ? '' : decodeURIComponentSafe(pair.slice(eq + 1).replace(/\+/g, ' '));
    subs[n - 1] = value.length > MAX_SUB_LENGTH ? value.slice(0, MAX_SUB_LENGTH) : value;
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
}

/** The uWS handler for `/c/:code`; `head` answers without a body and records the click as a bot (link checkers, unfurlers). */
export function redirectHandler(d: RedirectDeps, head: boolean): (res: HttpResponse, req: HttpRequest) => void {
  const counted = {
    ok: d.metrics.clicks.labels('ok'),
    bot: d.metrics.clicks.labels('bot'),
    geo: d.metrics.clicks.labels('geo_blocked'),
    inactive: d.metrics.clicks.labels('inactive'),
  };
  return (res, req) => {
    const code = req.getParameter(0) ?? '';
    const link = d.catalog.links.get(code);
    if (!link) {
      res.cork(() => {
        res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
        if (head) res.endWithoutBody();
        else res.end(NOT_FOUND);
      });
      return;
    }
    const brand = d.catalog.brands.get(link.brandId);
    const affiliate = d.catalog.affiliates.get(link.affiliateId);
    const ua = req.getHeader('user-agent');
    const peer = peerAddress(res);
    const trusted = d.proxies.has(peer);
    const ip = trusted ? d.proxies.clientIp(peer, req.getHeader('x-forwarded-for')) : peer;
    const country = trusted ? visitorCountry(trusted, req.getHeader('cf-ipcountry'), req.getHeader('x-country-code')) : '';
    const subs = parseSubs(req.getQuery() ?? '');
    let flags = 0;
    if (head || isBotUserAgent(ua) || isPrefetch(req.getHeader('purpose'), req.getHeader('sec-purpose'), req.getHeader('x-moz'))) flags |= ClickFlag.Bot;
    if (country !== '' && brand?.restrictedCountries.includes(country)) flags |= ClickFlag.GeoBlocked;
    // A link whose affiliate was removed still redirects, but nothing it brings is commissionable.
    const affiliateStatus: TrafficStatus = affiliate?.status ?? 'blocked';
    const affShard = shard(link.affiliateId);
    const ts = Date.now();
    const clickId = newClickId(affShard, ts);
    const click: ClickRecorded = {
      clickId, ts, code, brandId: link.brandId, affiliateId: link.affiliateId, campaign: link.campaign, subs,
      ip, country, userAgent: ua, referer: req.getHeader('referer'), flags, affiliateStatus,
    };
    d.publisher.add(partitionOfShard(affShard, d.cfg.partitions), click);

    if (flags & ClickFlag.GeoBlocked) counted.geo.inc();
    else if (flags & ClickFlag.Bot) counted.bot.inc();
    else if (affiliateStatus !== 'active') counted.inactive.inc();
    else counted.ok.inc();

    if (flags & ClickFlag.GeoBlocked && !brand?.restrictedUrl && d.cfg.edge.restrictedStatus === 451) {
      res.cork(() => {
        res.writeStatus(statusLine(451)).writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
        if (head) res.endWithoutBody();
        else res.end(GEO_BLOCKED);
      });
      return;
    }
    const location = flags & ClickFlag.GeoBlocked && brand?.restrictedUrl
      ? brand.restrictedUrl
      : expandLanding(link.landingUrl, { click_id: clickId, affiliate_id: link.affiliateId, brand_id: link.brandId, campaign: link.campaign, subs });
    const maxAge = (brand?.attributionWindowDays ?? 30) * 86_400;
    res.cork(() => {
      res
        .writeStatus('302 Found')
        .writeHeader('Location', location)
        .writeHeader('Cache-Control', 'no-store')
        .writeHeader('Set-Cookie', `${CLICK_COOKIE}=${clickId}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax`);
      if (head) res.endWithoutBody();
      else res.end();
    });
  };
}
