/**
 * The ceiling of the redirect benchmark: a bare uWebSockets.js server answering `GET /c/{code}`
 * with a 302, nothing else — no catalog, no click id, no batching. Whatever the edge costs on top
 * of this is the price of affstream's own work.
 *
 * Run as its own process (`node --import tsx loadtest/bare/uwsRedirect.ts <port>`) so its CPU time
 * can be read from /proc like the edge's. `/readyz` answers 200 so the harness waits on it the
 * same way it waits on an edge.
 */
import { App } from 'uWebSockets.js';
import { portArgument, serveBare } from './serve.ts';

const port = portArgument('uwsRedirect.ts <port>');

const app = App()
  .get('/c/:code', (res, req) => {
    // Same response headers as the edge's redirect minus the cookie, so bytes on the wire are comparable.
    const location = `https://landing.example/?code=${req.getParameter(0) ?? ''}`;
    res.cork(() => {
      res.writeStatus('302 Found').writeHeader('Location', location).writeHeader('Cache-Control', 'no-store').end();
    });
  });

serveBare(app, port);
