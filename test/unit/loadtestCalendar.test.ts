/** The harness's own calendar (loadtest/generator/calendar.ts): local days and their first instants. */
import { describe, expect, it } from 'vitest';
import { dayIn, dayStartIn, nextDay } from '../../loadtest/generator/calendar.ts';

describe("the ground truth's calendar", () => {
  it('names the local day of an instant', () => {
    expect(dayIn(Date.UTC(2026, 2, 31, 21, 59, 59, 999), 'Europe/Malta')).toBe('2026-03-31');
    expect(dayIn(Date.UTC(2026, 2, 31, 22), 'Europe/Malta')).toBe('2026-04-01');
    expect(dayIn(Date.UTC(2026, 11, 31, 12), 'Pacific/Kiritimati')).toBe('2027-01-01');
    expect(dayIn(Date.UTC(2026, 0, 1, 11, 59), 'Etc/GMT+12')).toBe('2025-12-31');
  });

  it('steps to the next day across months and years', () => {
    expect(nextDay('2026-02-28')).toBe('2026-03-01');
    expect(nextDay('2028-02-28')).toBe('2028-02-29');
    expect(nextDay('2026-12-31')).toBe('2027-01-01');
  });

  it("finds a day's first instant in summer and winter time, and at the far ends of the offsets", () => {
    expect(dayStartIn('2026-04-01', 'Europe/Malta')).toBe(Date.UTC(2026, 2, 31, 22));
    expect(dayStartIn('2026-11-01', 'Europe/Malta')).toBe(Date.UTC(2026, 9, 31, 23));
    expect(dayStartIn('2026-07-01', 'Europe/London')).toBe(Date.UTC(2026, 5, 30, 23));
    expect(dayStartIn('2026-07-01', 'UTC')).toBe(Date.UTC(2026, 6, 1));
    expect(dayStartIn('2027-01-01', 'Pacific/Kiritimati')).toBe(Date.UTC(2026, 11, 31, 10));
    expect(dayStartIn('2026-01-01', 'Etc/GMT+12')).toBe(Date.UTC(2026, 0, 1, 12));
  });

  it("finds it where the day's midnight does not exist (a transition at 00:00)", () => {
    // Chile moves its clocks forward at local midnight on 2026-09-06: 00:00 becomes 01:00 (UTC−3).
    expect(dayStartIn('2026-09-06', 'America/Santiago')).toBe(Date.UTC(2026, 8, 6, 4));
    expect(dayIn(Date.UTC(2026, 8, 6, 4) - 1, 'America/Santiago')).toBe('2026-09-05');
  });

  it('its days are contiguous: the next day starts where the day ends', () => {
    const start = dayStartIn('2026-03-29', 'Europe/London');
    const end = dayStartIn(nextDay('2026-03-29'), 'Europe/London');
    expect(end - start).toBe(23 * 3_600_000);
    expect(dayIn(end - 1, 'Europe/London')).toBe('2026-03-29');
  });
});
