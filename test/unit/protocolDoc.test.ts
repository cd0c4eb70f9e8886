/**
 * The worked examples of docs/protocol.md are what clients in other languages are written
 * against: their bytes and signatures must stay those of the real encoder and the real checks.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { unsignedQuery } from '../../node/ingest/postback.ts';
import { HARD_LIMIT, WINDOW } from '../../node/ingest/stream.ts';
import { DEDUPE_TTL_S } from '../../node/ingest/dedupe.ts';
import { EVENT_TYPES } from '../../schema/events.ts';

// Hex blocks span lines: compare with every run of whitespace made one space.
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ');
const SECRET = 'demo-secret-123';
const hmac = (body: string | Uint8Array) => createHmac('sha256', SECRET).update(body).digest('hex');

describe('docs/protocol.md worked examples', () => {
  const envelope = { brand: 'demo', events: [{ type: 'deposit', event_id: 'd-1001', player_id: 'p-42', amount: '25.50', currency: 'EUR' }] };

  it('the msgpack envelope, reply, frame, ack and error frame are the encoder’s bytes', () => {
    const frame = encode({ seq: 7, events: [{ type: 'registration', event_id: 'r-1', player_id: 'p-42', click_id: '0190f3a2-7c1e-7abc-8def-0123456789ab' }] });
    const ack = encode({ ack: 7, accepted: 1, duplicates: 0, rejected: [] });
    const examples = [
      encode(envelope),
      encode({ accepted: 1, duplicates: 0, rejected: [] }),
      frame,
      ack,
      encode({ seq: 9, error: { code: 'too_many_events', message: 'at most 10000 events per batch' } }),
    ];
    for (const b of examples) expect(doc).toContain(hex(b));
    expect(doc).toContain(`(${encode(envelope).byteLength} bytes;`);
    expect(doc).toContain(`(${frame.byteLength} bytes of msgpack)`);
    expect(doc).toContain(`(${ack.byteLength} bytes; on the wire \`82 ${ack.byteLength.toString(16)}\``);
    const mask = [0x37, 0xfa, 0x21, 0x3d];
    const masked = [...frame.subarray(0, 4)].map((b, i) => b ^ (mask[i] as number));
    expect(doc).toContain(`\`82 ${(0x80 | frame.byteLength).toString(16)} 37 fa 21 3d ${hex(new Uint8Array(masked))} …\``);
  });

  it('the signatures are the HMACs the edge checks', () => {
    const query = 'type=deposit&event_id=d-1001&player_id=p-42&amount=25.50&currency=EUR';
    expect(unsignedQuery(`${query}&sig=x`)).toBe(query);
    expect(doc).toContain(`= ${hmac(query)}`);
    expect(doc).toContain(`sha256=${hmac(encode(envelope))} (msgpack body above)`);
    expect(doc).toContain(`sha256=${hmac(JSON.stringify(envelope))} (JSON body above, no spaces)`);
  });

  it('states the limits and windows the code enforces', () => {
    expect(doc).toContain(`Keep at most **${WINDOW}** frames unacknowledged`);
    expect(doc).toContain(`Past **${HARD_LIMIT}** unanswered frames`);
    expect(doc).toContain(`within the last **${DEDUPE_TTL_S / 86_400} days**`);
    for (const t of EVENT_TYPES) expect(doc).toContain(`| \`${t}\``);
  });
});
