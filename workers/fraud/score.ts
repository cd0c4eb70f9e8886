/**
 * Fraud scores, 0–100, for every click and registration, from what is known when they are counted.
 * Additive evidence, capped at 100; the weights are documented in docs/fraud.md, “Scores”.
 */

/** What a click's score is made of. */
export interface ClickEvidence {
  bot: boolean;
  /** Empty, too short, or without any letter: not a browser's user agent. */
  garbledUa: boolean;
  geoBlocked: boolean;
  /** Clicks from this IP on this affiliate in the last minute, this one included. */
  ipClicksPerMinute: number;
  maxPerMinute: number;
  /** The affiliate or the sub-ID was paused or blocked when the click came. */
  trafficStopped: boolean;
}

const clamp = (n: number) => Math.max(0, Math.min(100, Math.round(n)));

/** The score of a click. */
export function clickScore(e: ClickEvidence): number {
  if (e.bot) return 100;
  if (e.garbledUa) return 90;
  if (e.ipClicksPerMinute > e.maxPerMinute) return 80;
  // Below the flood threshold, a busy IP is still worth up to 40.
  const velocity = 40 * Math.min(1, (e.ipClicksPerMinute - 1) / e.maxPerMinute);
  return clamp(velocity + (e.trafficStopped ? 20 : 0) + (e.geoBlocked ? 10 : 0));
}

/** A user agent no browser sends: empty, under 10 characters, without letters, or with control characters. */
export function isGarbledUserAgent(ua: string): boolean {
  return ua.length < 10 || !/[A-Za-z]{2}/.test(ua) || /[\u0000-\u001f\u007f]/.test(ua);
}

/** What a registration's score is made of. */
export interface RegistrationEvidence {
  /** The score its click got; null for organic players (no click known). */
  clickScore: number | null;
  /** Milliseconds from the click to the registration. */
  sinceClickMs: number;
  /** The registration's IP differs from the click's (both known). */
  ipChanged: boolean;
  /** The registration's country differs from the click's (both known). */
  countryChanged: boolean;
}

/** The score of a registration. */
export function registrationScore(e: RegistrationEvidence): number {
  if (e.clickScore === null) return 0;
  // A human needs more than a few seconds from landing page to a filled-in sign-up form.
  const scripted = e.sinceClickMs < 5_000 ? 30 : 0;
  return clamp(e.clickScore / 2 + scripted + (e.ipChanged ? 10 : 0) + (e.countryChanged ? 15 : 0));
}
