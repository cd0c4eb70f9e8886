/**
 * RevShare periods (docs/commissions.md): calendar months in the brand's IANA time zone, named
 * `YYYY-MM`, and the calendar days of revenue imports there, named `YYYY-MM-DD` (a day's period is
 * its first seven characters). Offsets and daylight-saving rules come from the runtime's time zone
 * data through `Intl`, never from a table of our own, so a period ends at the exact first instant of
 * the next month there: `2026-03` in Europe/Malta ends at 2026-03-31T22:00:00Z (CEST), `2026-10` at
 * 2026-10-31T23:00:00Z (CET).
 */

const HOUR_MS = 3_600_000;

/** The period (`YYYY-MM`) the instant `ts` (ms) falls in, in time zone `tz`. */
export function periodOf(ts: number, tz: string): string {
  return dayOf(ts, tz).slice(0, 7);
}

/** The period after `period` (`2026-12` → `2027-01`). */
export function nextPeriod(period: string): string {
  const y = Number(period.slice(0, 4));
  const m = Number(period.slice(5, 7));
  return m === 12 ? `${String(y + 1).padStart(4, '0')}-01` : `${period.slice(0, 4)}-${String(m + 1).padStart(2, '0')}`;
}

// Pure functions of their arguments, asked again for every open period at every tick.
const ends = new Map<string, number>();

/**
 * The first instant (ms) whose local date in `tz` is at or after `next` (`YYYY-MM-DD`). Local
 * midnight lies within 15 hours of the same wall time read as UTC (zone offsets run from −12 to +14
 * hours), so the instant is found by bisection over that window — which also finds the right
 * instant when a transition skips or repeats that midnight.
 */
function startOf(next: string, tz: string): number {
  const key = `${next}\u0000${tz}`;
  const known = ends.get(key);
  if (known !== undefined) return known;
  const wall = Date.UTC(Number(next.slice(0, 4)), Number(next.slice(5, 7)) - 1, Number(next.slice(8, 10)));
  // Invariant: dayOf(lo) < next <= dayOf(hi).
  let lo = wall - 15 * HOUR_MS;
  let hi = wall + 15 * HOUR_MS;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (formatDay(mid, tz) >= next) hi = mid;
    else lo = mid;
  }
  ends.set(key, hi);
  return hi;
}

/** The end of `period` in `tz` (ms): the first instant whose period is the next one. */
export function periodEnd(period: string, tz: string): number {
  return startOf(`${nextPeriod(period)}-01`, tz);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Days of recent quarter hours, by zone and quarter hour. Every zone's offset is a whole number of
 * quarter hours, so a local midnight is always a quarter-hour boundary in UTC and a quarter hour
 * lies within one local day: asking `Intl` once per quarter hour instead of once per event (the
 * commission books ask for every event of an attributed player).
 */
const quarterDays = new Map<string, string>();
const QUARTER_MS = 900_000;
/** Quarter hours remembered; past this the memory starts over (a replay over months would fill it). */
const MAX_QUARTERS = 20_000;

/** The calendar day (`YYYY-MM-DD`) the instant `ts` (ms) falls in, in time zone `tz`. */
export function dayOf(ts: number, tz: string): string {
  const key = `${tz}\u0000${Math.floor(ts / QUARTER_MS)}`;
  const known = quarterDays.get(key);
  if (known !== undefined) return known;
  if (quarterDays.size >= MAX_QUARTERS) quarterDays.clear();
  const day = formatDay(ts, tz);
  quarterDays.set(key, day);
  return day;
}

function formatDay(ts: number, tz: string): string {
  let f = formatters.get(tz);
  if (!f) formatters.set(tz, (f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })));
  let year = '';
  let month = '';
  let day = '';
  for (const p of f.formatToParts(ts)) {
    if (p.type === 'year') year = p.value;
    else if (p.type === 'month') month = p.value;
    else if (p.type === 'day') day = p.value;
  }
  return `${year.padStart(4, '0')}-${month}-${day}`;
}

/** The end of calendar day `day` (`YYYY-MM-DD`) in `tz` (ms): the first instant of the next day there. */
export function dayEnd(day: string, tz: string): number {
  const next = new Date(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)) + 1));
  return startOf(next.toISOString().slice(0, 10), tz);
}
