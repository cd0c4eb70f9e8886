/**
 * Reports (docs/reports.md): SQL files in this folder with named, typed parameters written
 * `{name:Type}` — the syntax of current ClickHouse. ClickHouse 18.16 has no server-side
 * parameters, so {@link bindParameters} validates each value against its type and inlines it as a
 * quoted literal; nothing from a request is ever pasted into SQL unchecked. The CLI and the HTTP
 * API both run reports through {@link runReport}.
 *
 * A report may also name settings of the brand from the catalog ({@link BRAND_PARAMETERS}): it is
 * then run once per brand, because ClickHouse 18.16 takes a time zone only as a constant, and the
 * brands' days differ.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { stringify } from 'csv-stringify/sync';
import { AffstreamError } from '../errors.ts';
import { isId } from '../config.ts';
import { isTimeZone, type Brand } from '../catalog.ts';
import { quote, selectRows } from '../clickhouse/client.ts';

const DIR = fileURLToPath(new URL('./', import.meta.url));

/** Parameters every report takes. */
export interface ReportParams {
  from: string;
  to: string;
  tz: string;
  brand: string;
  affiliate: string;
}

/** What a report may read of a brand's catalog record. */
export type ReportBrand = Pick<Brand, 'id' | 'timezone' | 'reconciliationThresholdPct'>;

/** The brands a report runs over: the catalog's, read only for a report naming brand parameters. */
export type ReportBrands = () => Promise<readonly ReportBrand[]>;

/** Parameters a report takes from each brand's catalog record rather than from the request. */
export const BRAND_PARAMETERS = {
  /** The brand's IANA time zone: its calendar days and months. */
  brand_tz: (b: ReportBrand) => b.timezone,
  /** `reconciliationThresholdPct`, as decimal text. */
  brand_threshold_pct: (b: ReportBrand) => String(b.reconciliationThresholdPct),
} satisfies Record<string, (b: ReportBrand) => string>;

/** Output formats. */
export type ReportFormat = 'json' | 'csv' | 'table';

/** Names of the reports that exist. */
export async function reportNames(): Promise<string[]> {
  return (await readdir(DIR)).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4)).sort();
}

function isDay(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s);
}

/** Check user-supplied parameters; throws 400 `invalid_parameter` naming the bad one. */
export function checkParams(p: Partial<Record<keyof ReportParams, string | undefined>>): ReportParams {
  const bad = (name: string, want: string) => new AffstreamError('invalid_parameter', `${name}: expected ${want}`);
  const from = p.from ?? '';
  const to = p.to ?? '';
  if (!isDay(from)) throw bad('from', 'a day YYYY-MM-DD');
  if (!isDay(to)) throw bad('to', 'a day YYYY-MM-DD');
  if (to < from) throw bad('to', 'a day not before from');
  const tz = p.tz || 'UTC';
  if (!isTimeZone(tz)) throw bad('tz', 'an IANA time zone such as Europe/Malta');
  const brand = p.brand ?? '';
  if (brand !== '' && !isId(brand)) throw bad('brand', 'a brand id');
  const affiliate = p.affiliate ?? '';
  if (affiliate !== '' && !isId(affiliate)) throw bad('affiliate', 'an affiliate id');
  return { from, to, tz, brand, affiliate };
}

/** Replace each `{name:Type}` of `sql` by the checked literal of `params[name]`. */
export function bindParameters(sql: string, params: Record<string, string>): string {
  return sql.replace(/\{([a-z_][a-z0-9_]*):([A-Za-z0-9]+)\}/g, (_m, name: string, type: string) => {
    const v = params[name];
    if (v === undefined) throw new AffstreamError('invalid_parameter', `${name}: missing`);
    if (type === 'String') return quote(v);
    if (type === 'Date') {
      if (!isDay(v)) throw new AffstreamError('invalid_parameter', `${name}: expected a day YYYY-MM-DD`);
      return `toDate('${v}')`;
    }
    throw new AffstreamError('internal', `report parameter type ${type} is not supported`);
  });
}

/**
 * Run report `name` and return its rows. A report naming {@link BRAND_PARAMETERS} runs once per
 * brand of `brands` — only `params.brand` when set (none when the catalog has no such brand) — in
 * the order of their ids, its rows one brand after the other.
 */
export async function runReport(ch: ClickHouseClient, name: string, params: ReportParams, brands?: ReportBrands): Promise<Record<string, unknown>[]> {
  if (!(await reportNames()).includes(name)) throw new AffstreamError('unknown_report', `no report ${name}; reports: ${(await reportNames()).join(', ')}`);
  const sql = (await readFile(`${DIR}${name}.sql`, 'utf8')).replace(/^\s*--.*$/gm, '');
  const run = (values: Record<string, string>) => selectRows<Record<string, unknown>>(ch, bindParameters(sql, values));
  const perBrand = Object.keys(BRAND_PARAMETERS).some((p) => sql.includes(`{${p}:`));
  if (!perBrand) return run({ ...params });
  if (!brands) throw new AffstreamError('internal', `report ${name} reads the brands' settings: the catalog is needed`);
  const scope = (await brands()).filter((b) => params.brand === '' || b.id === params.brand).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rows: Record<string, unknown>[] = [];
  // One brand after the other: a report's load on ClickHouse stays that of one query.
  for (const b of scope) {
    const values = Object.fromEntries(Object.entries(BRAND_PARAMETERS).map(([k, f]) => [k, f(b)]));
    rows.push(...(await run({ ...params, brand: b.id, ...values })));
  }
  return rows;
}

/** Render rows as CSV (header + rows) or as a plain-text table. */
export function formatRows(rows: Record<string, unknown>[], format: Exclude<ReportFormat, 'json'>, columns?: string[]): string {
  const cols = columns ?? Object.keys(rows[0] ?? {});
  if (format === 'csv') return stringify(rows, { header: true, columns: cols });
  const cells = [cols, ...rows.map((r) => cols.map((c) => String(r[c] ?? '')))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => (row[i] as string).length)));
  const numeric = cols.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number'));
  const pad = (c: string, i: number) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number));
  // No trailing blanks: a left-aligned last column would pad every line to its header's width.
  return cells.map((row) => row.map(pad).join('  ').trimEnd()).join('\n') + '\n';
}
