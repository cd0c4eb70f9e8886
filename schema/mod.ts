/**
 * The public module of affstream: what a program outside the product — the benchmark harness
 * (loadtest/), an integrator's tooling — may import. Everything else a cluster does is reached
 * through its own entry points: the `affstream` CLI (bin/affstream.mjs: `up`, `servers`,
 * `import revenue`, `report`…), the processes it runs (`node --import tsx node/main.ts`,
 * `workers/main.ts`) and their HTTP APIs (docs/api.md). Files other than this one are internal:
 * their names and shapes change without notice, and a test (test/unit/harnessBoundary.test.ts)
 * keeps the harness to this list.
 *
 * The list is the contract the docs describe: the configuration (docs/configuration.md), exact
 * money, the catalog's records (docs/api.md), the NATS names and wire codecs of the event stream
 * (docs/protocol.md, docs/architecture.md), ClickHouse access and migrations, and the embedded
 * servers as `affstream up` runs them.
 */

// Configuration (docs/configuration.md).
export { clickhouseUrl, natsUrl, redisUrl, type ClusterConfig } from './config.ts';
export { bootConfig } from './bootConfig.ts';

// Money: bigint in 1/10,000 units, exact.
export { multiply, parseMoney, toDecimalText, UNIT, type Money } from './money.ts';

// The catalog (docs/api.md, “Catalog”): its records, and the store in the NATS KV bucket.
export { parseBrand, type Affiliate, type Brand, type CatalogKind, type Link, type Rate } from './catalog.ts';
export { Catalog } from './catalogStore.ts';
export type { Plan, PlanVersion, RevshareTerms } from './plans.ts';
export type { CommissionKind } from './commissions.ts';
export { isAffiliateWide, type FraudAlert, type FraudPause } from './fraud.ts';

// NATS: names of a namespace's streams and buckets, connecting, creating them; the wire codecs.
export { natsNames, type NatsNames } from './subjects.ts';
export { connectNats, ensureNats, ensureOneStream, openFraudBucket } from './natsSetup.ts';
export { decodeEventBatch, decodeForwarded, decodeResolutions, KIND_HEADER } from './eventWire.ts';

// ClickHouse: a client on the namespace's database, quoting, typed selects, the migrations.
export { clickhouse, quote, selectRows } from './clickhouse/client.ts';
export { migrate } from './clickhouse/migrate.ts';

// The embedded NATS, ClickHouse and Redis, started or reused as `affstream up` does.
export { dataDir, PROJECT_ROOT, serverPid, SERVER_NAMES, startServers, type ServerName, type Servers } from '../cli/servers.ts';
