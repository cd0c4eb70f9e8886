/**
 * The visitors of the redirect benchmark: a fixed, seeded set of requests that every load tool
 * replays in a loop, so that wrk and autocannon send the same mix to both targets.
 *
 * A constant URL would measure a best case no real edge sees: the same link, the same sub-ID and
 * the same user agent hit the same cache lines and the same branch of the bot check every time.
 * Here each request names one of the catalog's links, carries its own `sub1`, comes from its own
 * client address (`X-Forwarded-For`, believed because the harness connects from loopback, a
 * trusted proxy), and uses one of a handful of browser user agents; about one in ten is a bot
 * (crawler, script or no user agent at all) and some name a country the brand restricts.
 */

/** One request of the replayed set. */
export interface TrafficRequest {
  /** Path and query, e.g. `/c/l17?sub1=…`. */
  path: string;
  headers: Record<string, string>;
  /** `POST` with this body (base64, so binary bodies survive JSON); absent = `GET`. */
  bodyBase64?: string;
}

/** How the set is built. */
export interface TrafficOptions {
  /** Link codes to spread the requests over (the benchmark catalog). */
  codes: readonly string[];
  /** Requests in the set; the tools cycle through it. */
  size: number;
  /** Part of every `sub1`, so sub-IDs of different runs never collide. */
  tag: string;
  /** PRNG seed: the same seed gives the same set. */
  seed?: number;
}

export const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67',
];

/** `undefined` sends no User-Agent header at all, which the edge must also flag as a bot. */
export const BOTS: readonly (string | undefined)[] = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'curl/8.5.0',
  'python-requests/2.31.0',
  undefined,
];

/** Countries sent in `CF-IPCountry` by some visitors; the benchmark brands restrict `US`. */
const COUNTRIES = ['DE', 'GB', 'BR', 'CA', 'US'];

/** Share of requests from bots. */
const BOT_SHARE = 0.1;
/** Share of requests carrying a country header. */
const COUNTRY_SHARE = 0.2;

/** mulberry32: tiny, fast, and good enough to spread requests; the point is reproducibility. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the request set. */
export function trafficRequests(opts: TrafficOptions): TrafficRequest[] {
  if (opts.codes.length === 0) throw new Error('trafficRequests: no link codes');
  const rand = prng(opts.seed ?? 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const octet = () => 1 + Math.floor(rand() * 254);
  const requests: TrafficRequest[] = [];
  for (let i = 0; i < opts.size; i++) {
    const code = pick(opts.codes);
    let query = `sub1=${opts.tag}-${i}`;
    if (rand() < 0.5) query += `&sub2=creative${Math.floor(rand() * 20)}`;
    if (rand() < 0.2) query += `&sub3=${encodeURIComponent(pick(['google ads', 'fb/feed', 'tiktok:video']))}`;
    const client = `${octet()}.${octet()}.${octet()}.${octet()}`;
    // Some visitors arrive through a second, trusted proxy hop: the edge must skip it.
    const headers: Record<string, string> = {
      'X-Forwarded-For': rand() < 0.2 ? `${client}, 127.0.0.1` : client,
      Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'Accept-Language': pick(['en-GB,en;q=0.9', 'de-DE,de;q=0.9,en;q=0.8', 'pt-BR,pt;q=0.9']),
    };
    const ua = rand() < BOT_SHARE ? pick(BOTS) : pick(BROWSERS);
    if (ua !== undefined) headers['User-Agent'] = ua;
    if (rand() < COUNTRY_SHARE) headers['CF-IPCountry'] = pick(COUNTRIES);
    requests.push({ path: `/c/${code}?${query}`, headers });
  }
  return requests;
}
