/**
 * What the bare servers (uwsRedirect.ts, uwsIngest.ts) share: the port from the command line,
 * `/readyz` (so the harness waits on them the way it waits on an edge), a 404 for anything else,
 * and a listen socket closed on SIGTERM/SIGINT.
 */
import { us_listen_socket_close, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';

/** The port in `process.argv[2]`; exits with `usage` when there is none. */
export function portArgument(usage: string): number {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  return port;
}

/** Add `/readyz` and the 404 to `app`'s own routes, listen on 127.0.0.1:`port`, and stop on a signal. */
export function serveBare(app: TemplatedApp, port: number): void {
  let listenSocket: us_listen_socket | undefined;
  app
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
}
