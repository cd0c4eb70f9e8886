/**
 * Worker process entry: `node --import tsx workers/main.ts`. Started by `affstream up`; SIGTERM or
 * SIGINT stops consuming and flushes before exiting (a kill -9 loses nothing either: what was not
 * flushed is redelivered and replayed).
 */
import { pino } from 'pino';
import { bootConfig } from '../schema/bootConfig.ts';
import { RulesError } from '../schema/errors.ts';
import { startWorker } from './worker.ts';

const cfg = await bootConfig();
const log = pino({ level: cfg.logLevel, base: { proc: 'worker', pid: process.pid } });
const index = Number(process.env.AFFSTREAM_PROCESS_INDEX ?? 0);
const worker = await startWorker(cfg, { log, metricsPort: cfg.worker.metricsPort > 0 ? cfg.worker.metricsPort + index : 0 }).catch((err: unknown) => {
  // A bad attribution rules file is the operator's to fix: its reason, not a stack.
  if (!(err instanceof RulesError)) throw err;
  log.fatal({ code: err.code, key: err.key }, err.message);
  process.exit(1);
});
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    worker.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'worker stop failed');
        process.exit(1);
      },
    );
  });
}
