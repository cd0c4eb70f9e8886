/**
 * `GET /api/v1/reports/{name}` (docs/reports.md). The admin token sees every row; an affiliate's
 * API key sees only its own: the `affiliate` parameter is forced to the key's owner server-side.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { AffstreamError } from '../schema/errors.ts';
import type { Catalog } from '../schema/catalogStore.ts';
import { checkParams, formatRows, runReport } from '../schema/reports/index.ts';
import { json, type Reply, type Request } from './http.ts';
import { requestScope } from './auth.ts';

/** The report handler. */
export function reportsApi(ch: ClickHouseClient, catalog: Catalog, adminToken: string) {
  return async (req: Request): Promise<Reply> => {
    const scope = requestScope(req.headers.authorization, adminToken, catalog);
    const q = new URLSearchParams(req.query);
    const format = q.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new AffstreamError('invalid_parameter', 'format: expected json or csv');
    const params = checkParams({
      from: q.get('from') ?? undefined,
      to: q.get('to') ?? undefined,
      tz: q.get('tz') ?? undefined,
      brand: q.get('brand') ?? undefined,
      affiliate: scope.all ? (q.get('affiliate') ?? undefined) : scope.affiliateId,
    });
    const rows = await runReport(ch, req.params[0] ?? '', params, async () => catalog.list('brands'));
    if (format === 'json') return json(200, rows);
    return { status: 200, headers: { 'Content-Type': 'text/csv; charset=utf-8' }, body: formatRows(rows, 'csv') };
  };
}
