/**
 * Catalog admin API (SPEC §3): `PUT|GET|DELETE /api/v1/{brands|affiliates|links}/{id}` and
 * `GET /api/v1/{kind}`. Writes go to the KV bucket; every edge and worker sees them through its
 * watch. References are checked both ways: a link must name an existing brand and affiliate, and
 * a brand or affiliate still used by a link cannot be deleted.
 */
import { AffstreamError } from '../schema/errors.ts';
import { CATALOG_KINDS, checkId, parseAffiliate, parseBrand, parseLink, parseRate, type CatalogKind } from '../schema/catalog.ts';
import type { Catalog, CatalogRecords } from '../schema/catalogStore.ts';
import { json, type Reply, type Request } from './http.ts';
import { requireBearer } from './auth.ts';

const KINDS = CATALOG_KINDS;

function kindOf(s: string | undefined): CatalogKind {
  if (!KINDS.includes(s as CatalogKind)) throw new AffstreamError('not_found', `no collection ${s}; collections: ${KINDS.join(', ')}`);
  return s as CatalogKind;
}

function parseJson(body: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AffstreamError('invalid_json', 'body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AffstreamError('invalid_json', 'body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Handlers of the catalog admin API. */
export function adminApi(catalog: Catalog, adminToken: string) {
  const validate = {
    brands: parseBrand,
    affiliates: parseAffiliate,
    rates: parseRate,
    links: (code: string, body: Record<string, unknown>) => {
      const link = parseLink(code, body);
      if (!catalog.brands.has(link.brandId)) throw new AffstreamError('invalid_field', `brandId: no brand ${link.brandId}`);
      if (!catalog.affiliates.has(link.affiliateId)) throw new AffstreamError('invalid_field', `affiliateId: no affiliate ${link.affiliateId}`);
      return link;
    },
  };

  return {
    async put(req: Request): Promise<Reply> {
      requireBearer(req.headers.authorization, adminToken);
      const kind = kindOf(req.params[0]);
      const id = checkId(req.params[1] ?? '', 'id');
      const body = parseJson(req.body);
      const parsed = validate[kind](id, body);
      const prior = catalog.get(kind, id);
      const now = new Date().toISOString();
      const record = { ...parsed, createdAt: prior?.createdAt ?? now, updatedAt: now } as CatalogRecords[typeof kind];
      await catalog.put(kind, id, record);
      return json(prior ? 200 : 201, record);
    },

    get(req: Request): Reply {
      requireBearer(req.headers.authorization, adminToken);
      const kind = kindOf(req.params[0]);
      const id = checkId(req.params[1] ?? '', 'id');
      const record = catalog.get(kind, id);
      if (!record) throw new AffstreamError('not_found', `no ${kind.slice(0, -1)} ${id}`);
      return json(200, record);
    },

    list(req: Request): Reply {
      requireBearer(req.headers.authorization, adminToken);
      return json(200, catalog.list(kindOf(req.params[0])));
    },

    async delete(req: Request): Promise<Reply> {
      requireBearer(req.headers.authorization, adminToken);
      const kind = kindOf(req.params[0]);
      const id = checkId(req.params[1] ?? '', 'id');
      if (!catalog.get(kind, id)) throw new AffstreamError('not_found', `no ${kind.slice(0, -1)} ${id}`);
      const field = kind === 'brands' ? 'brandId' : kind === 'affiliates' ? 'affiliateId' : undefined;
      const user = field && catalog.list('links').find((l) => l[field] === id);
      if (user) throw new AffstreamError('conflict', `${kind.slice(0, -1)} ${id} is used by link ${user.code}`);
      await catalog.delete(kind, id);
      return { status: 204 };
    },
  };
}
