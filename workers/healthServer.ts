/**
 * The worker process's own HTTP port (`worker.metricsPort`, loopback): `/metrics` for Prometheus,
 * `/healthz` and `/readyz` per partition (docs/api.md, “Worker health”). It belongs to the
 * process, not to a worker instance, so it keeps answering — "restarting", with the failure —
 * while a dead loop's instance is replaced.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { HealthAnswer } from './supervisor.ts';

/** What the port answers from. */
export interface HealthSource {
  registry: Registry;
  health(): HealthAnswer;
  readiness(): HealthAnswer;
}

/** Listen on 127.0.0.1:`port`. */
export function serveWorkerHealth(port: number, source: HealthSource, log: Logger): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') {
      source.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': source.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    const answer = path === '/healthz' ? source.health() : path === '/readyz' ? source.readiness() : undefined;
    if (!answer) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: false, error: { code: 'not_found', message: 'unknown path' } }));
      return;
    }
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  server.on('error', (err) => log.error({ err: String(err), port }, 'worker metrics server failed'));
  server.listen(port, '127.0.0.1');
  return server;
}
