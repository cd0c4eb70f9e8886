/**
 * Verification of a run against its ledgers: the `affiliate-daily` report and the live API must
 * match the ledger exactly (counts and money to the 1/10,000), the commission lines and RevShare
 * accruals the commission ledger, and the fraud alerts are scored against the planted cases
 * (precision and recall). Pure functions of what was fetched, so the verdict logic is unit-tested
 * without servers.
 */
import { type Money, parseMoney, toDecimalText } from '../../schema/mod.ts';
import type { ExpectedAccrual, LineGroup } from './commissionLedger.ts';
import { COUNT_COLUMNS, LIVE_COLUMNS, MONEY_COLUMNS, type DailyRow } from './ledger.ts';
import type { FraudRule, PlantedCase } from './timeline.ts';

/** A report row as `GET /api/v1/reports/affiliate-daily?format=json` returns it (counts may be quoted 64-bit integers). */
export type ReportRow = Record<string, string | number>;

/** One figure that differs. */
export interface Difference {
  /**
   * `day / brand / affiliate` for report rows, `live / affiliate` for the live API,
   * `brand / affiliate / kind / plan version` for commission lines and
   * `brand / affiliate / period / plan version` for RevShare accruals.
   */
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

/** One figure of a keyed row: money compared exactly, anything else as text. */
interface Figure {
  column: string;
  expected: Money | number | string;
  actual: string | number | boolean | undefined;
}

/** Compares rows by key, figure by figure; a row missing on either side differs in every figure. */
function compareKeyed<E, A>(expected: readonly E[], actual: readonly A[], keyOf: { e: (r: E) => string; a: (r: A) => string }, figures: (e: E | undefined, a: A | undefined) => Figure[]): Comparison {
  const got = new Map(actual.map((r) => [keyOf.a(r), r]));
  const differences: Difference[] = [];
  let count = 0;
  const judge = (key: string, e: E | undefined, a: A | undefined) => {
    for (const f of figures(e, a)) {
      count++;
      const want = e === undefined ? '(no row)' : typeof f.expected === 'bigint' ? toDecimalText(f.expected) : String(f.expected);
      const have = a === undefined ? '(no row)' : String(f.actual);
      const same = e !== undefined && a !== undefined && (typeof f.expected === 'bigint' ? parseMoney(have) === f.expected : want === have);
      if (!same) differences.push({ row: key, column: f.column, expected: want, actual: have });
    }
  };
  for (const e of expected) {
    const key = keyOf.e(e);
    judge(key, e, got.get(key));
    got.delete(key);
  }
  for (const [key, a] of got) judge(key, undefined, a);
  return { rows: expected.length, figures: count, differences };
}

/** Columns of `affiliate-daily` that RevShare lines feed: made only when a period closes. */
const REVSHARE_COLUMNS: readonly string[] = ['revshare', 'commission'];

/**
 * Compares the report's rows with the ledger's, figure by figure; a row missing on either side
 * differs in every figure. On `brandsInDoubt` (commissionLedger.ts `periodsInDoubt`) a period may
 * have closed and made RevShare lines the ledger does not book: their `revshare` and `commission`
 * are left out.
 */
export function compareReport(expected: readonly DailyRow[], actual: readonly ReportRow[], brandsInDoubt: ReadonlySet<string> = new Set()): Comparison {
  return compareKeyed(expected, actual, { e: (r) => rowKey(r.day, r.brand_id, r.affiliate_id), a: (r) => rowKey(String(r.day), String(r.brand_id), String(r.affiliate_id)) }, (e, a) => {
    const brand = String(e?.brand_id ?? a?.brand_id);
    return [
      ...COUNT_COLUMNS.map((c) => ({ column: c, expected: e?.counts[c] ?? 0, actual: a === undefined ? undefined : Number(a[c]) })),
      ...MONEY_COLUMNS.filter((c) => !(brandsInDoubt.has(brand) && REVSHARE_COLUMNS.includes(c))).map((c) => ({ column: c, expected: e?.money[c] ?? 0n, actual: a?.[c] })),
    ];
  });
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

/** The cluster's commission lines as they stand (the latest version of each), grouped like {@link LineGroup}. */
export interface LineGroupRow {
  brand_id: string;
  affiliate_id: string;
  /** The kind, `<kind> reversal` for reversals, and `subaffiliate of revshare` for a parent's share of a RevShare line. */
  kind: string;
  plan_version: string;
  lines: number;
  /** Exact decimal text. */
  amount: string;
  held: number;
}

/** An open (or closed) RevShare period's figures for one plan version as they stand (the latest row of its id). */
export interface AccrualRow {
  brand_id: string;
  affiliate_id: string;
  period: string;
  plan_version: string;
  ngr: string;
  held_ngr: string;
  ftds: number;
  pct: string;
  amount: string;
  closed: boolean;
}

/** Line kinds only a closed RevShare period makes. */
const CLOSED_PERIOD_KINDS = ['revshare', 'subaffiliate of revshare'];

/** Commission lines and accruals against the commission ledger. */
export interface CommissionComparison {
  lines: Comparison;
  accruals: Comparison;
  /** The cluster's lines left out (RevShare lines of closed periods, on brands whose periods are in doubt). */
  notJudged: number;
}

/** Sums accruals per (brand, affiliate, plan version) over their periods. */
function overPeriods<T>(rows: readonly T[], of: (r: T) => { brand: string; affiliate: string; planVersion: string; ngr: Money; heldNgr: Money; ftds: number }) {
  const sums = new Map<string, { key: string; ngr: Money; heldNgr: Money; ftds: number }>();
  for (const r of rows) {
    const x = of(r);
    const key = `${x.brand} / ${x.affiliate} / (all periods) / ${x.planVersion}`;
    const s = sums.get(key) ?? { key, ngr: 0n, heldNgr: 0n, ftds: 0 };
    s.ngr += x.ngr;
    s.heldNgr += x.heldNgr;
    s.ftds += x.ftds;
    sums.set(key, s);
  }
  return [...sums.values()];
}

/**
 * Compares the cluster's commission lines and accruals with the commission ledger's. Lines: per
 * (brand, affiliate, kind, plan version) the number of lines, their exact sum and how many are held
 * (when that is known). Accruals: per (brand, affiliate, period, plan version) NGR, held NGR, FTDs,
 * percent, amount, and that the period is still open — except on `brandsInDoubt`
 * (commissionLedger.ts `periodsInDoubt`), whose NGR, held NGR and FTDs are compared summed over the
 * periods, and whose RevShare lines are left out.
 */
export function compareCommissions(
  expected: { lines: readonly LineGroup[]; accruals: readonly ExpectedAccrual[] },
  actual: { lines: readonly LineGroupRow[]; accruals: readonly AccrualRow[] },
  brandsInDoubt: ReadonlySet<string> = new Set(),
): CommissionComparison {
  const judgedLines = actual.lines.filter((r) => !(brandsInDoubt.has(r.brand_id) && CLOSED_PERIOD_KINDS.includes(r.kind)));
  const lines = compareKeyed(
    expected.lines,
    judgedLines,
    { e: (g) => `${g.brandId} / ${g.affiliateId} / ${g.kind} / ${g.planVersion}`, a: (r) => `${r.brand_id} / ${r.affiliate_id} / ${r.kind} / ${r.plan_version}` },
    (e, a) => [
      { column: 'lines', expected: e?.lines ?? 0, actual: a === undefined ? undefined : Number(a.lines) },
      { column: 'amount', expected: e?.amount ?? 0n, actual: a?.amount },
      ...(e?.held === null ? [] : [{ column: 'held', expected: e?.held ?? 0, actual: a === undefined ? undefined : Number(a.held) }]),
    ],
  );
  const inDoubt = (brand: string) => brandsInDoubt.has(brand);
  const perPeriod = compareKeyed(
    expected.accruals.filter((x) => !inDoubt(x.brandId)),
    actual.accruals.filter((r) => !inDoubt(r.brand_id)),
    { e: (x) => `${x.brandId} / ${x.affiliateId} / ${x.period} / ${x.planVersion}`, a: (r) => `${r.brand_id} / ${r.affiliate_id} / ${r.period} / ${r.plan_version}` },
    (e, a) => [
      { column: 'ngr', expected: e?.ngr ?? 0n, actual: a?.ngr },
      { column: 'held_ngr', expected: e?.heldNgr ?? 0n, actual: a?.held_ngr },
      { column: 'ftds', expected: e?.ftds ?? 0, actual: a === undefined ? undefined : Number(a.ftds) },
      // Percentages as numbers: the plan's "25.00" and a "25" are the same tier.
      { column: 'pct', expected: parseMoney(e?.pct ?? '0') ?? 0n, actual: a?.pct },
      { column: 'amount', expected: e?.amount ?? 0n, actual: a?.amount },
      { column: 'closed', expected: 'false', actual: a?.closed },
    ],
  );
  const summed = compareKeyed(
    overPeriods(expected.accruals.filter((x) => inDoubt(x.brandId)), (x) => ({ brand: x.brandId, affiliate: x.affiliateId, planVersion: x.planVersion, ngr: x.ngr, heldNgr: x.heldNgr, ftds: x.ftds })),
    overPeriods(actual.accruals.filter((r) => inDoubt(r.brand_id)), (r) => ({
      brand: r.brand_id, affiliate: r.affiliate_id, planVersion: r.plan_version, ngr: parseMoney(r.ngr) ?? 0n, heldNgr: parseMoney(r.held_ngr) ?? 0n, ftds: Number(r.ftds),
    })),
    { e: (x) => x.key, a: (x) => x.key },
    (e, a) => [
      { column: 'ngr', expected: e?.ngr ?? 0n, actual: a === undefined ? undefined : toDecimalText(a.ngr) },
      { column: 'held_ngr', expected: e?.heldNgr ?? 0n, actual: a === undefined ? undefined : toDecimalText(a.heldNgr) },
      { column: 'ftds', expected: e?.ftds ?? 0, actual: a?.ftds },
    ],
  );
  return {
    lines,
    accruals: { rows: perPeriod.rows + summed.rows, figures: perPeriod.figures + summed.figures, differences: [...perPeriod.differences, ...summed.differences] },
    notJudged: actual.lines.length - judgedLines.length,
  };
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
export function judgeRun(report: Comparison, live: Comparison, deliveryProblems: readonly string[], commissions?: CommissionComparison): Verdict {
  const reasons = [...deliveryProblems];
  if (report.differences.length > 0) reasons.push(`affiliate-daily: ${report.differences.length} of ${report.figures} figures differ from the ledger`);
  if (live.differences.length > 0) reasons.push(`live API: ${live.differences.length} of ${live.figures} counters differ from the ledger`);
  if (report.rows === 0) reasons.push('the ledger has no rows: nothing was verified');
  if (commissions) {
    const { lines, accruals } = commissions;
    if (lines.differences.length > 0) reasons.push(`commission lines: ${lines.differences.length} of ${lines.figures} figures differ from the commission ledger`);
    if (accruals.differences.length > 0) reasons.push(`RevShare accruals: ${accruals.differences.length} of ${accruals.figures} figures differ from the commission ledger`);
    if (lines.rows + accruals.rows === 0) reasons.push('the commission ledger has no lines and no accruals: no commission was verified');
  }
  return { verdict: reasons.length === 0 ? 'PASS' : 'FAIL', reasons };
}
