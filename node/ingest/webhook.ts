/**
 * Batches over HTTP (docs/protocol.md, “3. Batches over HTTP”): `POST /v1/events` with
 * `{"brand", "events": [...]}` as JSON or msgpack, signed with
 * `X-Signature: sha256=<hex HMAC-SHA256(postbackSecret, raw body)>`. The answer —
 * `{accepted, duplicates, rejected: [{index, code, message}]}` — is msgpack when the client sends
 * `Accept: application/msgpack`, else JSON, and comes once the accepted events are durable. The
 * envelope checks are shared with the WebSocket stream.
 */
import { createHmac } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import { AffstreamError } from '../../schema/errors.ts';
import type { Brand } from '../../schema/catalog.ts';
import type { EventSource } from '../../schema/events.ts';
import { secretEquals } from '../auth.ts';
import { json, type Reply, type Request } from '../http.ts';
import type { Ingest, IngestResult } from './ingest.ts';
import { decodeMsgpackValue } from './msgpackDecode.ts';

/** Decode a msgpack body or frame; 400 `invalid_msgpack` when it is not msgpack. */
export function decodeMsgpack(body: Uint8Array): unknown {
  try {
    return decodeMsgpackValue(body);
  } catch {
    throw new AffstreamError('invalid_msgpack', 'body is not valid msgpack');
  }
}

/** The events array of an envelope, checked against the batch limit. */
export function eventsOf(envelope: unknown, maxEvents: number): unknown[] {
  const events = (envelope as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new AffstreamError('invalid_field', 'events must be an array');
  if (events.length > maxEvents) throw new AffstreamError('too_many_events', `at most ${maxEvents} events per batch`);
  return events;
}

/**
 * Request header with which `affstream import` marks its batches `source=import`. Only read once
 * the body's signature checked out, so only holders of the brand's secret can set it; it is a
 * label for reports, not a permission.
 */
export const SOURCE_HEADER = 'x-affstream-source';

/** The source of a signed batch: the transport's, or `import` when {@link SOURCE_HEADER} says so. */
function sourceOf(header: string | undefined, transport: EventSource): EventSource {
  if (header === undefined) return transport;
  // Any other value is refused rather than ignored: a mistyped label would otherwise be lost silently.
  if (header.trim().toLowerCase() !== 'import') throw new AffstreamError('invalid_parameter', `${SOURCE_HEADER} may only be "import"`);
  return 'import';
}

/** The handler for `POST /v1/events`. */
export function webhookHandler(ingest: Ingest, maxEvents: number) {
  return async (req: Request): Promise<Reply> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    let envelope: unknown;
    if (type === 'application/json') {
      try {
        envelope = JSON.parse(req.body.toString('utf8'));
      } catch {
        throw new AffstreamError('invalid_json', 'body is not valid JSON');
      }
    } else if (type === 'application/msgpack' || type === 'application/x-msgpack') {
      envelope = decodeMsgpack(req.body);
    } else {
      throw new AffstreamError('unsupported_media_type', 'Content-Type must be application/json or application/msgpack');
    }
    if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) throw new AffstreamError('invalid_field', 'body must be an object {brand, events}');
    const brandId = (envelope as { brand?: unknown }).brand;
    if (typeof brandId !== 'string') throw new AffstreamError('missing_field', 'brand is required');
    const brand = ingest.brand(brandId);
    verifyBodySignature(brand, req.headers['x-signature'], req.body);
    const source = sourceOf(req.headers[SOURCE_HEADER], type === 'application/json' ? 'json' : 'msgpack');
    const result = await ingest.ingest(brand, eventsOf(envelope, maxEvents), source);
    return reply(result, req.headers.accept);
  };
}

/** Check `X-Signature: sha256=<hex>` over the raw body; 401 otherwise. */
export function verifyBodySignature(brand: Brand, header: string | undefined, body: Buffer): void {
  if (!brand.postbackSecret) throw new AffstreamError('unauthorized', `brand ${brand.id} has no postbackSecret; events are refused`);
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header ?? '');
  if (!m) throw new AffstreamError('unauthorized', 'X-Signature: sha256=<hex HMAC-SHA256(postbackSecret, body)> is required');
  if (!secretEquals((m[1] as string).toLowerCase(), createHmac('sha256', brand.postbackSecret).update(body).digest('hex'))) {
    throw new AffstreamError('invalid_signature', 'X-Signature does not match the body');
  }
}

function reply(r: IngestResult, accept: string | undefined): Reply {
  if (/application\/(x-)?msgpack/i.test(accept ?? '')) {
    return { status: 200, headers: { 'Content-Type': 'application/msgpack' }, body: Buffer.from(encode(r)) };
  }
  return json(200, r);
}
