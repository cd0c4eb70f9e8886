/**
 * S2S postback (docs/protocol.md, “2. S2S postback”): `GET /pb/{brandId}?type=…&event_id=…` or the
 * same fields as an urlencoded POST body. Accepts the parameter names other trackers use,
 * authenticates with the brand's `postbackSecret` (`token=`) or an HMAC of the query (`sig=`), and
 * answers `{"ok":true,"duplicate":false}` once the event is durable.
 */
import { createHmac } from 'node:crypto';
import { AffstreamError } from '../../schema/errors.ts';
import type { Brand } from '../../schema/catalog.ts';
import { secretEquals } from '../auth.ts';
import { json, type Reply, type Request } from '../http.ts';
import type { Ingest } from './ingest.ts';

/** Parameter aliases → the field names of docs/protocol.md. */
const ALIASES: Record<string, string> = {
  clickid: 'click_id', cid: 'click_id', subid: 'click_id', btag: 'click_id',
  txid: 'event_id', tid: 'event_id', transaction_id: 'event_id',
  payout: 'amount', sum: 'amount',
  event: 'type', et: 'type',
};

/** Type aliases; `ftd` is a deposit flagged first. */
const TYPE_ALIASES: Record<string, { type: string; first?: boolean }> = {
  reg: { type: 'registration' }, signup: { type: 'registration' }, dep: { type: 'deposit' }, ftd: { type: 'deposit', first: true },
};

/** The raw event of a postback query string (aliases resolved; `token`/`sig` removed). */
export function postbackFields(params: URLSearchParams): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of params) {
    if (k === 'token' || k === 'sig') continue;
    // Own keys only: a parameter named `constructor` or `__proto__` is no alias of anything.
    const name = Object.hasOwn(ALIASES, k) ? (ALIASES[k] as string) : k;
    // The canonical name wins over an alias when both are sent.
    if (name in raw && name !== k) continue;
    raw[name] = v;
  }
  const typeName = String(raw.type ?? '');
  const t = Object.hasOwn(TYPE_ALIASES, typeName) ? TYPE_ALIASES[typeName] : undefined;
  if (t) {
    raw.type = t.type;
    if (t.first) raw.first = true;
  }
  return raw;
}

/** The query string without its `sig` parameter, as signed by the sender. */
export function unsignedQuery(query: string): string {
  return query
    .split('&')
    .filter((p) => p !== '' && !p.startsWith('sig='))
    .join('&');
}

/** Check `token` or `sig` against the brand's secret; 401 `invalid_signature` otherwise. */
export function authenticatePostback(brand: Brand, query: string, params: URLSearchParams): void {
  const secret = brand.postbackSecret;
  if (!secret) throw new AffstreamError('unauthorized', `brand ${brand.id} has no postbackSecret; postbacks are refused`);
  const token = params.get('token');
  const sig = params.get('sig');
  if (token !== null && secretEquals(token, secret)) return;
  if (sig !== null && secretEquals(sig.toLowerCase(), createHmac('sha256', secret).update(unsignedQuery(query)).digest('hex'))) return;
  throw new AffstreamError(token === null && sig === null ? 'unauthorized' : 'invalid_signature', 'postback needs token=<postbackSecret> or sig=<hex HMAC-SHA256 of the query without sig>');
}

/** The handler for GET and POST `/pb/:brand`. */
export function postbackHandler(ingest: Ingest) {
  return async (req: Request): Promise<Reply> => {
    const brand = ingest.brand(req.params[0] ?? '');
    let query = req.query;
    if (req.method === 'POST') {
      if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
        throw new AffstreamError('unsupported_media_type', 'POST /pb takes application/x-www-form-urlencoded');
      }
      query = req.body.toString('utf8');
    }
    const params = new URLSearchParams(query);
    authenticatePostback(brand, query, params);
    const r = await ingest.ingest(brand, [postbackFields(params)], 'postback');
    const rejection = r.rejected[0];
    if (rejection) throw new AffstreamError(rejection.code, rejection.message);
    return json(200, { ok: true, duplicate: r.duplicates > 0 });
  };
}
