/**
 * `affstream report <name> --from --to [--brand] [--affiliate] [--tz] [--format table|csv|json]`:
 * runs a report's SQL on ClickHouse exactly as `GET /api/v1/reports/{name}` does (docs/reports.md).
 */
import { parseArgs } from 'node:util';
import { bootConfig } from '../../schema/bootConfig.ts';
import { Catalog } from '../../schema/catalogStore.ts';
import { clickhouse } from '../../schema/clickhouse/client.ts';
import type { ClusterConfig } from '../../schema/config.ts';
import { AffstreamError } from '../../schema/errors.ts';
import { connectNats } from '../../schema/natsSetup.ts';
import { checkParams, formatRows, reportNames, runReport, type ReportBrand } from '../../schema/reports/index.ts';

export const name = 'report';
export const summary = 'Run a report (affiliate-daily, …) and print it as a table, CSV or JSON';
export const help = `Usage: affstream report <name> --from YYYY-MM-DD --to YYYY-MM-DD [options]

Runs schema/reports/<name>.sql against ClickHouse. The reports, their columns and examples:
docs/reports.md.

Options:
  --from DAY         first day, inclusive, in --tz (required)
  --to DAY           last day, inclusive, in --tz (required)
  --tz ZONE          IANA time zone for day boundaries (default UTC)
  --brand ID         only this brand
  --affiliate ID     only this affiliate
  --format F         table (default), csv or json
  --help             this text

Servers: the configured ones (CLICKHOUSE_URL, or the embedded server started by \`affstream up\`);
the reports that read the brands' settings (reconciliation, cohort-ltv) also read the catalog
from NATS.`;

/** The catalog's brands, read once from its NATS bucket. */
async function catalogBrands(cfg: ClusterConfig): Promise<ReportBrand[]> {
  const nc = await connectNats(cfg, 'report');
  try {
    const catalog = await Catalog.open(nc, cfg, () => {});
    catalog.close();
    return catalog.list('brands');
  } finally {
    await nc.close();
  }
}

/** Run the command; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      from: { type: 'string' }, to: { type: 'string' }, tz: { type: 'string' }, brand: { type: 'string' },
      affiliate: { type: 'string' }, format: { type: 'string', default: 'table' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const report = positionals[0];
  if (!report) {
    console.error(`affstream report: name a report: ${(await reportNames()).join(', ')}`);
    return 2;
  }
  const format = values.format;
  if (format !== 'table' && format !== 'csv' && format !== 'json') {
    console.error('affstream report: --format must be table, csv or json');
    return 2;
  }
  const cfg = await bootConfig();
  const ch = clickhouse(cfg);
  try {
    const params = checkParams({ from: values.from, to: values.to, tz: values.tz, brand: values.brand, affiliate: values.affiliate });
    const rows = await runReport(ch, report, params, () => catalogBrands(cfg));
    process.stdout.write(format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatRows(rows, format));
    return 0;
  } catch (err) {
    if (err instanceof AffstreamError) {
      console.error(`affstream report: ${err.code}: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    await ch.close();
  }
}
