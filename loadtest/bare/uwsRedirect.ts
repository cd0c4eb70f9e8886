/**
 * The ceiling of the redirect benchmark: a bare uWebSockets.js server answering `GET /c/{code}`
 * with a 302, nothing else — no catalog, no click id, no batching. Whatever the edge costs on top
 * of this is the price of affstream's own work.
 *
 * Run as its own process (`node --import tsx loadtest/bare/uwsRedirect.ts <port>`) so its CPU time
 * can be read from /proc like the edge's. `/readyz` answers 200 so the harness waits on it the
 * same way it waits on an edge.
 */
import { App, us_listen_socket_close, type us_listen_socket } from 'uWebSockets.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: uwsRedirect.ts <port>\n');
  process.exit(2);
}

let listenSocket: us_listen_socket | undefined;

App()
  .get('/c/:code', (res, req) => {
    // Same response headers as the edge's redirect minus the cookie, so bytes on the wire are comparable.
    const location = `https://landing.example/?code=${req.getParameter(0) ?? ''}`;
    res.cork(() => {
      res.writeStatus('302 Found').writeHeader('Location', location).writeHeader('Cache-Control', 'no-store').end();
    });
  })
  .get('/readyz', (res) => {
    res.cork(() => res.end('ok'));
  })
  .any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').end());
  })
  .listen('127.0.0.1', port, (socket) => {
    if (!socket) {
      process.stderr.write(`cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    listenSocket = socket;
  });

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    if (listenSocket) us_listen_socket_close(listenSocket);
    process.exit(0);
  });
}
