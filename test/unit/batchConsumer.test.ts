/**
 * The batch consumer's failure path (workers/runtime/batchConsumer.ts): a message whose
 * application throws ends the loop, is reported with the message, and poisons the batch boundary
 * before it is left, so a flush waiting for the boundary never takes the half-applied state.
 */
import { describe, expect, it } from 'vitest';
import { BatchBoundary, BatchConsumer, pacing } from '../../workers/runtime/batchConsumer.ts';
import type { BatchPuller, PulledMessage, PullResult } from '../../workers/runtime/batchPuller.ts';

const message = (seq: number): PulledMessage => ({ subject: `ns.p.${seq % 2}`, data: new Uint8Array(), headers: undefined, seq, pending: 0, reply: `r.${seq}` });

/** Hands out one batch, then nothing. */
function source(batch: PulledMessage[]): BatchPuller {
  let first = true;
  const fake = {
    async pull(): Promise<PullResult> {
      if (!first) {
        await new Promise((r) => setTimeout(r, 5));
        return { messages: [] };
      }
      first = false;
      return { messages: batch };
    },
    ack() {},
    stop() {},
  };
  return fake as unknown as BatchPuller;
}

describe('BatchConsumer', () => {
  it('stops at a message that throws, reports it, and no boundary is reached from then on', async () => {
    const boundary = new BatchBoundary();
    const seen: number[] = [];
    let reported: { err: unknown; seq: number } | undefined;
    let applied = 0;
    let flushTook = false;
    const done = new Promise<void>((resolve) => {
      new BatchConsumer(source([message(1), message(2), message(3)]), {
        apply(m) {
          seen.push(m.seq);
          if (m.seq === 1) {
            // A flush asks for the boundary while this batch is being applied.
            void boundary.reached()?.then(() => (flushTook = true));
          }
          if (m.seq === 2) throw new TypeError('boom');
        },
        applied: () => applied++,
        failed(err, m) {
          reported = { err, seq: m.seq };
          boundary.poison();
          resolve();
        },
        trouble() {},
        held: () => false,
      }, pacing(5, 10), boundary);
    });
    await done;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([1, 2]);
    expect(reported?.seq).toBe(2);
    expect(reported?.err).toBeInstanceOf(TypeError);
    expect(applied).toBe(0);
    expect(flushTook).toBe(false);
    let later = false;
    void boundary.reached()?.then(() => (later = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(later).toBe(false);
  });
});
