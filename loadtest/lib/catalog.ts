/**
 * The benchmark catalog, created the way an operator would: through the edge's admin API.
 *
 * Brands restrict `US` and send those visitors to a `restrictedUrl`, so geo-blocked clicks still
 * answer 302 and every answer of the benchmark is a redirect. In the redirect benchmark one
 * affiliate in ten is paused: its clicks take the edge's "inactive" path, still redirected.
 */
import { httpCall } from './http.ts';

/** Shape of the catalog. */
export interface BenchCatalog {
  brands: string[];
  affiliates: string[];
  /** Link codes, the ones the traffic uses; link i belongs to brand i mod brands, affiliate i mod affiliates. */
  codes: string[];
  /** Affiliates created `paused` (their clicks take the edge's "inactive" path). */
  paused: string[];
  /** Every brand's `postbackSecret`: without one a brand refuses every event. */
  postbackSecret?: string;
}

/** Every benchmark link's landing URL: the click id in `cid=`, where the harness and the drivers read it. */
export function landingTemplate(brandId: string): string {
  return `https://${brandId}.example/welcome?cid={click_id}&aff={affiliate_id}&s1={sub1}&s2={sub2}`;
}

/** PUTs in flight at once: enough to hide the round trip, few enough not to queue in NATS KV. */
const CONCURRENCY = 16;

/** The catalog of an event background: one brand, `affiliates` affiliates and `links` links (`bench-aff-<i>`, `bench-<i>`). */
export function backgroundCatalog(brand: string, postbackSecret: string, affiliates: number, links: number): BenchCatalog {
  return {
    brands: [brand],
    affiliates: Array.from({ length: affiliates }, (_, i) => `bench-aff-${i}`),
    codes: Array.from({ length: links }, (_, i) => `bench-${i}`),
    paused: [],
    postbackSecret,
  };
}

/** The ids of a catalog of `links` links: 4 brands, one affiliate per 10 links (1 to 100). */
export function planCatalog(links: number): BenchCatalog {
  const affiliates = Array.from({ length: Math.max(1, Math.min(100, Math.ceil(links / 10))) }, (_, i) => `bench-aff-${i}`);
  return {
    brands: ['bench-casino-a', 'bench-casino-b', 'bench-sports', 'bench-poker'],
    affiliates,
    codes: Array.from({ length: links }, (_, i) => `bench-${i}`),
    paused: affiliates.filter((_, i) => i % 10 === 9),
  };
}

/**
 * `PUT /api/v1/{kind}/{id}` for every `[id, body]` of `records`, {@link CONCURRENCY} at a time;
 * throws on any answer but 200/201.
 */
export async function putRecords(baseUrl: string, adminToken: string, kind: string, records: readonly (readonly [string, Record<string, unknown>])[]): Promise<void> {
  const headers = { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < records.length) {
      const [id, body] = records[next++] as readonly [string, Record<string, unknown>];
      const { status, body: answer } = await httpCall('PUT', `${baseUrl}/api/v1/${kind}/${id}`, { headers, body: JSON.stringify(body), timeoutMs: 10_000 });
      if (status !== 200 && status !== 201) throw new Error(`PUT /api/v1/${kind}/${id} answered ${status}: ${answer.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, records.length) }, lane));
}

/** Creates `plan` on the edge at `baseUrl`. */
export async function createCatalog(baseUrl: string, adminToken: string, plan: BenchCatalog): Promise<void> {
  const all = (kind: string, ids: string[], body: (id: string, i: number) => Record<string, unknown>) =>
    putRecords(baseUrl, adminToken, kind, ids.map((id, i) => [id, body(id, i)] as const));

  const { brands, affiliates, codes, postbackSecret } = plan;
  const paused = new Set(plan.paused);
  await all('brands', brands, (id) => ({ name: id, currency: 'EUR', restrictedCountries: ['US'], restrictedUrl: `https://${id}.example/not-available`, ...(postbackSecret ? { postbackSecret } : {}) }));
  await all('affiliates', affiliates, (id) => ({ name: id, status: paused.has(id) ? 'paused' : 'active' }));
  await all('links', codes, (_, i) => {
    const brandId = brands[i % brands.length] as string;
    return { brandId, affiliateId: affiliates[i % affiliates.length], campaign: `spring-${i % 7}`, landingUrl: landingTemplate(brandId) };
  });
}
