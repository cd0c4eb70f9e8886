import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AckedPublisher } from '../../node/ackedPublisher.ts';

/** A NATS connection that records publishes and lets the test answer them. */
function fakeNats() {
  let deliver: ((err: Error | null, msg: Msg) => void) | undefined;
  const published: Array<{ subject: string; reply: string; msgId: string | undefined; kind: string | undefined }> = [];
  let unsubscribed = false;
  let failPublish: Error | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) => {
      deliver = opts.callback;
      return { unsubscribe: () => (unsubscribed = true) };
    },
    publish: (subject: string, _payload: Uint8Array, opts: { reply: string; headers: { get(k: string): string } }) => {
      if (failPublish) throw failPublish;
      published.push({ subject, reply: opts.reply, msgId: opts.headers.get('Nats-Msg-Id'), kind: opts.headers.get('Affstream-Kind') || undefined });
    },
  } as unknown as NatsConnection;
  const answer = (reply: string, body: string | null, code?: number) => {
    const data = body === null ? new Uint8Array() : new TextEncoder().encode(body);
    deliver?.(null, { subject: reply, data, headers: code ? { code } : undefined, json: () => JSON.parse(body ?? '') } as unknown as Msg);
  };
  return { nc, published, answer, unsubscribed: () => unsubscribed, failNext: (e: Error | undefined) => (failPublish = e) };
}

describe('JetStream publishes acked on one subscription', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const log = pino({ level: 'silent' });

  it('matches each ack to its publish, whatever the order, and carries the msg id and extra headers', () => {
    const f = fakeNats();
    const acks = new AckedPublisher(f.nc, 1000, log);
    const outcomes: Array<[string, string | undefined]> = [];
    acks.publish('ev.1', new Uint8Array([1]), 'e.1', (err) => outcomes.push(['a', err?.message]));
    acks.publish('ev.2', new Uint8Array([2]), 'e.2', (err) => outcomes.push(['b', err?.message]), { 'Affstream-Kind': 'events' });
    expect(f.published.map((p) => [p.subject, p.msgId, p.kind])).toEqual([['ev.1', 'e.1', undefined], ['ev.2', 'e.2', 'events']]);
    f.answer(f.published[1]!.reply, '{"stream":"EVENTS","seq":2}');
    f.answer(f.published[0]!.reply, '{"stream":"EVENTS","seq":1,"duplicate":true}');
    // A second ack for the same publish is ignored.
    f.answer(f.published[0]!.reply, '{"stream":"EVENTS","seq":1}');
    expect(outcomes).toEqual([['b', undefined], ['a', undefined]]);
  });

  it('fails on an error ack, no responders, a malformed ack, and a publish that throws', () => {
    const f = fakeNats();
    const acks = new AckedPublisher(f.nc, 1000, log);
    const errors: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) acks.publish('ev.1', new Uint8Array(), `e.${i}`, (err) => errors.push(err?.message));
    f.answer(f.published[0]!.reply, '{"error":{"code":503,"description":"insufficient resources"}}');
    f.answer(f.published[1]!.reply, null, 503);
    f.answer(f.published[2]!.reply, 'not json');
    f.answer(f.published[3]!.reply, '{"seq":1}');
    f.failNext(new Error('connection closed'));
    acks.publish('ev.1', new Uint8Array(), 'e.9', (err) => errors.push(err?.message));
    expect(errors).toEqual([
      'JetStream rejected the batch: insufficient resources',
      'no JetStream stream listens on the subject',
      'JetStream ack is not JSON',
      'invalid JetStream ack',
      'connection closed',
    ]);
  });

  it('times out a publish whose ack does not come, and ignores the ack arriving later', () => {
    const f = fakeNats();
    const acks = new AckedPublisher(f.nc, 1000, log);
    const outcomes: Array<string | undefined> = [];
    acks.publish('ev.1', new Uint8Array(), 'e.1', (err) => outcomes.push(err?.message ?? 'ok'));
    vi.advanceTimersByTime(500);
    acks.publish('ev.1', new Uint8Array(), 'e.2', (err) => outcomes.push(err?.message ?? 'ok'));
    vi.advanceTimersByTime(750);
    expect(outcomes).toEqual(['no JetStream ack within 1000 ms']);
    f.answer(f.published[0]!.reply, '{"stream":"EVENTS","seq":1}');
    f.answer(f.published[1]!.reply, '{"stream":"EVENTS","seq":2}');
    expect(outcomes).toEqual(['no JetStream ack within 1000 ms', 'ok']);
    // Nothing waits any more: the sweep timer stops at its next tick.
    vi.advanceTimersByTime(250);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails what still waits when closed, and a throwing completion does not escape', () => {
    const f = fakeNats();
    const acks = new AckedPublisher(f.nc, 1000, log);
    const outcomes: Array<string | undefined> = [];
    acks.publish('ev.1', new Uint8Array(), 'e.1', () => {
      throw new Error('boom');
    });
    acks.publish('ev.1', new Uint8Array(), 'e.2', (err) => outcomes.push(err?.message));
    expect(() => acks.close()).not.toThrow();
    expect(outcomes).toEqual(['no JetStream ack within 1000 ms']);
    expect(f.unsubscribed()).toBe(true);
  });
});
