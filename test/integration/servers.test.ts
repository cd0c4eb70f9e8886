/**
 * The server launcher against the real servers of the run: they answer, and one of them can be
 * stopped and started again mid-run (how outage tests simulate a crash) with clients recovering.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { SERVER_NAMES, pingServer, pingServers, startServer, stopServer } from '../../cli/servers.ts';
import { loadConfig } from '../../schema/config.ts';

const cfg = inject('serverConfig');
const managed = inject('managedServers');

/** Resolves on the first status event of `type`, rejects after `ms`. */
async function nextStatus(nc: NatsConnection, type: string, ms: number): Promise<void> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${type} within ${ms} ms`)), ms).unref());
  const seen = (async () => {
    for await (const s of nc.status()) if (s.type === type) return;
  })();
  await Promise.race([seen, timeout]);
}

describe('servers', () => {
  it('answer at the provided URLs: NATS with JetStream, ClickHouse, Redis', async () => {
    const ping = await pingServers(cfg);
    for (const name of SERVER_NAMES) expect(ping[name], name).toMatchObject({ ok: true });
    expect(ping.nats.url).toBe(inject('natsUrl'));
    expect(ping.clickhouse.url).toBe(inject('clickhouseUrl'));
    expect(ping.redis.url).toBe(inject('redisUrl'));
    expect(ping.nats.detail).toContain('JetStream on');
  });

  it.runIf(managed.includes('nats'))('NATS stopped and started again: a client reconnects and JetStream works', async () => {
    const nc = await connect({ servers: inject('natsUrl'), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const disconnected = nextStatus(nc, 'disconnect', 15_000);
      expect(await stopServer(cfg, 'nats')).toBe(true);
      await disconnected;
      expect((await pingServer(cfg, 'nats', 500)).ok).toBe(false);

      const reconnected = nextStatus(nc, 'reconnect', 30_000);
      expect(await startServer(cfg, 'nats')).toBe('started');
      await reconnected;

      const sub = nc.subscribe('affstream.test.servers', { max: 1 });
      nc.publish('affstream.test.servers', 'hello');
      for await (const msg of sub) expect(msg.string()).toBe('hello');
      await (await jetstreamManager(nc)).getAccountInfo();
    } finally {
      await nc.close();
    }
  });

  it.runIf(managed.includes('clickhouse'))('ClickHouse stopped and started again answers again', async () => {
    expect(await stopServer(cfg, 'clickhouse')).toBe(true);
    expect((await pingServer(cfg, 'clickhouse', 500)).ok).toBe(false);
    expect(await startServer(cfg, 'clickhouse')).toBe('started');
    expect(await pingServer(cfg, 'clickhouse')).toMatchObject({ ok: true });
  });

  it.skipIf(cfg.redis.url !== undefined)('starting a server that already answers reuses it; stopping one this project did not start does nothing', async () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'affstream-servers-'));
    try {
      // Same ports, another data directory; no environment, which could override the directory.
      const other = loadConfig({ ...cfg, dataDir: elsewhere }, {});
      expect(await startServer(other, 'redis')).toBe('reused');
      expect(await stopServer(other, 'redis')).toBe(false);
      expect((await pingServer(cfg, 'redis')).ok).toBe(true);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
