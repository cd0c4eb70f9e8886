/**
 * The affiliate actor: one per affiliate id, living in the partition that `shard(affiliateId)`
 * picks. It decides what each click counts as. A click is **unique** when it is the first valid
 * click (not a bot, not geo-blocked) from its IP on its link in its UTC day; paused or blocked
 * affiliates' clicks still count as unique visitors (they are only not commissionable).
 *
 * The handler is deterministic: it reads only the state and the message (event time, never the
 * clock), so replaying the partition rebuilds the same state and the same effects.
 */
import { ClickFlag, type ClickRecorded } from '../../schema/wire.ts';

const DAY_MS = 86_400_000;

/** State of one affiliate actor. */
export interface AffiliateState {
  affiliateId: string;
  /** UTC day number (days since epoch) → `code\u0000ip` of the valid clicks seen that day. */
  seen: Map<number, Set<string>>;
  /** Latest UTC day seen; days older than `latestDay - uniqueDays + 1` are forgotten. */
  latestDay: number;
}

/** Commands and events an affiliate actor handles. */
export type AffiliateMessage = { type: 'ClickRecorded'; click: ClickRecorded };

/** Effects, carried out by the host. */
export type AffiliateEffect = {
  /** The click was counted: the host writes it to the raw log, from which the aggregates follow. */
  type: 'ClickCounted';
  click: ClickRecorded;
  unique: boolean;
};

/** Settings the handler reads. */
export interface AffiliateSettings {
  /** Days of unique-click memory kept (late clicks older than that count as not unique). */
  uniqueDays: number;
}

/** A fresh actor. */
export function initialAffiliateState(affiliateId: string): AffiliateState {
  return { affiliateId, seen: new Map(), latestDay: 0 };
}

/** The UTC day number of a timestamp. */
export function utcDay(ts: number): number {
  return Math.floor(ts / DAY_MS);
}

/** Remember a valid click from state recovery; returns false when it was already known. */
export function rememberClick(state: AffiliateState, day: number, code: string, ip: string, settings: AffiliateSettings): boolean {
  if (day > state.latestDay) {
    state.latestDay = day;
    for (const d of state.seen.keys()) if (d <= day - settings.uniqueDays) state.seen.delete(d);
  }
  if (day <= state.latestDay - settings.uniqueDays) return false;
  let set = state.seen.get(day);
  if (!set) state.seen.set(day, (set = new Set()));
  const key = `${code}\u0000${ip}`;
  if (set.has(key)) return false;
  set.add(key);
  return true;
}

/** Handle one message: update `state` in place, return the effects. */
export function handleAffiliate(state: AffiliateState, msg: AffiliateMessage, settings: AffiliateSettings): AffiliateEffect[] {
  const c = msg.click;
  const valid = (c.flags & (ClickFlag.Bot | ClickFlag.GeoBlocked)) === 0;
  const unique = valid && rememberClick(state, utcDay(c.ts), c.code, c.ip, settings);
  return [{ type: 'ClickCounted', click: c, unique }];
}
