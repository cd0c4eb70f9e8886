/**
 * The pixel (docs/protocol.md, “Pixel”):
 * `GET /px/{brandId}?type=registration&event_id=…&player_id=…`, the client-side fallback for
 * platforms that cannot call us server to server. The player's browser requests it from the page
 * shown after sign-up; the click id comes from the `affstream_cid` cookie our redirect set, and the
 * event goes through the one ingestion path with `source=pixel`.
 *
 * A pixel cannot show an error to anyone, so every request gets the same 1×1 transparent GIF;
 * the outcome travels in `X-Affstream-Result` (`accepted`, `duplicate`, `rejected:<code>`), in
 * the status (4xx/5xx with the error's status, as for every endpoint), in the log and
 * in the `pixel_events_total{result, code}` counter.
 *
 * Security: the pixel is unauthenticated by nature — its URL sits in a public page, and anyone
 * can request it with any cookie. So it takes `type=registration` only. Everything that moves
 * money (deposits, bets, bonuses, chargebacks, withdrawals) and KYC (`approved` qualifies CPA,
 * docs/commissions.md) must come signed, server to server. What remains forgeable is a
 * registration, which binds the player for life: see docs/protocol.md, "Pixel".
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { AffstreamError } from '../../schema/errors.ts';
import type { Reply, Request } from '../http.ts';
import { CLICK_COOKIE } from '../redirect.ts';
import type { TrustedProxies } from '../visitor.ts';
import type { Ingest } from './ingest.ts';
import { postbackFields } from './postback.ts';

/** The answer's body: a 1×1 transparent GIF89a (42 bytes). */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** The response header carrying the outcome. */
export const RESULT_HEADER = 'X-Affstream-Result';

/** Dependencies of {@link pixelHandler}. */
export interface PixelDeps {
  ingest: Ingest;
  /** To take the visitor's address from a trusted proxy's `X-Forwarded-For`, as the redirect does. */
  proxies: TrustedProxies;
  /** The edge's metrics registry, where the pixel's counter is registered. */
  registry: Registry;
  log: Logger;
}

/** The click id in a `Cookie` header, '' when there is none. */
export function clickIdFromCookie(header: string | undefined): string {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === CLICK_COOKIE) return part.slice(eq + 1).trim();
  }
  return '';
}

/** Ingests the pixel's registration; throws the rejection as an {@link AffstreamError}. */
async function ingestPixel(d: PixelDeps, req: Request): Promise<'accepted' | 'duplicate'> {
  const brand = d.ingest.brand(req.params[0] ?? '');
  // The postback's field names and aliases, so that a platform can reuse its postback template.
  const raw = postbackFields(new URLSearchParams(req.query));
  if (raw.type !== 'registration') {
    throw raw.type === undefined
      ? new AffstreamError('missing_field', 'type is required')
      : new AffstreamError('forbidden', 'the pixel takes type=registration only; other events must be sent signed, server to server');
  }
  // The cookie is the point of the pixel: a click id in the query is not taken, whatever its name.
  raw.click_id = clickIdFromCookie(req.headers.cookie);
  // The browser is the player: its address is the one the per-IP fraud rules need, and the page
  // must not be able to choose it.
  raw.ip = d.proxies.has(req.peer) ? d.proxies.forwardedClient(req.headers['x-forwarded-for']) || req.peer : req.peer;
  const r = await d.ingest.ingest(brand, [raw], 'pixel');
  const rejection = r.rejected[0];
  if (rejection) throw new AffstreamError(rejection.code, rejection.message);
  return r.duplicates > 0 ? 'duplicate' : 'accepted';
}

/** The handler for `GET /px/:brand`. Never throws: every outcome is the GIF. */
export function pixelHandler(d: PixelDeps): (req: Request) => Promise<Reply> {
  const counter = new Counter({
    name: 'pixel_events_total',
    help: 'Pixel requests by result (accepted, duplicate, rejected) and rejection code',
    labelNames: ['result', 'code'],
    registers: [d.registry],
  });
  const gif = (status: number, result: string): Reply => ({
    status,
    headers: { 'Content-Type': 'image/gif', 'Cache-Control': 'no-store', [RESULT_HEADER]: result },
    body: PIXEL_GIF,
  });
  return async (req) => {
    try {
      const result = await ingestPixel(d, req);
      counter.labels(result, '').inc();
      return gif(200, result);
    } catch (err) {
      const e = err instanceof AffstreamError ? err : new AffstreamError('internal', 'internal error');
      counter.labels('rejected', e.code).inc();
      // The sender never sees the error, so the log is where an integrator finds out.
      if (e.status >= 500) d.log.error({ err, brand: req.params[0] }, 'pixel event lost');
      else d.log.info({ brand: req.params[0], code: e.code, reason: e.message }, 'pixel event rejected');
      return gif(e.status, `rejected:${e.code}`);
    }
  };
}
