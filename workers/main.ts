/**
 * Worker process entry: `node --import tsx workers/main.ts`. Started by `affstream up`; SIGTERM or
 * SIGINT stops consuming and flushes before exiting (a kill -9 loses nothing either: what was not
 * flushed is redelivered and replayed). A partition loop that dies is replaced in-process by a new
 * worker instance (workers/supervisor.ts); the health port answers throughout.
 */
import { pino } from 'pino';
import { bootConfig } from '../schema/bootConfig.ts';
import { RulesError } from '../schema/errors.ts';
import { serveWorkerHealth } from './healthServer.ts';
import { workerMetrics } from './metrics.ts';
import { WorkerSupervisor } from './supervisor.ts';
import { startWorker } from './worker.ts';

const cfg = await bootConfig();
const log = pino({ level: cfg.logLevel, base: { proc: 'worker', pid: process.pid } });
const index = Number(process.env.AFFSTREAM_PROCESS_INDEX ?? 0);
const metrics = workerMetrics({ worker: String(process.pid) });
const supervisor = new WorkerSupervisor({
  start: (quarantine) => startWorker(cfg, { log, metrics, quarantine }),
  log,
  counters: { restarts: () => metrics.restarts.inc(), quarantined: () => metrics.quarantined.inc() },
});
const server = cfg.worker.metricsPort > 0
  ? serveWorkerHealth(cfg.worker.metricsPort + index, { registry: metrics.registry, health: () => supervisor.health(), readiness: () => supervisor.readiness() }, log)
  : undefined;
/**
 * A stop waits for the last flush; with ClickHouse or NATS gone it could wait for ever. Exiting
 * then loses nothing: what was not flushed is not acknowledged, and the next worker replays it.
 */
const STOP_DEADLINE_MS = 25_000;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (!supervisor.stop()) process.exit(0);
    setTimeout(() => {
      log.error({ afterMs: STOP_DEADLINE_MS }, 'stop did not finish in time: exiting (what was not flushed is replayed by the next worker)');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
  });
}
try {
  await supervisor.run();
  server?.close();
  process.exit(0);
} catch (err) {
  // A bad attribution rules file is the operator's to fix: its reason, not a stack.
  if (err instanceof RulesError) log.fatal({ code: err.code, key: err.key }, err.message);
  else log.fatal({ err }, 'worker failed');
  process.exit(1);
}
