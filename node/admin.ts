/**
 * Catalog admin API (docs/api.md): `PUT|GET|DELETE /api/v1/{brands|affiliates|links|rates|plans}/{id}`
 * and `GET /api/v1/{kind}`. Writes go to the KV bucket; every edge and worker sees them through its
 * watch. References are checked both ways: a link must name an existing brand and affiliate, a plan
 * its brand (in the brand's currency), an affiliate its plans; and a record still used by another
 * cannot be deleted.
 */
import { AffstreamError } from '../schema/errors.ts';
import { CATALOG_KINDS, checkId, invalidField, parseAffiliate, parseBrand, parseLink, parseRate, type CatalogKind, type Stamped } from '../schema/catalog.ts';
import { parsePlan } from '../schema/plans.ts';
import type { Catalog, CatalogRecords } from '../schema/catalogStore.ts';
import { json, type Reply, type Request } from './http.ts';
import { requireBearer } from './auth.ts';
import { jsonBody } from './requestParams.ts';

const KINDS = CATALOG_KINDS;

function kindOf(s: string | undefined): CatalogKind {
  if (!KINDS.includes(s as CatalogKind)) throw new AffstreamError('not_found', `no collection ${s}; collections: ${KINDS.join(', ')}`);
  return s as CatalogKind;
}

/** Handlers of the catalog admin API. */
export function adminApi(catalog: Catalog, adminToken: string) {
  type Body = Record<string, unknown>;
  /** Kinds whose record is the body's fields plus stamps; a plan also depends on the plan it replaces. */
  const validate: { [K in Exclude<CatalogKind, 'plans'>]: (id: string, body: Body) => Omit<CatalogRecords[K], keyof Stamped> } = {
    brands: (id, body) => {
      const brand = parseBrand(id, body);
      const plan = catalog.list('plans').find((p) => p.brandId === id && p.currency !== brand.currency);
      if (plan) throw new AffstreamError('conflict', `currency: plan ${plan.id} of brand ${id} is in ${plan.currency}; a brand's plans are in its currency`);
      return brand;
    },
    affiliates: (id, body) => {
      const affiliate = parseAffiliate(id, body);
      if (affiliate.planId !== null && !catalog.plans.has(affiliate.planId)) throw invalidField('planId', `no plan ${affiliate.planId}`);
      for (const [brandId, planId] of Object.entries(affiliate.plans)) {
        const plan = catalog.plans.get(planId);
        if (!plan) throw invalidField(`plans.${brandId}`, `no plan ${planId}`);
        if (plan.brandId !== brandId) throw invalidField(`plans.${brandId}`, `plan ${planId} is for brand ${plan.brandId}`);
      }
      return affiliate;
    },
    rates: parseRate,
    links: (code, body) => {
      const link = parseLink(code, body);
      if (!catalog.brands.has(link.brandId)) throw invalidField('brandId', `no brand ${link.brandId}`);
      if (!catalog.affiliates.has(link.affiliateId)) throw invalidField('affiliateId', `no affiliate ${link.affiliateId}`);
      return link;
    },
  };

  function plan(id: string, body: Body, now: number): CatalogRecords['plans'] {
    const p = parsePlan(id, body, catalog.plans.get(id), now);
    const brand = catalog.brands.get(p.brandId);
    if (!brand) throw invalidField('brandId', `no brand ${p.brandId}`);
    if (brand.currency !== p.currency) {
      throw invalidField('currency', `must be brand ${brand.id}'s currency ${brand.currency}: commissions are computed in the brand's currency, never converted`);
    }
    return p;
  }

  /** What still names the record, if anything: it cannot be deleted while it is. */
  function userOf(kind: CatalogKind, id: string): string | undefined {
    const first = <T>(what: string, records: T[], key: (r: T) => string, uses: (r: T) => boolean): string | undefined => {
      const r = records.find(uses);
      return r === undefined ? undefined : `${what} ${key(r)}`;
    };
    const link = (field: 'brandId' | 'affiliateId') => first('link', catalog.list('links'), (l) => l.code, (l) => l[field] === id);
    if (kind === 'brands') return link('brandId') ?? first('plan', catalog.list('plans'), (p) => p.id, (p) => p.brandId === id);
    if (kind === 'affiliates') return link('affiliateId');
    if (kind === 'plans') return first('affiliate', catalog.list('affiliates'), (a) => a.id, (a) => a.planId === id || Object.values(a.plans).includes(id));
    return undefined;
  }

  return {
    async put(req: Request): Promise<Reply> {
      requireBearer(req.headers.authorization, adminToken);
      const kind = kindOf(req.params[0]);
      const id = checkId(req.params[1] ?? '', 'id');
      const body = jsonBody(req);
      const prior = catalog.get(kind, id);
      const now = Date.now();
      const stamp = new Date(now).toISOString();
      const record = kind === 'plans' ? plan(id, body, now) : { ...validate[kind](id, body), createdAt: prior?.createdAt ?? stamp, updatedAt: stamp };
      // A plan PUT that changes nothing gives back the stored plan: no write, no new version.
      if (record === prior) return json(200, prior);
      await catalog.put(kind, id, record as CatalogRecords[typeof kind]);
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
      const user = userOf(kind, id);
      if (user) throw new AffstreamError('conflict', `${kind.slice(0, -1)} ${id} is used by ${user}`);
      await catalog.delete(kind, id);
      return { status: 204 };
    },
  };
}
