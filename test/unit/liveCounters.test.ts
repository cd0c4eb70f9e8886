/**
 * What a partition's live counters put into a Redis pipeline: absolute values of the counters
 * that changed, the hash's expiry at most hourly, and everything again after a failed pipeline.
 */
import { describe, expect, it } from 'vitest';
import type { ChainableCommander } from 'ioredis';
import { LiveCounters } from '../../workers/runtime/liveCounters.ts';
import type { ClickRow } from '../../workers/sink/clickRow.ts';
import type { EventRow } from '../../workers/sink/eventRow.ts';

const TS = Date.UTC(2026, 10, 21, 12) / 1000;
const KEY = 'ns:live:a1:2026-11-21';

/** The commands a stage call queued, in order. */
function staged(live: LiveCounters, now: number): { commands: Array<[string, string, unknown]>; undo: () => void } {
  const commands: Array<[string, string, unknown]> = [];
  const pipeline = {
    hset(key: string, fields: Record<string, string>) {
      commands.push(['hset', key, fields]);
      return pipeline;
    },
    expire(key: string, seconds: number) {
      commands.push(['expire', key, seconds]);
      return pipeline;
    },
  };
  const undo = live.stage(pipeline as unknown as ChainableCommander, 'ns', now);
  return { commands, undo };
}

const click = (over: Partial<ClickRow> = {}): ClickRow => ({ affiliate_id: 'a1', ts: TS, is_unique: 0, bot: 0, geo_blocked: 0, ...over }) as ClickRow;
const event = (over: EventRow): EventRow => ({ affiliate_id: 'a1', ts: TS, amount: '0.0000', ngr: '0.0000', is_ftd: 0, ...over });

describe('live counters', () => {
  it('writes only the counters that changed, as absolute values', () => {
    const live = new LiveCounters(7);
    live.click(click({ is_unique: 1 }));
    live.click(click());
    const first = staged(live, 1_000);
    expect(first.commands).toEqual([
      ['hset', KEY, { '7:clicks': '2', '7:unique_clicks': '1' }],
      ['expire', KEY, 2 * 86_400],
    ]);
    live.event(event({ type: 'deposit', amount: '25.5000', ngr: '25.5000', is_ftd: 1 }));
    const second = staged(live, 2_000);
    // The hash's expiry was pushed back a second ago: not again.
    expect(second.commands).toEqual([
      ['hset', KEY, { '7:deposits': '1', '7:deposit_amount': '25.5000', '7:ftds': '1', '7:ftd_amount': '25.5000', '7:ngr': '25.5000' }],
    ]);
    expect(staged(live, 3_000).commands).toEqual([]);
  });

  it('pushes the expiry back again after an hour', () => {
    const live = new LiveCounters(0);
    live.click(click());
    staged(live, 0);
    live.click(click());
    expect(staged(live, 3_599_999).commands.map((c) => c[0])).toEqual(['hset']);
    live.click(click());
    expect(staged(live, 3_600_000).commands.map((c) => c[0])).toEqual(['hset', 'expire']);
  });

  it('stages the same counters again after a failed pipeline, with the counts made since', () => {
    const live = new LiveCounters(3);
    live.click(click({ bot: 1 }));
    const failed = staged(live, 0);
    live.click(click());
    failed.undo();
    expect(staged(live, 1_000).commands).toEqual([
      ['hset', 'ns:live:a1:2026-11-21', { '3:clicks': '2', '3:bot_clicks': '1' }],
      ['expire', 'ns:live:a1:2026-11-21', 2 * 86_400],
    ]);
  });

  it('does not count organic players and forgets past days', () => {
    const live = new LiveCounters(1);
    live.event(event({ type: 'registration', affiliate_id: '' }));
    expect(staged(live, 0).commands).toEqual([]);
    live.click(click());
    live.prune('2026-11-22');
    expect(staged(live, 0).commands).toEqual([]);
  });
});
