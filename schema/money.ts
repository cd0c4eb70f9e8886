/**
 * Exact money (docs/architecture.md, “Money”): amounts are decimals with up to 4 places, carried as integer counts of
 * 1/10,000 of a currency unit in a bigint. Sums, differences and percentages never touch binary
 * floating point; text goes in and out. ClickHouse stores them as Decimal64(4), written as
 * unquoted decimal text (see {@link toDecimalText}) so no float ever sits in between.
 */

/** An amount in 1/10,000 units. */
export type Money = bigint;

/** 1 currency unit. */
export const UNIT = 10_000n;

const DECIMAL = /^(-)?(\d{1,15})(?:\.(\d{1,4}))?$/;

/**
 * Parse an amount given as a string (`"50"`, `"50.1"`, `"-0.0001"`) or a JSON number. A number
 * is taken through its shortest decimal text (`50.1` → `"50.1"`), which is what the sender wrote.
 * Returns undefined for anything else: more than 4 decimals, exponents, NaN, over 15 digits.
 */
export function parseMoney(v: unknown): Money | undefined {
  // Most money fields of a row are zero (a bet has no bonus, a deposit no win): spare them the regex and BigInts.
  if (v === '0.0000' || v === 0) return 0n;
  let s: string;
  if (typeof v === 'string') s = v.trim();
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else return undefined;
  const m = DECIMAL.exec(s);
  if (!m) return undefined;
  const units = BigInt(m[2] as string) * UNIT + BigInt(((m[3] ?? '') + '0000').slice(0, 4));
  return m[1] ? -units : units;
}

/**
 * Integer digits an amount the cluster takes in may have (docs/protocol.md, “Money”). ClickHouse
 * keeps money as Decimal64(4), below 10^14 units, and the sums stored beside the amounts
 * (per-minute, per-day, per commission line) are the same type. An amount that did not fit would
 * make every insert of its flush fail, stopping the namespace's writes; 12 digits leave two for
 * the sums.
 */
export const MAX_AMOUNT_DIGITS = 12;

/** Whether `text` (an amount as {@link normalizeMoney} writes it) has at most {@link MAX_AMOUNT_DIGITS} integer digits. */
export function storable(text: string): boolean {
  const dot = text.indexOf('.');
  return (dot < 0 ? text.length : dot) - (text.charCodeAt(0) === 0x2d ? 1 : 0) <= MAX_AMOUNT_DIGITS;
}

/**
 * What `toDecimalText(parseMoney(v))` gives — the amount's text with 4 places, or undefined when
 * {@link parseMoney} refuses `v` — without going through a bigint: ingestion normalizes every
 * amount of every event, and two bigint conversions and a division cost more than the rest of an
 * event's validation.
 */
export function normalizeMoney(v: unknown): string | undefined {
  let s: string;
  if (typeof v === 'string') s = v.trim();
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else return undefined;
  const n = s.length;
  const negative = s.charCodeAt(0) === 0x2d;
  const intStart = negative ? 1 : 0;
  let i = intStart;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  const intEnd = i;
  if (intEnd === intStart || intEnd - intStart > 15) return undefined;
  let fraction = '';
  if (i < n) {
    if (s.charCodeAt(i) !== 0x2e) return undefined;
    const fractionStart = ++i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i !== n || i === fractionStart || i - fractionStart > 4) return undefined;
    fraction = s.slice(fractionStart);
  }
  let first = intStart;
  while (first < intEnd - 1 && s.charCodeAt(first) === 0x30) first++;
  const integer = s.slice(first, intEnd);
  const places = fraction + '0000'.slice(fraction.length);
  // "-0", "-0.00": zero has no sign, as in the bigint.
  const sign = negative && (integer !== '0' || places !== '0000') ? '-' : '';
  return `${sign}${integer}.${places}`;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** The decimal text of an amount, always with 4 places (`"50.0000"`). */
export function toDecimalText(a: Money): string {
  const neg = a < 0n;
  const abs = neg ? -a : a;
  return `${neg ? '-' : ''}${abs / UNIT}.${(abs % UNIT).toString().padStart(4, '0')}`;
}

/** The amount with 2 decimals for display (`"50.00"`), rounded half away from zero. */
export function toCents(a: Money): string {
  const neg = a < 0n;
  const abs = neg ? -a : a;
  const cents = (abs + 50n) / 100n;
  return `${neg && cents > 0n ? '-' : ''}${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/**
 * `a × rate`, rate itself an exact decimal (a currency rate or a percentage / 100), rounded half
 * away from zero to 4 places. The only rounding in the system, and always explicit.
 */
export function multiply(a: Money, rate: Money): Money {
  const p = a * rate;
  const neg = p < 0n;
  const abs = neg ? -p : p;
  const q = (abs + UNIT / 2n) / UNIT;
  return neg ? -q : q;
}

/**
 * `a` shared out by integer `weights` (basis points, say), exactly: every part is the floor of its
 * share in 1/10,000 units, and the units left over go one each to the largest remainders — so the
 * parts always sum to `a` (the largest-remainder method at 0.0001). Equal remainders favour the
 * later part, as equal weights favour the later touch (workers/actors/attribution.ts). A negative
 * amount is split as its absolute value, negated, so a loss is shared exactly as a gain would be.
 */
export function splitByWeights(a: Money, weights: readonly number[]): Money[] {
  if (a < 0n) return splitByWeights(-a, weights).map((p) => -p);
  const total = BigInt(weights.reduce((s, w) => s + w, 0));
  if (total === 0n) throw new RangeError('splitByWeights: the weights sum to 0');
  const parts = weights.map((w) => (a * BigInt(w)) / total);
  const order = weights.map((w, i) => ({ i, r: (a * BigInt(w)) % total })).sort((x, y) => (x.r === y.r ? y.i - x.i : x.r > y.r ? -1 : 1));
  let left = a - parts.reduce((s, p) => s + p, 0n);
  for (let k = 0; left > 0n; k++, left--) {
    const i = (order[k] as { i: number }).i;
    parts[i] = (parts[i] as bigint) + 1n;
  }
  return parts;
}
