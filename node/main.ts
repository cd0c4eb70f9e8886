/**
 * Edge process entry: `node --import tsx node/main.ts`. Started by `affstream up`; SIGTERM or
 * SIGINT flushes pending clicks (to JetStream or the spool) before exiting.
 */
import { pino } from 'pino';
import { bootConfig } from '../schema/bootConfig.ts';
import { startEdge } from './edge.ts';

const cfg = await bootConfig();
const log = pino({ level: cfg.logLevel, base: { proc: 'edge', pid: process.pid } });
const adminToken = cfg.adminToken;
if (!adminToken) {
  log.fatal('AFFSTREAM_ADMIN_TOKEN is not set (affstream up generates one)');
  process.exit(2);
}
const edge = await startEdge(cfg, { adminToken, log });
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    edge.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'edge stop failed');
        process.exit(1);
      },
    );
  });
}
