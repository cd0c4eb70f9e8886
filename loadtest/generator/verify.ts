/**
 * Verification of a run against its ledger: the `affiliate-daily` report and the live API must
 * match it exactly (counts and money to the 1/10,000), and the fraud alerts are scored against the
 * planted cases (precision and recall). Pure functions of what was fetched, so the verdict logic
 * is unit-tested without servers.
 */
import { parseMoney, toDecimalText, type Money } from '../../schema/money.ts';
import { COUNT_COLUMNS, LIVE_COLUMNS, MONEY_COLUMNS, type DailyRow } from './ledger.ts';
import type { FraudRule, PlantedCase } from './timeline.ts';

/** A report row as `GET /api/v1/reports/affiliate-daily?format=json` returns it (counts may be quoted 64-bit integers). */
export type ReportRow = Record<string, string | number>;

/** One figure that differs. */
export interface Difference {
  /** `day / brand / affiliate` for report rows, `live / affiliate` for the live API. */
  row: string;
  column: string;
  expected: string;
  actual: string;
}

/** The outcome of a comparison: exact, or the differing figures (all of them, the report shows the first ones). */
export interface Comparison {
  rows: number;
  figures: number;
  differences: Difference[];
}

const rowKey = (day: string, brand: string, affiliate: string) => `${day} / ${brand} / ${affiliate === '' ? '(organic)' : affiliate}`;

/** Compares the report's rows with the ledger's, figure by figure; a row missing on either side differs in every figure. */
export function compareReport(expected: readonly DailyRow[], actual: readonly ReportRow[]): Comparison {
  const got = new Map(actual.map((r) => [rowKey(String(r.day), String(r.brand_id), String(r.affiliate_id)), r]));
  const differences: Difference[] = [];
  let figures = 0;
  for (const e of expected) {
    const key = rowKey(e.day, e.brand_id, e.affiliate_id);
    const a = got.get(key);
    got.delete(key);
    for (const c of COUNT_COLUMNS) {
      figures++;
      const value = a === undefined ? undefined : Number(a[c]);
      if (value !== e.counts[c]) differences.push({ row: key, column: c, expected: String(e.counts[c]), actual: a === undefined ? '(no row)' : String(a[c]) });
    }
    for (const c of MONEY_COLUMNS) {
      figures++;
      const value = a === undefined ? undefined : parseMoney(String(a[c]));
      if (value !== e.money[c]) differences.push({ row: key, column: c, expected: toDecimalText(e.money[c]), actual: a === undefined ? '(no row)' : String(a[c]) });
    }
  }
  for (const [key, a] of got) {
    for (const c of [...COUNT_COLUMNS, ...MONEY_COLUMNS]) {
      figures++;
      differences.push({ row: key, column: c, expected: '(no row)', actual: String(a[c]) });
    }
  }
  return { rows: expected.length, figures, differences };
}

/** Compares live counters (affiliate → what the API answered) with the ledger's expectation for the same day. */
export function compareLive(expected: ReadonlyMap<string, Record<string, number | Money>>, actual: ReadonlyMap<string, Record<string, number | string>>): Comparison {
  const differences: Difference[] = [];
  let figures = 0;
  for (const [affiliate, e] of expected) {
    const a = actual.get(affiliate);
    for (const c of LIVE_COLUMNS) {
      figures++;
      const want = e[c];
      const value = a?.[c];
      const same = typeof want === 'bigint' ? value !== undefined && parseMoney(String(value)) === want : Number(value) === want;
      if (!same) differences.push({ row: `live / ${affiliate}`, column: c, expected: typeof want === 'bigint' ? toDecimalText(want) : String(want), actual: value === undefined ? '(no answer)' : String(value) });
    }
  }
  return { rows: expected.size, figures, differences };
}

/** A fraud alert as `GET /api/v1/fraud/alerts` returns it (the contract's fields we score on). */
export interface FraudAlert {
  rule: string;
  affiliate_id?: string;
  sub_id?: string;
  player_id?: string;
  action?: string;
}

/** Planted fraud against detected, per rule and overall. */
export interface FraudScore {
  /** false when the fraud endpoints answered 404 (the engine is not there yet): nothing else is filled in. */
  available: boolean;
  alerts: number;
  truePositives: number;
  falsePositives: number;
  planted: number;
  detected: number;
  /** Alerts that match a planted case / all alerts; null without alerts. */
  precision: number | null;
  /** Planted cases with at least one matching alert / planted cases; null without planted cases. */
  recall: number | null;
  perRule: { rule: FraudRule; planted: number; detected: number; alerts: number; falsePositives: number }[];
  /** Planted cases no alert matched. */
  missed: PlantedCase[];
  /** The first false positives. */
  falseAlarms: FraudAlert[];
}

/** Whether `alert` is the engine finding `c`: the same rule, on one of its players or on its affiliate's sub-ID. */
export function matches(alert: FraudAlert, c: PlantedCase): boolean {
  if (alert.rule !== c.rule) return false;
  if (alert.player_id && c.playerIds.includes(alert.player_id)) return true;
  return alert.affiliate_id === c.affiliateId && (!alert.sub_id || alert.sub_id === c.subId);
}

/** Scores `alerts` against `planted`; `alerts` undefined = the endpoint is not available. */
export function scoreFraud(planted: readonly PlantedCase[], alerts: readonly FraudAlert[] | undefined): FraudScore {
  const rules = [...new Set(planted.map((c) => c.rule))];
  if (alerts === undefined) {
    return { available: false, alerts: 0, truePositives: 0, falsePositives: 0, planted: planted.length, detected: 0, precision: null, recall: null, perRule: [], missed: [], falseAlarms: [] };
  }
  const truePositive = alerts.map((a) => planted.some((c) => matches(a, c)));
  const found = planted.map((c) => alerts.some((a) => matches(a, c)));
  const tp = truePositive.filter(Boolean).length;
  const detected = found.filter(Boolean).length;
  return {
    available: true,
    alerts: alerts.length,
    truePositives: tp,
    falsePositives: alerts.length - tp,
    planted: planted.length,
    detected,
    precision: alerts.length > 0 ? tp / alerts.length : null,
    recall: planted.length > 0 ? detected / planted.length : null,
    perRule: rules.map((rule) => ({
      rule,
      planted: planted.filter((c) => c.rule === rule).length,
      detected: planted.filter((c, i) => c.rule === rule && found[i]).length,
      alerts: alerts.filter((a) => a.rule === rule).length,
      falsePositives: alerts.filter((a, i) => a.rule === rule && !truePositive[i]).length,
    })),
    missed: planted.filter((_, i) => !found[i]),
    falseAlarms: alerts.filter((_, i) => !truePositive[i]).slice(0, 10),
  };
}

/** The run's verdict: `PASS` only when every figure is exact and nothing was lost on the way. */
export interface Verdict {
  verdict: 'PASS' | 'FAIL';
  reasons: string[];
}

/** Combines the comparisons and the delivery problems into one verdict (fraud detection quality is reported, not judged). */
export function judgeRun(report: Comparison, live: Comparison, deliveryProblems: readonly string[]): Verdict {
  const reasons = [...deliveryProblems];
  if (report.differences.length > 0) reasons.push(`affiliate-daily: ${report.differences.length} of ${report.figures} figures differ from the ledger`);
  if (live.differences.length > 0) reasons.push(`live API: ${live.differences.length} of ${live.figures} counters differ from the ledger`);
  if (report.rows === 0) reasons.push('the ledger has no rows: nothing was verified');
  return { verdict: reasons.length === 0 ? 'PASS' : 'FAIL', reasons };
}
