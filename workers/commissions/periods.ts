/**
 * RevShare periods (docs/commissions.md): calendar months in the brand's IANA time zone, named
 * `YYYY-MM`. Offsets and daylight-saving rules come from the runtime's time zone data through
 * `Intl`, never from a table of our own, so a period ends at the exact first instant of the next
 * month there: `2026-03` in Europe/Malta ends at 2026-03-31T22:00:00Z (CEST), `2026-10` at
 * 2026-10-31T23:00:00Z (CET).
 */

const HOUR_MS = 3_600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) formatters.set(tz, (f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit' })));
  return f;
}

/** The period (`YYYY-MM`) the instant `ts` (ms) falls in, in time zone `tz`. */
export function periodOf(ts: number, tz: string): string {
  let year = '';
  let month = '';
  for (const p of formatter(tz).formatToParts(ts)) {
    if (p.type === 'year') year = p.value;
    else if (p.type === 'month') month = p.value;
  }
  return `${year.padStart(4, '0')}-${month}`;
}

/** The period after `period` (`2026-12` → `2027-01`). */
export function nextPeriod(period: string): string {
  const y = Number(period.slice(0, 4));
  const m = Number(period.slice(5, 7));
  return m === 12 ? `${String(y + 1).padStart(4, '0')}-01` : `${period.slice(0, 4)}-${String(m + 1).padStart(2, '0')}`;
}

// A pure function of its arguments, asked again for every open period at every tick.
const ends = new Map<string, number>();

/**
 * The end of `period` in `tz` (ms): the first instant whose period is the next one. Local midnight
 * of the next month's first day lies within 15 hours of the same wall time read as UTC (zone
 * offsets run from −12 to +14 hours), so the instant is found by bisection over that window — which
 * also finds the right instant when a transition skips or repeats that midnight.
 */
export function periodEnd(period: string, tz: string): number {
  const key = `${period}\u0000${tz}`;
  const known = ends.get(key);
  if (known !== undefined) return known;
  const next = nextPeriod(period);
  const wall = Date.UTC(Number(next.slice(0, 4)), Number(next.slice(5, 7)) - 1, 1);
  // Invariant: periodOf(lo) < next <= periodOf(hi).
  let lo = wall - 15 * HOUR_MS;
  let hi = wall + 15 * HOUR_MS;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (periodOf(mid, tz) >= next) hi = mid;
    else lo = mid;
  }
  ends.set(key, hi);
  return hi;
}

