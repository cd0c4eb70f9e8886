/**
 * Calendar days in a brand's time zone, the ground truth's own: the revenue files and the
 * commission ledger book by local day and month (docs/reports.md, docs/commissions.md), and
 * the harness must not borrow the worker's code for what it checks. So the computation here is
 * the plainest one: the runtime's `Intl` names the local date of an instant, and a day's first
 * instant is found by walking minute by minute through every UTC instant that could be it.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

const formats = new Map<string, Intl.DateTimeFormat>();

/** The calendar day (`YYYY-MM-DD`) in time zone `tz` of the instant `ts` (ms). */
export function dayIn(ts: number, tz: string): string {
  let f = formats.get(tz);
  if (!f) formats.set(tz, (f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })));
  const parts = f.formatToParts(ts);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** The day after `day` (`2026-12-31` → `2027-01-01`). */
export function nextDay(day: string): string {
  return new Date(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)) + 1)).toISOString().slice(0, 10);
}

const starts = new Map<string, number>();

/**
 * The first instant (ms) of `day` in `tz`. Offsets run from UTC−12 to UTC+14, so it lies between
 * 14 hours before and 12 hours after `day`'s UTC midnight; every zone's offset is a whole number
 * of minutes today, so it is a whole UTC minute: the first minute there whose local day is `day`
 * or later (later when a transition skips the day's start).
 */
export function dayStartIn(day: string, tz: string): number {
  const key = `${day}\u0000${tz}`;
  const known = starts.get(key);
  if (known !== undefined) return known;
  const midnight = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
  let t = midnight - 14 * HOUR_MS;
  while (dayIn(t, tz) < day) t += MINUTE_MS;
  starts.set(key, t);
  return t;
}
