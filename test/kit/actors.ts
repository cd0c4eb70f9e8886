/**
 * Test kit for actors and the partition loop: run a pure handler over messages and look at the
 * state and the effects, and the fixtures several tests need (a recorded click, partition
 * settings). Imitates the event-sourced test kits that run a command handler and check state and
 * events, without any server.
 */
import type { ClickRecorded } from '../../schema/wire.ts';
import { DEFAULT_FRAUD_RULES } from '../../schema/fraud.ts';
import type { PartitionSettings } from '../../workers/runtime/partition.ts';

/** What {@link run} gives back: the state after the last message, and every effect, in order. */
export interface RunResult<S, E> {
  state: S;
  effects: E[];
}

/**
 * Apply `messages` in order to `initial` (changed in place, as the runtime does) with `handler`;
 * `ctx` is passed through to a handler that reads one.
 */
export function run<S, M, E, C = undefined>(handler: (state: S, msg: M, ctx: C) => E[], initial: S, messages: readonly M[], ctx?: C): RunResult<S, E> {
  const effects: E[] = [];
  for (const m of messages) effects.push(...handler(initial, m, ctx as C));
  return { state: initial, effects };
}

/** The effects of type `type` among `effects`. */
export function ofType<E extends { type: string }, T extends E['type']>(effects: readonly E[], type: T): Array<Extract<E, { type: T }>> {
  return effects.filter((e): e is Extract<E, { type: T }> => e.type === type);
}

/** A recorded click as an edge publishes it: a real browser, brand `b`, affiliate `a`, link `l`; `over` changes any field. */
export function clickRecorded(over: Partial<ClickRecorded> = {}): ClickRecorded {
  return {
    clickId: 'c', ts: Date.UTC(2026, 10, 20, 12), code: 'l', brandId: 'b', affiliateId: 'a', campaign: '', subs: new Array(10).fill(''),
    ip: '1.1.1.1', country: 'DE', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', referer: '', flags: 0, affiliateStatus: 'active', visitorId: '',
    ...over,
  };
}

/** Sub-IDs for {@link clickRecorded}: `sub1` first, the other nine empty. */
export function subs(sub1: string): string[] {
  return [sub1, '', '', '', '', '', '', '', '', ''];
}

/** Partition settings with the default fraud rules, a 30-day window and no fees or tax, for every brand; no plans. */
export function partitionSettings(over: Partial<PartitionSettings> = {}): PartitionSettings {
  return {
    affiliate: { uniqueDays: 2 },
    partitions: 64,
    brand: () => ({ attributionWindowDays: 30, paymentFeePct: '0', gamingTaxPct: '0', fraud: DEFAULT_FRAUD_RULES }),
    commission: { plan: () => null, parentOf: () => null, brand: () => ({ timezone: 'UTC', currency: 'EUR', kycGating: false }) },
    ...over,
  };
}
