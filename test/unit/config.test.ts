/** Boot-time config validation (docs/configuration.md): rejections name the key, the value and what is allowed. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../schema/config.ts';
import { ConfigError } from '../../schema/errors.ts';
import { thrown } from '../kit/errors.ts';

/** The ConfigError `fn` throws. */
const rejection = (fn: () => unknown): ConfigError => thrown(fn, ConfigError);

describe('loadConfig', () => {
  it('gives the defaults for an empty input and environment', () => {
    const cfg = loadConfig({}, {});
    expect(cfg).toMatchObject({ partitions: 64, dataDir: '.data', edge: { port: 8080 }, nats: { port: 14222, url: undefined } });
    expect(cfg.clickhouse.database).toBe(cfg.namespace);
  });

  it('rejects a partition count that is not a power of two, naming key, value and allowed set', () => {
    const err = rejection(() => loadConfig({ partitions: 48 }, {}));
    expect(err.key).toBe('partitions');
    expect(err.value).toBe(48);
    expect(err.message).toContain('partitions');
    expect(err.message).toContain('48');
    expect(err.message).toContain('power of two');
  });

  it('rejects a non-numeric AFFSTREAM_EDGE_PORT, naming the variable', () => {
    const err = rejection(() => loadConfig({}, { AFFSTREAM_EDGE_PORT: 'x' }));
    expect(err.key).toContain('edge.port');
    expect(err.message).toContain('AFFSTREAM_EDGE_PORT');
    expect(err.message).toContain('"x"');
    expect(err.allowed).toBe('a number');
  });

  it('rejects an unknown key and lists the known ones', () => {
    const top = rejection(() => loadConfig({ partition: 64 } as never, {}));
    expect(top.key).toBe('partition');
    expect(top.allowed).toContain('partitions');
    const nested = rejection(() => loadConfig({ edge: { prot: 80 } } as never, {}));
    expect(nested.key).toBe('edge.prot');
    expect(nested.allowed).toContain('edge.port');
  });

  it('rejects an out-of-range port from the file', () => {
    const err = rejection(() => loadConfig({ edge: { port: 70000 } }, {}));
    expect(err.key).toBe('edge.port');
    expect(err.allowed).toBe('an integer from 0 to 65535');
  });

  it('applies environment overrides over the file', () => {
    const cfg = loadConfig(
      { partitions: 64, edge: { port: 8080 } },
      { AFFSTREAM_PARTITIONS: '16', AFFSTREAM_EDGE_PORT: '9090', NATS_URL: 'nats://10.0.0.1:4222', AFFSTREAM_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1' },
    );
    expect(cfg.partitions).toBe(16);
    expect(cfg.edge.port).toBe(9090);
    expect(cfg.nats.url).toBe('nats://10.0.0.1:4222');
    expect(cfg.edge.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });

  it('validates environment overrides too', () => {
    const err = rejection(() => loadConfig({}, { NATS_URL: 'http://wrong' }));
    expect(err.key).toBe('nats.url');
    expect(err.allowed).toContain('nats');
  });
});
