/**
 * The redirect as a team would first write it on Node's standard server: `node:http`, the link
 * looked up in a Map, the landing template's macros substituted with `encodeURIComponent`, a
 * UUIDv7 click id from the `uuid` package, a 302 with `Cache-Control: no-store`. It records
 * nothing (no batching, no JetStream): next to the bare uWS server and the edge, it shows what the
 * HTTP stack alone costs, and so how much of the edge's budget uWebSockets.js buys back.
 *
 * Run as its own process (`node --import tsx loadtest/bare/nodeHttpRedirect.ts <port> <links>`);
 * its link table is the redirect benchmark's catalog of `<links>` links (loadtest/lib/catalog.ts).
 */
import { createServer } from 'node:http';
import { v7 as uuidv7 } from 'uuid';
import { landingTemplate, planCatalog } from '../lib/catalog.ts';

const port = Number(process.argv[2]);
const links = Number(process.argv[3]);
if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(links) || links < 1) {
  process.stderr.write('usage: nodeHttpRedirect.ts <port> <links>\n');
  process.exit(2);
}

const plan = planCatalog(links);
const table = new Map(
  plan.codes.map((code, i) => {
    const brandId = plan.brands[i % plan.brands.length] as string;
    return [code, { brandId, affiliateId: plan.affiliates[i % plan.affiliates.length] as string, campaign: `spring-${i % 7}`, template: landingTemplate(brandId) }];
  }),
);

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/readyz') {
    res.end('ok');
    return;
  }
  const link = url.pathname.startsWith('/c/') ? table.get(decodeURIComponent(url.pathname.slice(3))) : undefined;
  if (!link) {
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"ok":false,"error":{"code":"not_found"}}');
    return;
  }
  const clickId = uuidv7();
  const values: Record<string, string> = { click_id: clickId, affiliate_id: link.affiliateId, brand_id: link.brandId, campaign: link.campaign };
  for (let i = 1; i <= 10; i++) values[`sub${i}`] = (url.searchParams.get(`sub${i}`) ?? '').slice(0, 256);
  let location = link.template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
  if (!link.template.includes('{click_id}')) location += `${location.includes('?') ? '&' : '?'}click_id=${clickId}`;
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store' }).end();
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
