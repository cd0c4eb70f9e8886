/**
 * Integration-test setup, once per run: NATS, ClickHouse and Redis on the default ports with
 * their data under `.data/test`. Servers already answering (a developer's `affstream servers`)
 * or given by NATS_URL, CLICKHOUSE_URL, REDIS_URL are used as they are; the ones started here
 * are stopped at the end. Tests read what they need with `inject()`.
 */
import type { TestProject } from 'vitest/node';
import { SERVER_NAMES, startServers, type ServerName } from '../cli/servers.ts';
import { loadConfig, type ClusterConfig } from '../schema/config.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    clickhouseUrl: string;
    redisUrl: string;
    /** The config the servers were started with: pass it to stopServer/startServer for outage tests. */
    serverConfig: ClusterConfig;
    /** Servers started by this setup, which tests may stop and restart; the others are not ours to touch. */
    managedServers: ServerName[];
  }
}

/** Starts the servers; returns the teardown that stops those it started. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cfg = loadConfig({ dataDir: '.data/test' });
  const servers = await startServers(cfg, { log: (line) => process.stderr.write(`[servers] ${line}\n`) });
  project.provide('natsUrl', servers.urls.nats);
  project.provide('clickhouseUrl', servers.urls.clickhouse);
  project.provide('redisUrl', servers.urls.redis);
  project.provide('serverConfig', cfg);
  project.provide('managedServers', SERVER_NAMES.filter((name) => servers.modes[name] === 'started'));
  return () => servers.stop();
}
